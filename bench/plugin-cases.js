'use strict';
// The plugin cases: this package (RedisTokenCache, encrypted as deployed) versus msal-node's
// DistributedCachePlugin, on the same Redis, per partition shape. Each case = { id, shape, what, bytes, verify(),
// impls: { ours, theirs } } (Impl: harness.js).
//
//   read   : per call a NEW ConfidentialClientApplication (one per request), then a token served from the cache:
//            acquireTokenSilent for a user, acquireTokenByClientCredential for app tokens. Timed end to end.
//   before : the plugin's beforeCacheAccess alone (GET, checks, msal deserialize) into a fresh msal TokenCache.
//   write  : the plugin's afterCacheAccess with cacheHasChanged=true alone, on an msal TokenCache that holds the
//            loaded partition plus a just-issued access token (msal serialize, checks, SET). Untimed before it, per
//            call, as in msal: a fresh TokenCache and the plugin's beforeCacheAccess (ours writes compare-and-set
//            against the version that loaded; without a load it writes nothing).
//   signin : per call a NEW client + acquireTokenByCode against the fake identity provider: before(true), the
//            token response, after(true). Timed end to end.
//   refresh / token : per call a NEW client and a real token response from the fake identity provider
//            (acquireTokenSilent with forceRefresh: a refresh-token grant; acquireTokenByClientCredential with
//            skipCache: a client-credentials grant). Timed: only the plugin's afterCacheAccess(changed) inside it,
//            i.e. msal's write path with no other writer (no compare-and-set conflict; counted).

const assert = require('node:assert/strict');
const { ConfidentialClientApplication, TokenCacheContext } = require('@azure/msal-node');
const { open } = require('../js/storage/stored-value');
const { distributedPlugin } = require('./distributed-baseline');
const { withNewAccessToken } = require('./msal-fixtures');
const { PREFIX, requestMark, requestsSince } = require('./environment');
const { countCompareAndSet } = require('./cas-counter');

const USER_SCOPES = ['user.read'];
const APP_SCOPES = ['https://graph.microsoft.com/.default'];
const REDIRECT_URI = 'http://localhost/auth/redirect';

