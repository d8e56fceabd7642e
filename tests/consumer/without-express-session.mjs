// An ESM app without express-session installed: the package imports, the token cache works, and only
// constructing RedisSessionStore fails, with the error that says what to install.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { RedisTokenCache, RedisSessionStore, ConfigurationError } from 'msal-redis-cache';

const require = createRequire(import.meta.url);
assert.throws(() => require.resolve('express-session'), { code: 'MODULE_NOT_FOUND' });
assert.equal(typeof RedisTokenCache, 'function');
assert.equal(require('msal-redis-cache').RedisSessionStore, RedisSessionStore);
assert.throws(() => new RedisSessionStore({}), (err) => err instanceof ConfigurationError &&
  /npm install express-session/.test(err.message));
console.log(JSON.stringify({ resolved: import.meta.resolve('msal-redis-cache') }));
