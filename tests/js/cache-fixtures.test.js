'use strict';
// The fixtures of tests/support/cache-fixtures.js are what msal-node writes: each is compared byte for byte with the
// cache a real ConfidentialClientApplication serializes after the same sign-ins, at the same instant, against the fake
// identity provider. The token secrets are the one thing that cannot match (the provider's are random and signed),
// so each is replaced by a placeholder on both sides, except the id token's claims (its middle segment): those must
// match too, since msal builds the account from them.

const { ConfidentialClientApplication } = require('@azure/msal-node');
const { createFakeIdentityProvider } = require('../support/fake-identity-provider');
const { emptyCache, addUser, addAppToken, typicalUserCache, guid } = require('../support/cache-fixtures');

const NOW = 1_800_000_000;
const CLIENT = guid(7);
const TENANT = guid(2);
const REDIRECT_URI = 'http://localhost/auth/redirect';
const GRAPH_DEFAULT = ['https://graph.microsoft.com/.default'];

// msal and the fake identity provider read the time from Date, which stands still at NOW; timers stay real.
beforeEach(() => {
  jest.useFakeTimers({
    now: NOW * 1000,
    doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate',
      'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'],
  });
});
afterEach(() => jest.useRealTimers());

function msalClient() {
  const idp = createFakeIdentityProvider({ clientId: CLIENT, tenantId: TENANT });
  return { idp, cca: new ConfidentialClientApplication(idp.msalConfig()) };
}

/** A sign-in for the first scope set, then a silent call (a refresh token redemption) for each other one. */
async function signIn({ idp, cca }, user, scopeSets) {
  const [first, ...others] = scopeSets;
  const code = idp.issueCode(idp.addUser(user), { scopes: first });
  const { account } = await cca.acquireTokenByCode({ code, scopes: first, redirectUri: REDIRECT_URI });
  for (const scopes of others) await cca.acquireTokenSilent({ account, scopes });
}

const appToken = ({ cca }, tenant) =>
  cca.acquireTokenByClientCredential({ scopes: GRAPH_DEFAULT, authority: `https://login.microsoftonline.com/${tenant}` });

/** The cache text with the secrets replaced, one line per field (same content and order, readable diffs). */
function withoutSecrets(text) {
  const cache = JSON.parse(text);
  for (const section of ['IdToken', 'AccessToken', 'RefreshToken']) {
    for (const entry of Object.values(cache[section])) {
      entry.secret = section === 'IdToken' ? `<header>.${entry.secret.split('.')[1]}.<signature>` : '<secret>';
    }
  }
  return JSON.stringify(cache, null, 1);
}

describe('fixtures are what msal-node 7 serializes', () => {
  test('typicalUserCache: one user signed in, then two more scope sets acquired silently', async () => {
    const fixture = typicalUserCache({ clientId: CLIENT, now: NOW });
    const msal = msalClient();
    await signIn(msal, fixture.user, fixture.scopeSets);

    expect(withoutSecrets(msal.cca.getTokenCache().serialize())).toBe(withoutSecrets(JSON.stringify(fixture.cache)));
  });

  test('two users and two tenants\' app tokens in one cache, non-ASCII names, a longer token lifetime', async () => {
    const alice = { oid: guid(11), tid: TENANT, username: 'alice@contoso.example', name: 'Alice' };
    const bob = { oid: guid(12), tid: TENANT, username: 'bob@contoso.example', name: 'Zoë "Bob" Ångström 日本' };
    const fixture = emptyCache();
    addUser(fixture, { ...alice, clientId: CLIENT, now: NOW, scopeSets: [['user.read'], ['api://orders/orders.read']] });
    addUser(fixture, { ...bob, clientId: CLIENT, now: NOW });
    addAppToken(fixture, { tenant: guid(21), clientId: CLIENT, now: NOW, expiresIn: 5000 });
    addAppToken(fixture, { tenant: guid(22), clientId: CLIENT, now: NOW, expiresIn: 5000 });

    const msal = msalClient();
    await signIn(msal, alice, [['user.read'], ['api://orders/orders.read']]);
    await signIn(msal, bob, [['user.read']]);
    msal.idp.setAccessTokenLifetime(5000);
    await appToken(msal, guid(21));
    await appToken(msal, guid(22));

    expect(withoutSecrets(msal.cca.getTokenCache().serialize())).toBe(withoutSecrets(JSON.stringify(fixture)));
  });
});

test('the first msal write over a fixture-seeded cache replaces its entries and adds none beside them', async () => {
  const { cache, user, scopeSets } = typicalUserCache({ clientId: CLIENT, now: NOW });
  addAppToken(cache, { tenant: TENANT, clientId: CLIENT, now: NOW });
  const msal = msalClient();
  msal.cca.getTokenCache().deserialize(JSON.stringify(cache));

  // The same user signs in again, and the app token is fetched anew: msal writes every kind of entry once.
  await signIn(msal, user, [scopeSets[0]]);
  await msal.cca.acquireTokenByClientCredential({ scopes: GRAPH_DEFAULT, skipCache: true });
  expect(msal.idp.requests.filter((r) => r.method === 'POST')).toHaveLength(2);

  const written = JSON.parse(msal.cca.getTokenCache().serialize());
  const keysOf = (c) => Object.fromEntries(Object.entries(c).map(([section, entries]) => [section, Object.keys(entries)]));
  expect(keysOf(written)).toEqual(keysOf(cache));
  // msal did write over them: the refresh token and the two refreshed access tokens are the provider's now.
  expect(Object.values(written.RefreshToken)[0].secret).toMatch(/^dev-rt-/);
  const replaced = Object.keys(cache.AccessToken).filter((key) => written.AccessToken[key].secret !== cache.AccessToken[key].secret);
  expect(replaced).toHaveLength(2);
});