function pluginCases(env) {
  const { idp, user, app, caches, client, userConfig } = env;
  const appConfig = (tenantId) => env.appConfigs.get(tenantId);
  const withPlugin = (config, cachePlugin) => ({ ...config, cache: { cachePlugin } });
  const freshTokenCache = (config) => new ConfidentialClientApplication(config).getTokenCache();
  const theirsUserPlugin = (prefix) => distributedPlugin(client, env.theirsUserKey(prefix), (id) => env.theirsUserKey(prefix, id));
  const allTenants = app.tenantIds;
  const nth = (tenants, i) => tenants[i % tenants.length];
  const bytes = { user: Buffer.byteLength(user.json), tenant: Buffer.byteLength(JSON.stringify(app.tenantCache(allTenants[0]))), blob: Buffer.byteLength(app.json) };
  let account = null; // the signed-in user's AccountInfo, as a web app keeps it in its session

  // --- the shapes of a case -----------------------------------------------------------------------------------

  /** beforeCacheAccess into a fresh TokenCache; `pluginFor(i)` builds the per-request plugin. */
  const beforeImpl = (configFor, pluginFor) => ({
    prepare: (i) => ({ plugin: pluginFor(i), context: new TokenCacheContext(freshTokenCache(configFor(i)), false) }),
    run: ({ plugin, context }) => plugin.beforeCacheAccess(context),
  });

  /**
   * afterCacheAccess(cacheHasChanged=true) on memory that holds `json` (loaded partition + a new token). Untimed, per
   * call: a fresh TokenCache, the plugin's beforeCacheAccess (what msal does before a token response; ours needs it,
   * its write is a compare-and-set against what was loaded), then `json` into msal's memory.
   */
  const writeImpl = (config, json, pluginFor) => ({
    prepare: async (i) => {
      const plugin = pluginFor(i);
      const tokenCache = freshTokenCache(config);
      await plugin.beforeCacheAccess(new TokenCacheContext(tokenCache, false));
      tokenCache.deserialize(json);
      return { plugin, context: new TokenCacheContext(tokenCache, true) };
    },
    run: ({ plugin, context }) => plugin.afterCacheAccess(context),
  });

  // --- checks run before timing ------------------------------------------------------------------------------

  async function verifyRead(impls, expectSecret) {
    const before = requestMark(idp);
    for (const impl of Object.values(impls)) {
      const result = await impl.run(undefined, 0);
      assert.equal(result.fromCache, true, 'the token must come from the cache');
      assert.equal(result.accessToken, expectSecret(0));
    }
    assert.deepEqual(requestsSince(idp, before), [], 'a cache hit must not call the identity provider');
  }

  async function verifyBefore(impls, expectAccessTokens) {
    for (const [name, impl] of Object.entries(impls)) {
      const state = await impl.prepare(0);
      await impl.run(state);
      const loaded = Object.keys(JSON.parse(state.context.tokenCache.serialize()).AccessToken).length;
      assert.equal(loaded, expectAccessTokens[name], `${name}: access tokens loaded into msal memory`);
    }
  }

  async function verifyWrite(impls, keys, secret, expectAccessTokens) {
    await Promise.all(Object.values(keys).map((key) => env.redis.del(key)));
    // The DEL reaches our in-process cache as an invalidation a moment later; a write loaded from the copy before
    // that would be based on a partition that is gone, and be dropped as signed out (by design). Wait for it.
    const localCache = caches.oursWrite.shared.context.localCache;
    for (let waited = 0; localCache && localCache.entries.has(keys.ours) && waited < 1000; waited += 5) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    for (const [name, impl] of Object.entries(impls)) {
      await impl.run(await impl.prepare(0));
      const stored = await env.redis.getBuffer(keys[name]);
      assert.ok(stored, `${name} stored ${keys[name]}`);
      const text = name === 'ours' ? open(env.keyringOf('oursWrite'), keys[name], stored).body.toString('utf8') : stored.toString('utf8');
      const tokens = Object.values(JSON.parse(text).AccessToken);
      assert.equal(tokens.length, expectAccessTokens[name], `${name}: access tokens stored`);
      assert.ok(tokens.some((t) => t.secret === secret), `${name}: the new token is stored`);
    }
  }

  // --- user: the typical session partition --------------------------------------------------------------------

  const userWrite = withNewAccessToken(user.cache, (t) => t.target === user.accessToken.target, { now: env.now, serial: 1 });
  const userImpls = {
    read: {
      ours: { run: () => caches.ours.createClientApplication(userConfig, { sessionId: 'user-read' }).acquireTokenSilent({ account, scopes: USER_SCOPES }) },
      theirs: { run: () => new ConfidentialClientApplication(withPlugin(userConfig, theirsUserPlugin(PREFIX.theirs))).acquireTokenSilent({ account, scopes: USER_SCOPES }) },
    },
    before: {
      ours: beforeImpl(() => userConfig, () => caches.ours.cachePlugin({ sessionId: 'user-read' })),
      theirs: beforeImpl(() => userConfig, () => theirsUserPlugin(PREFIX.theirs)),
    },
    write: {
      ours: writeImpl(userConfig, userWrite.json, () => caches.oursWrite.cachePlugin({ sessionId: 'user-write' })),
      theirs: writeImpl(userConfig, userWrite.json, () => theirsUserPlugin(PREFIX.theirsWrite)),
    },
  };
  const signIn = (clientFor) => ({
    prepare: () => idp.issueCode(env.signInUser, { scopes: USER_SCOPES }),
    run: (code) => clientFor().acquireTokenByCode({ code, scopes: USER_SCOPES, redirectUri: REDIRECT_URI }),
  });
  userImpls.signin = {
    ours: signIn(() => caches.oursSignIn.createClientApplication(userConfig, { sessionId: 'user-code' })),
    theirs: signIn(() => new ConfidentialClientApplication(withPlugin(userConfig, theirsUserPlugin(PREFIX.theirsSignIn)))),
  };

  // --- writes after a real token response: msal's write path, timed inside it ---------------------------------

  /** The plugin, with each afterCacheAccess that has a change to store timed into `times` (µs). */
  const timedAfter = (plugin, times) => ({
    beforeCacheAccess: (context) => plugin.beforeCacheAccess(context),
    async afterCacheAccess(context) {
      if (!context.cacheHasChanged) return plugin.afterCacheAccess(context);
      const start = process.hrtime.bigint();
      await plugin.afterCacheAccess(context);
      times.push(Number(process.hrtime.bigint() - start) / 1000);
      return undefined;
    },
  });
  /** A self-timed impl: `request(plugin => client)` runs one token request; its one changed afterCacheAccess is timed. */
  const afterTokenResponse = (pluginFor, config, request) => ({
    selfTimed: true,
    async run(_, i) {
      const times = [];
      const result = await request(new ConfidentialClientApplication(withPlugin(config, timedAfter(pluginFor(i), times))));
      assert.equal(result.fromCache, false, 'the token must come from the identity provider');
      assert.equal(times.length, 1, 'one afterCacheAccess with a change per token response');
      return times[0];
    },
  });
  // Ours' compare-and-set results while these cases run: a write with no other writer never conflicts.
  const tokenWrites = countCompareAndSet(caches.oursToken);
  let refreshAccount = null;
  const refreshImpls = {
    ours: afterTokenResponse(() => caches.oursToken.cachePlugin({ sessionId: 'user-refresh' }), userConfig,
      (cca) => cca.acquireTokenSilent({ account: refreshAccount, scopes: USER_SCOPES, forceRefresh: true })),
    theirs: afterTokenResponse(() => theirsUserPlugin(PREFIX.theirsToken), userConfig,
      (cca) => cca.acquireTokenSilent({ account: refreshAccount, scopes: USER_SCOPES, forceRefresh: true })),
  };
  const tokenTenant = app.tenantIds[1];
  const clientCredentialImpls = {
    ours: afterTokenResponse(() => caches.oursToken.cachePlugin({ tenantId: tokenTenant }, env.clientId), appConfig(tokenTenant),
      (cca) => cca.acquireTokenByClientCredential({ scopes: APP_SCOPES, skipCache: true })),
    theirs: afterTokenResponse(() => distributedPlugin(client, env.theirsAppKey(PREFIX.theirsToken, tokenTenant)), appConfig(tokenTenant),
      (cca) => cca.acquireTokenByClientCredential({ scopes: APP_SCOPES, skipCache: true })),
  };
  const tokenKeys = {
    user: { ours: env.oursKey('oursToken', { sessionId: 'user-refresh' }), theirs: env.theirsUserKey(PREFIX.theirsToken) },
    tenant: { ours: env.oursKey('oursToken', { tenantId: tokenTenant }), theirs: env.theirsAppKey(PREFIX.theirsToken, tokenTenant) },
  };
  /** The msal JSON `name` (ours, theirs) stored at its key in `keys`. */
  async function storedJson(keys, name) {
    const value = await env.redis.getBuffer(keys[name]);
    assert.ok(value, `${name} stored ${keys[name]}`);
    return name === 'ours' ? open(env.keyringOf('oursToken'), keys.ours, value).body.toString('utf8') : value.toString('utf8');
  }
  /** One token request per side, outside timing: the new access token must be what each side stored. */
  async function verifyTokenWrite(impls, keys, request) {
    for (const [name, pluginFor] of Object.entries(impls)) {
      const result = await request(pluginFor);
      const stored = JSON.parse(await storedJson(keys, name));
      assert.ok(Object.values(stored.AccessToken).some((t) => t.secret === result.accessToken), `${name}: the new token is stored`);
    }
    const before = { ...tokenWrites.counts };
    return () => ({ oursCompareAndSet: tokenWrites.counts.calls - before.calls, oursConflicts: tokenWrites.counts.conflicts - before.conflicts });
  }

  // --- app tokens: one tenant per partition, and 1,000 tenants in one value -----------------------------------

  const appRead = (tenants, oursCache, theirsKey) => ({
    ours: {
      run: (_, i) => {
        const tenantId = nth(tenants, i);
        return oursCache.createClientApplication(appConfig(tenantId), { tenantId }).acquireTokenByClientCredential({ scopes: APP_SCOPES });
      },
    },
    theirs: {
      run: (_, i) => {
        const plugin = distributedPlugin(client, theirsKey(nth(tenants, i)));
        return new ConfidentialClientApplication(withPlugin(appConfig(nth(tenants, i)), plugin)).acquireTokenByClientCredential({ scopes: APP_SCOPES });
      },
    },
  });
  const appBefore = (tenants, oursCache, theirsKey) => ({
    ours: beforeImpl((i) => appConfig(nth(tenants, i)), (i) => oursCache.cachePlugin({ tenantId: nth(tenants, i) }, env.clientId)),
    theirs: beforeImpl((i) => appConfig(nth(tenants, i)), (i) => distributedPlugin(client, theirsKey(nth(tenants, i)))),
  });
  // Memory = `memory` with the write tenant's token just renewed; ours always stores that one tenant.
  const writeTenant = allTenants[0];
  const appWrite = (memory, theirsKey) => {
    const { json, secret } = withNewAccessToken(memory, (t) => t.realm === writeTenant, { now: env.now, serial: 2 });
    return {
      secret,
      impls: {
        ours: writeImpl(appConfig(writeTenant), json, () => caches.oursWrite.cachePlugin({ tenantId: writeTenant }, env.clientId)),
        theirs: writeImpl(appConfig(writeTenant), json, () => distributedPlugin(client, theirsKey)),
      },
    };
  };
  const appSecret = (tenants) => (i) => Object.values(app.cache.AccessToken).find((t) => t.realm === nth(tenants, i)).secret;
  const perTenantKey = (tenant) => env.theirsAppKey(PREFIX.theirs, tenant);
  const blobKey = () => env.theirsAppKey(PREFIX.theirs);
  const oursWriteKey = env.oursKey('oursWrite', { tenantId: writeTenant });
  const tenantWrite = appWrite(app.tenantCache(writeTenant), env.theirsAppKey(PREFIX.theirsWrite, writeTenant));
  const blobWrite = appWrite(app.cache, env.theirsAppKey(PREFIX.theirsWrite));
  const tenantImpls = { read: appRead(allTenants, caches.ours, perTenantKey), before: appBefore(allTenants, caches.ours, perTenantKey) };
  const blobImpls = { read: appRead(env.blobTenants, caches.oursBlob, blobKey), before: appBefore(env.blobTenants, caches.oursBlob, blobKey) };

  const USER = 'user';
  const USER_SIGNED_IN = 'user, as msal wrote it';
  const TENANT = 'app, 1 tenant/partition';
  const BLOB = 'app, 1,000 tenants/value';
  const CLIENT_CREDENTIAL_HIT = 'new client + acquireTokenByClientCredential (hit)';
  return [
    { id: 'user.read', shape: USER, bytes: bytes.user, what: 'new client + acquireTokenSilent (cache hit)', impls: userImpls.read,
      async verify() {
        account = await caches.ours.createClientApplication(userConfig, { sessionId: 'user-read' }).getTokenCache().getAccountByHomeId(user.homeAccountId);
        assert.ok(account, 'the seeded account is visible to msal');
        await verifyRead(userImpls.read, () => user.accessToken.secret);
      } },
    { id: 'user.before', shape: USER, bytes: bytes.user, what: 'beforeCacheAccess', impls: userImpls.before,
      verify: () => verifyBefore(userImpls.before, { ours: 3, theirs: 3 }) },
    { id: 'user.write', shape: USER, bytes: bytes.user, what: 'afterCacheAccess (changed)', impls: userImpls.write,
      verify: () => verifyWrite(userImpls.write, { ours: env.oursKey('oursWrite', { sessionId: 'user-write' }), theirs: env.theirsUserKey(PREFIX.theirsWrite) }, userWrite.secret, { ours: 3, theirs: 3 }) },
    { id: 'user.signin', shape: USER, bytes: bytes.user, grants: ['authorization_code'], what: 'new client + acquireTokenByCode', impls: userImpls.signin,
      async verify() {
        for (const impl of Object.values(userImpls.signin)) assert.equal((await impl.run(impl.prepare())).account.homeAccountId, user.homeAccountId);
      } },
    { id: 'user.refresh', shape: USER_SIGNED_IN, grants: ['authorization_code', 'refresh_token'], what: 'afterCacheAccess after a token response (refresh)', impls: refreshImpls,
      async verify() {
        // A real sign-in per side (the fake IdP's refresh tokens are only valid once it issued them).
        const signIn = async (pluginFor) => {
          const code = idp.issueCode(env.signInUser, { scopes: USER_SCOPES });
          return new ConfidentialClientApplication(withPlugin(userConfig, pluginFor())).acquireTokenByCode({ code, scopes: USER_SCOPES, redirectUri: REDIRECT_URI });
        };
        const plugins = { ours: () => caches.oursToken.cachePlugin({ sessionId: 'user-refresh' }), theirs: () => theirsUserPlugin(PREFIX.theirsToken) };
        for (const pluginFor of Object.values(plugins)) refreshAccount = (await signIn(pluginFor)).account;
        const refresh = (pluginFor) => new ConfidentialClientApplication(withPlugin(userConfig, pluginFor()))
          .acquireTokenSilent({ account: refreshAccount, scopes: USER_SCOPES, forceRefresh: true });
        this.stats = await verifyTokenWrite(plugins, tokenKeys.user, refresh);
        this.bytes = Buffer.byteLength(await storedJson(tokenKeys.user, 'theirs'));
      } },
    { id: 'tenant.read', shape: TENANT, bytes: bytes.tenant, what: CLIENT_CREDENTIAL_HIT, impls: tenantImpls.read,
      verify: () => verifyRead(tenantImpls.read, appSecret(allTenants)) },
    { id: 'tenant.before', shape: TENANT, bytes: bytes.tenant, what: 'beforeCacheAccess', impls: tenantImpls.before,
      verify: () => verifyBefore(tenantImpls.before, { ours: 1, theirs: 1 }) },
    { id: 'tenant.write', shape: TENANT, bytes: bytes.tenant, what: 'afterCacheAccess (changed)', impls: tenantWrite.impls,
      verify: () => verifyWrite(tenantWrite.impls, { ours: oursWriteKey, theirs: env.theirsAppKey(PREFIX.theirsWrite, writeTenant) }, tenantWrite.secret, { ours: 1, theirs: 1 }) },
    { id: 'tenant.token', shape: TENANT, grants: ['client_credentials'], what: 'afterCacheAccess after a token response (client cred.)', impls: clientCredentialImpls,
      async verify() {
        const plugins = {
          ours: () => caches.oursToken.cachePlugin({ tenantId: tokenTenant }, env.clientId),
          theirs: () => distributedPlugin(client, env.theirsAppKey(PREFIX.theirsToken, tokenTenant)),
        };
        const request = (pluginFor) => new ConfidentialClientApplication(withPlugin(appConfig(tokenTenant), pluginFor()))
          .acquireTokenByClientCredential({ scopes: APP_SCOPES, skipCache: true });
        this.stats = await verifyTokenWrite(plugins, tokenKeys.tenant, request);
        this.bytes = Buffer.byteLength(await storedJson(tokenKeys.tenant, 'theirs'));
      } },
    // Ours reads a value it never writes here (see seed.js): the same 1,000-tenant bytes, sealed as ours.
    { id: 'blob.read', shape: BLOB, bytes: bytes.blob, what: CLIENT_CREDENTIAL_HIT, impls: blobImpls.read,
      verify: () => verifyRead(blobImpls.read, appSecret(env.blobTenants)) },
    { id: 'blob.before', shape: BLOB, bytes: bytes.blob, what: 'beforeCacheAccess', impls: blobImpls.before,
      verify: () => verifyBefore(blobImpls.before, { ours: allTenants.length, theirs: allTenants.length }) },
    // Ours keeps the one tenant its partition is for, and warns (on every call) about the 999 others in memory.
    { id: 'blob.write', shape: BLOB, bytes: bytes.blob, warns: true, what: 'afterCacheAccess (changed; ours stores 1 tenant)', impls: blobWrite.impls,
      verify: () => verifyWrite(blobWrite.impls, { ours: oursWriteKey, theirs: env.theirsAppKey(PREFIX.theirsWrite) }, blobWrite.secret, { ours: 1, theirs: allTenants.length }) },
  ];
}

module.exports = { pluginCases };
