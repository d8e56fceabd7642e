#!/usr/bin/env node
'use strict';
// node bench/compare-versions.js <other checkout> [--quick]
//
// Diagnostic: this package versus another version of it (a checkout with its wasm core built, e.g.
// `git archive <commit> | tar -x -C /tmp/old && cd /tmp/old && ln -s $PWD/node_modules . && npm run build`), in one
// process, on one Redis, interleaved by the same harness as `npm run bench`. The ours/DCP ratios of two separate
// runs move with the machine's load (the Redis round trip, common to both sides, dilutes every difference); this
// measures the versions against each other directly. Cases: the plugin's read, before and write, per partition
// (user, app 1 tenant), as in plugin-cases.js; every read is checked to be a cache hit first; ownWrite+read: the
// first read after this server's own write (afterCacheAccess), once that write's invalidation has reached its
// in-process cache (now an etag check, one round trip; before, an L1 hit); for the user, also a full refresh and a
// read without the in-process cache, as in l1-cases.js. The other version gets encryptionKeys if it knows them, else
// none. Writes test-output/compare-versions.json.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { ConfidentialClientApplication, TokenCacheContext } = require('@azure/msal-node');
const { measurePair } = require('./harness');
const { createEnvironment, SECRETS } = require('./environment');
const { writeThrough } = require('./seed');
const { withNewAccessToken } = require('./msal-fixtures');
const { fmtUs } = require('./report');

const args = process.argv.slice(2);
const otherDir = args.find((a) => !a.startsWith('--'));
const quick = args.includes('--quick');
const BUDGET = quick ? { budgetMs: 800, warmupMs: 150, minSamples: 8 } : { budgetMs: 7000, warmupMs: 800, minSamples: 40 };
const OUTPUT = path.join(__dirname, '..', 'test-output', 'compare-versions.json');
const USER_SCOPES = ['user.read'];
const APP_SCOPES = ['https://graph.microsoft.com/.default'];

function construct(RedisTokenCache, options) {
  try {
    return new RedisTokenCache({ ...options, ...SECRETS });
  } catch (err) {
    if (!/unknown option "encryptionKeys"/.test(err.message)) throw err;
    return new RedisTokenCache(options);
  }
}

/**
 * The user paths of l1-cases.js, end to end: `refresh` (a new client + acquireTokenSilent({ forceRefresh: true }), a
 * refresh-token grant at the fake identity provider, with the in-process cache on) and `readNoL1` (a cache-hit read
 * with localCache: false: every read goes to Redis). Each version on sessions of its own.
 */
const opened = []; // caches made here, closed at the end

async function userPathCases(env, caches, other, account) {
  const scopes = ['user.read'];
  const noL1 = {
    this: new (require('../js').RedisTokenCache)({ redis: env.redis, prefix: 'bench:cmp-nol1:', ...SECRETS, localCache: false }),
    other: construct(other.RedisTokenCache, { redis: env.redis, prefix: 'bench:other-nol1:', localCache: false }),
  };
  opened.push(...Object.values(noL1));
  const per = (make) => Object.fromEntries(Object.keys(caches).map((name) => [name, make(name)]));
  const signedIn = {};
  for (const name of Object.keys(caches)) {
    const code = env.idp.issueCode(env.signInUser, { scopes });
    signedIn[name] = (await caches[name].createClientApplication(env.userConfig, { sessionId: `cmp-refresh-${name}` })
      .acquireTokenByCode({ code, scopes, redirectUri: 'http://localhost/auth/redirect' })).account;
    await writeThrough(noL1[name].cachePlugin({ sessionId: 'cmp-nol1' }), env.userConfig, env.user.json);
  }
  const userScopes = USER_SCOPES;
  return {
    refresh: per((name) => ({
      run: async () => {
        const result = await caches[name].createClientApplication(env.userConfig, { sessionId: `cmp-refresh-${name}` })
          .acquireTokenSilent({ account: signedIn[name], scopes, forceRefresh: true });
        assert.equal(result.fromCache, false, 'a refresh');
      },
    })),
    readNoL1: per((name) => ({
      run: async () => {
        const result = await noL1[name].createClientApplication(env.userConfig, { sessionId: 'cmp-nol1' }).acquireTokenSilent({ account, scopes: userScopes });
        assert.equal(result.fromCache, true, 'a cache hit');
      },
    })),
  };
}

