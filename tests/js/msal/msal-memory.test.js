'use strict';
// js/msal/msal-memory.js sets msal-node's in-memory cache to a loaded partition without msal's repeated parsing: the
// first use of a loaded partition goes through msal's deserialize() and keeps msal's entities; later uses hand msal
// copies of them. What msal then holds, and what its serialize() gives, must be exactly what deserialize() would
// have given, and no client may see another client's changes. Caches here are made by msal itself (real
// ConfidentialClientApplications against the in-process fake identity provider).

const { ConfidentialClientApplication } = require('@azure/msal-node');
const { replaceMsalMemory, serializeMsalMemory } = require('../../../js/msal/msal-memory');
const { createFakeIdentityProvider } = require('../../support/fake-identity-provider');

const CLIENT_ID = '00000000-0000-4000-8000-0000000a3e01';
const REDIRECT_URI = 'http://localhost/auth/redirect';

let idp;
const caches = {};

/** A loaded partition as partition-reader.js returns it (only the fields msal-memory.js reads matter). */
const loadedOf = (body) => ({ etag: 'e', body, createdAt: 1, owner: null, removed: false });
const newTokenCache = () => new ConfidentialClientApplication(idp.msalConfig()).getTokenCache();
/** msal's memory without the per-deserialize timestamp (msal stamps lastUpdatedAt = now on every entity). */
const memoryOf = (tokenCache) =>
  JSON.parse(JSON.stringify(tokenCache.getKVStore(), (name, value) => (name === 'lastUpdatedAt' ? undefined : value)));

beforeAll(async () => {
  idp = createFakeIdentityProvider({ clientId: CLIENT_ID });
  const signIn = async (scopes) => {
    const client = new ConfidentialClientApplication(idp.msalConfig());
    const { account } = await client.acquireTokenByCode({ code: idp.issueCode(idp.addUser(), { scopes }), scopes, redirectUri: REDIRECT_URI });
    return { client, account };
  };
  caches.user = (await signIn(['api://memory/A.Read'])).client.getTokenCache().serialize();
  const two = await signIn(['api://memory/A.Read']);
  await two.client.acquireTokenSilent({ account: two.account, scopes: ['api://memory/B.Read'] }); // a second token
  caches.twoTokens = two.client.getTokenCache().serialize();
  const app = new ConfidentialClientApplication(idp.msalConfig());
  await app.acquireTokenByClientCredential({ scopes: ['api://memory/.default'] });
  caches.app = app.getTokenCache().serialize();
});

describe.each(['user', 'twoTokens', 'app'])('a %s cache', (name) => {
  test("msal's memory and serialize() are what deserialize() gives, on first and on later uses", () => {
    const body = caches[name];
    const reference = newTokenCache();
    reference.deserialize(body);
    const loaded = loadedOf(body);
    for (let use = 1; use <= 3; use += 1) {
      const tokenCache = newTokenCache();
      replaceMsalMemory(tokenCache, loaded, { keep: true });
      expect(memoryOf(tokenCache)).toEqual(memoryOf(reference));
      expect(JSON.parse(serializeMsalMemory(tokenCache, body))).toEqual(JSON.parse(reference.serialize()));
    }
  });

  test('a client reused for another partition holds only that one, and serializes only that one', () => {
    const tokenCache = newTokenCache();
    replaceMsalMemory(tokenCache, loadedOf(caches[name]), { keep: true });
    replaceMsalMemory(tokenCache, loadedOf(caches.user === caches[name] ? caches.app : caches.user), { keep: true });
    const other = newTokenCache();
    other.deserialize(caches.user === caches[name] ? caches.app : caches.user);
    expect(memoryOf(tokenCache)).toEqual(memoryOf(other));
    replaceMsalMemory(tokenCache, loadedOf(null), { keep: true }); // a missing or removed partition
    expect(memoryOf(tokenCache)).toEqual({});
    expect(JSON.parse(serializeMsalMemory(tokenCache, null))).toEqual(JSON.parse(newTokenCache().serialize()));
  });
});

test("clients share no entity: one client's change reaches neither the kept form nor another client", () => {
  const loaded = loadedOf(caches.twoTokens);
  const first = newTokenCache();
  replaceMsalMemory(first, loaded, { keep: true });
  const second = newTokenCache();
  replaceMsalMemory(second, loaded, { keep: true });
  const third = newTokenCache();
  replaceMsalMemory(third, loaded, { keep: true });
  const expected = memoryOf(third);
  for (const entity of Object.values(second.getKVStore())) {
    entity.secret = 'changed';
    if (entity.tenantProfiles) entity.tenantProfiles.push({ tenantId: 'changed' });
  }
  const fourth = newTokenCache();
  replaceMsalMemory(fourth, loaded, { keep: true });
  expect(memoryOf(fourth)).toEqual(expected);
  expect(memoryOf(third)).toEqual(expected);
});

test('acquireTokenSilent from a kept partition parses nothing: neither the plugin nor overwriteCache parses the JSON', async () => {
  const body = caches.user;
  const loaded = loadedOf(body);
  const account = Object.values(JSON.parse(body).Account)[0];
  const scopes = [Object.values(JSON.parse(body).AccessToken)[0].target.split(' ')[0]];
  const plugin = {
    async beforeCacheAccess(context) { replaceMsalMemory(context.tokenCache, loaded, { keep: true }); },
    async afterCacheAccess() {},
  };
  const silent = async () => {
    const client = new ConfidentialClientApplication({ ...idp.msalConfig(), cache: { cachePlugin: plugin } });
    const found = await client.getTokenCache().getAccountByHomeId(account.home_account_id);
    return client.acquireTokenSilent({ account: found, scopes });
  };
  expect((await silent()).fromCache).toBe(true); // the first use parses (msal's deserialize)
  const parse = jest.spyOn(JSON, 'parse');
  try {
    const result = await silent();
    expect(result.fromCache).toBe(true);
    expect(parse.mock.calls.filter(([text]) => text === body)).toEqual([]);
  } finally {
    parse.mockRestore();
  }
});

test('keep: false keeps nothing: every use goes through deserialize()', () => {
  const loaded = loadedOf(caches.user);
  const tokenCache = newTokenCache();
  const deserialize = jest.spyOn(tokenCache, 'deserialize');
  replaceMsalMemory(tokenCache, loaded, { keep: false });
  replaceMsalMemory(tokenCache, loaded, { keep: false });
  expect(deserialize).toHaveBeenCalledTimes(2);
});

test('an msal-node that does not keep its snapshot in cacheSnapshot: msal\'s own deserialize() every time', () => {
  jest.isolateModules(() => {
    const isolated = require('../../../js/msal/msal-memory');
    const loaded = loadedOf(caches.user);
    const renamed = (tokenCache) => {
      const original = tokenCache.deserialize.bind(tokenCache);
      tokenCache.deserialize = jest.fn((json) => {
        original(json);
        tokenCache.renamedSnapshot = tokenCache.cacheSnapshot;
        delete tokenCache.cacheSnapshot;
      });
      return tokenCache;
    };
    for (let use = 1; use <= 2; use += 1) {
      const tokenCache = renamed(newTokenCache());
      isolated.replaceMsalMemory(tokenCache, loaded, { keep: true });
      expect(tokenCache.deserialize).toHaveBeenCalledTimes(1);
      expect(tokenCache.cacheSnapshot).toBeUndefined(); // left alone
    }
  });
});
