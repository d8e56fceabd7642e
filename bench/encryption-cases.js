'use strict';
// The cost of encryption: the same plugin calls on the same partitions (8 KB and 100 KB of msal JSON, one user),
// with `encryptionKeys` (AES-256-GCM, the deployed configuration) versus `insecurePlaintextStorage: true` (no
// encryption; the value still carries a SHA-256 over key, header and content, which detects accidents only). Both
// sides are this package: the difference is the encryption, nothing else (key names are an HMAC on one side and a
// plain SHA-256 on the other, computed the same way per call).
//
//   enc.read.*   : beforeCacheAccess on a cache hit into a fresh msal TokenCache (the read script, open(), msal
//                  deserialize), as in plugin-cases' `before`.
//   enc.write.*  : afterCacheAccess(changed) after a beforeCacheAccess (untimed), as in plugin-cases' `write`.
//   crypto.*     : js/storage/stored-value.js alone: seal() (what a write adds: encrypt or digest, and the header) and open()
//                  (what a read adds: decrypt and verify, or the digest check), with a keyring from js/storage/keyring.js.
//
// ratio = encrypted / plaintext; delta = encrypted - plaintext, in µs per operation (medians).

const assert = require('node:assert/strict');
const { ConfidentialClientApplication, TokenCacheContext } = require('@azure/msal-node');
const { createKeyring } = require('../js/storage/keyring');
const { seal, open, TYPE } = require('../js/storage/stored-value');
const { withNewAccessToken } = require('./msal-fixtures');

const NAMES = ['encrypted', 'plaintext'];

function encryptionCases(env) {
  const { caches, userConfig } = env;
  const freshTokenCache = () => new ConfidentialClientApplication(userConfig).getTokenCache();
  const side = { encrypted: 'ours', plaintext: 'oursPlain' };
  const cases = [];
  for (const sized of env.sizedUsers) {
    const read = Object.fromEntries(NAMES.map((name) => [name, {
      prepare: () => ({
        plugin: caches[side[name]].cachePlugin({ sessionId: sized.readSession }),
        context: new TokenCacheContext(freshTokenCache(), false),
      }),
      run: ({ plugin, context }) => plugin.beforeCacheAccess(context),
    }]));
    const { json, secret } = withNewAccessToken(sized.cache, () => true, { now: env.now, serial: 3 });
    const write = Object.fromEntries(NAMES.map((name) => [name, {
      prepare: async () => {
        const plugin = caches[side[name]].cachePlugin({ sessionId: sized.writeSession });
        const tokenCache = freshTokenCache();
        await plugin.beforeCacheAccess(new TokenCacheContext(tokenCache, false));
        tokenCache.deserialize(json);
        return { plugin, context: new TokenCacheContext(tokenCache, true) };
      },
      run: ({ plugin, context }) => plugin.afterCacheAccess(context),
    }]));
    const stored = async (name, sessionId) => {
      const key = env.oursKey(side[name], { sessionId });
      return JSON.parse(open(env.keyringOf(side[name]), key, await env.redis.getBuffer(key)).body.toString('utf8'));
    };
    cases.push(
      { id: `enc.read.${sized.name}`, names: NAMES, shape: `user, ${sized.scopeCount} access tokens`, bytes: sized.bytes,
        what: 'beforeCacheAccess (cache hit)', impls: read,
        async verify() {
          for (const [name, impl] of Object.entries(read)) {
            const state = impl.prepare();
            await impl.run(state);
            const loaded = Object.keys(JSON.parse(state.context.tokenCache.serialize()).AccessToken).length;
            assert.equal(loaded, sized.scopeCount, `${name}: access tokens loaded into msal memory`);
          }
        } },
      { id: `enc.write.${sized.name}`, names: NAMES, shape: `user, ${sized.scopeCount} access tokens`, bytes: sized.bytes,
        what: 'afterCacheAccess (changed)', impls: write,
        async verify() {
          for (const [name, impl] of Object.entries(write)) {
            await env.redis.del(env.oursKey(side[name], { sessionId: sized.writeSession }));
            await impl.run(await impl.prepare());
            const tokens = Object.values((await stored(name, sized.writeSession)).AccessToken);
            assert.equal(tokens.length, sized.scopeCount, `${name}: access tokens stored`);
            assert.ok(tokens.some((t) => t.secret === secret), `${name}: the new token is stored`);
          }
        } },
    );
  }
  return cases;
}

/** seal() and open() alone, on the same bodies, with an encrypting keyring and a plaintext one. */
function cryptoCases(env) {
  const keyrings = { encrypted: createKeyring(env.secrets), plaintext: createKeyring({ insecurePlaintextStorage: true }) };
  const key = 'bench:crypto:session:{Zm9vYmFyYmF6cXV4cXV1eGZvb2Jh}';
  const cases = [];
  for (const sized of env.sizedUsers) {
    const body = Buffer.from(sized.json);
    const content = { type: TYPE.partition, createdAt: env.now, notAfter: env.now + 86400, meta: sized.homeAccountId, body };
    const sealed = Object.fromEntries(NAMES.map((name) => [name, seal(keyrings[name], key, content).value]));
    const impls = (op) => Object.fromEntries(NAMES.map((name) => [name, {
      run: op === 'seal' ? () => seal(keyrings[name], key, content) : () => open(keyrings[name], key, sealed[name]),
    }]));
    for (const op of ['seal', 'open']) {
      cases.push({
        id: `crypto.${op}.${sized.name}`, names: NAMES, op, shape: 'stored-value.js', bytes: sized.bytes,
        what: op === 'seal' ? 'seal() (a write adds)' : 'open() (a read adds)', impls: impls(op),
        verify() {
          for (const name of NAMES) {
            const opened = open(keyrings[name], key, op === 'seal' ? impls(op)[name].run().value : sealed[name]);
            assert.ok(opened.body.equals(body) && opened.meta === sized.homeAccountId, `${name}: ${op} round trip`);
          }
        },
      });
    }
  }
  return cases;
}

module.exports = { encryptionCases, cryptoCases };