async function main() {
  if (!otherDir) throw new Error('usage: node bench/compare-versions.js <other checkout> [--quick]');
  const other = require(path.resolve(otherDir, 'js'));
  const env = await createEnvironment({ tenants: 10 });
  const results = [];
  try {
    const logger = { warn: (message) => { throw new Error(`a plugin warned: ${message}`); } };
    const caches = {
      this: env.caches.oursWrite,
      other: construct(other.RedisTokenCache, { redis: env.redis, prefix: 'bench:other:', logger }),
    };
    const tenant = env.app.tenantIds[0];
    const tenantConfig = env.appConfigs.get(tenant);
    const tenantJson = JSON.stringify(env.app.tenantCache(tenant));
    const selectors = { user: { sessionId: 'cmp-user' }, tenant: { tenantId: tenant } };
    for (const cache of Object.values(caches)) {
      await writeThrough(cache.cachePlugin(selectors.user), env.userConfig, env.user.json);
      await writeThrough(cache.cachePlugin(selectors.tenant, env.clientId), tenantConfig, tenantJson);
    }
    const account = await caches.this.createClientApplication(env.userConfig, { sessionId: 'cmp-user' }).getTokenCache().getAccountByHomeId(env.user.homeAccountId);
    const fresh = (config) => new ConfidentialClientApplication(config).getTokenCache();
    const shapes = {
      user: { config: env.userConfig, selector: selectors.user, clientId: undefined, json: withNewAccessToken(env.user.cache, () => true, { now: env.now, serial: 5 }).json,
        read: (cca) => cca.acquireTokenSilent({ account, scopes: USER_SCOPES }) },
      tenant: { config: tenantConfig, selector: selectors.tenant, clientId: env.clientId, json: withNewAccessToken(env.app.tenantCache(tenant), () => true, { now: env.now, serial: 5 }).json,
        read: (cca) => cca.acquireTokenByClientCredential({ scopes: APP_SCOPES }) },
    };
    for (const [shape, s] of Object.entries(shapes)) {
      const per = (make) => Object.fromEntries(Object.entries(caches).map(([name, cache]) => [name, make(cache)]));
      const cases = {
        read: per((cache) => ({ run: () => s.read(cache.createClientApplication(s.config, s.selector)) })),
        before: per((cache) => ({
          prepare: () => ({ plugin: cache.cachePlugin(s.selector, s.clientId), context: new TokenCacheContext(fresh(s.config), false) }),
          run: ({ plugin, context }) => plugin.beforeCacheAccess(context),
        })),
        write: per((cache) => ({
          prepare: async () => {
            const plugin = cache.cachePlugin(s.selector, s.clientId);
            const tokenCache = fresh(s.config);
            await plugin.beforeCacheAccess(new TokenCacheContext(tokenCache, false));
            tokenCache.deserialize(s.json);
            return { plugin, context: new TokenCacheContext(tokenCache, true) };
          },
          run: ({ plugin, context }) => plugin.afterCacheAccess(context),
        })),
        // Untimed: the write, and the wait for its invalidation; timed: the next request's read.
        'ownWrite+read': per((cache) => ({
          prepare: async () => {
            const plugin = cache.cachePlugin(s.selector, s.clientId);
            const tokenCache = fresh(s.config);
            await plugin.beforeCacheAccess(new TokenCacheContext(tokenCache, false));
            tokenCache.deserialize(s.json);
            const before = cache.stats().localCache.invalidations;
            await plugin.afterCacheAccess(new TokenCacheContext(tokenCache, true));
            for (let waited = 0; cache.stats().localCache.invalidations === before; waited += 1) {
              if (waited > 2000) throw new Error(`${shape}: the write's invalidation never came`);
              await new Promise((resolve) => setTimeout(resolve, 1));
            }
            return null;
          },
          run: () => s.read(cache.createClientApplication(s.config, s.selector)),
        })),
      };
      if (shape === 'user') Object.assign(cases, await userPathCases(env, caches, other, account));
      for (const impl of Object.values(cases.read)) assert.equal((await impl.run()).fromCache, true, `${shape}: a cache hit`);
      for (const [what, impls] of Object.entries(cases)) {
        const measured = await measurePair(impls, BUDGET);
        results.push({ id: `${shape}.${what}`, ...measured });
        process.stderr.write(`  ${shape}.${what.padEnd(8)} this ${measured.this.medianUs.toFixed(1)} µs, other ${measured.other.medianUs.toFixed(1)} µs, ratio ${measured.ratio.toFixed(2)}\n`);
      }
    }
  } finally {
    await Promise.all(opened.map((cache) => cache.close()));
    await env.stop();
  }
  fs.mkdirSync(path.dirname(OUTPUT), { recursive: true });
  fs.writeFileSync(OUTPUT, `${JSON.stringify({ date: new Date().toISOString(), other: path.resolve(otherDir), quick, results }, null, 2)}\n`);
  console.log(`this checkout vs ${path.resolve(otherDir)} (median µs per call; ratio = this / other)`);
  for (const r of results) {
    console.log(`${r.id.padEnd(20)} ${fmtUs(r.this.medianUs).padStart(8)} ${fmtUs(r.other.medianUs).padStart(8)} ${r.ratio.toFixed(2).padStart(6)}x ${(r.this.medianUs - r.other.medianUs >= 0 ? '+' : '') + (r.this.medianUs - r.other.medianUs).toFixed(1)} µs  n=${r.this.samples}/${r.other.samples}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
