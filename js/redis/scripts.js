'use strict';
// The Lua scripts this package runs in Redis, read from js/redis/lua/*.lua: the Python package (python/msal_redis_cache)
// loads the same files, so Node and Python servers send the same text (the same SHA for EVALSHA) to one Redis.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const DIRECTORY = path.join(__dirname, 'lua');

/**
 * One script: the files `names` (without .lua) joined in order. `name` is what metrics call it (db.operation.name).
 * @returns {{ name: string, lua: string, sha: string }}
 */
function loadScript(name, ...names) {
  const lua = names.map((file) => fs.readFileSync(path.join(DIRECTORY, `${file}.lua`), 'utf8')).join('');
  return { name, lua, sha: crypto.createHash('sha1').update(lua).digest('hex') };
}

module.exports = { loadScript };
