-- The first part of the compare-and-set script (this file, then partition-compare-and-set.lua). Loaded by
-- js/storage/partition-store.js and python/msal_redis_cache/scripts.py: Node and Python send the same text, so the same SHA.
-- inspect() answers a conflict as a read (js/storage/partition-store.js #read) answers: the writer merges from it.
-- Each redis.call costs Redis time on every request, so the common cases take the fewest: a compare-and-set of a
-- present value is GETRANGE, SET; a conflict's reply STRLEN, GET, PTTL. A key of another type makes STRLEN and GETRANGE
-- fail (caught: pcall), and only then is its TYPE asked for the warning.
-- The header pattern (an etag is 16 base64url characters) must accept exactly what etagOf() / etag_of() accept.
local etag_pattern = '^mrc2 ([cst]) (' .. string.rep('[%w_%-]', 16) .. ') '
-- The etag and the value's own type ("c", "s", "t"; "" when it has none) in a value's first bytes.
local function header_of(head)
  local value_type, etag = string.match(head, etag_pattern)
  return etag or '!foreign', value_type or ''
end
-- Returns the etag, the Redis type, and the value's own type.
local function etag_of(key)
  local head = redis.pcall('GETRANGE', key, 0, 31)
  if type(head) == 'table' then return '!foreign', redis.call('TYPE', key)['ok'], '' end
  if head == '' and redis.call('EXISTS', key) == 0 then return '', 'none', '' end
  local etag, value_type = header_of(head)
  return etag, 'string', value_type
end
local function inspect(key, max_bytes)
  local size = redis.pcall('STRLEN', key)
  if type(size) == 'table' then return {'type', '!foreign', redis.call('TYPE', key)['ok']} end
  if size == 0 and redis.call('EXISTS', key) == 0 then return {'none', ''} end
  if size > max_bytes then return {'size', (header_of(redis.call('GETRANGE', key, 0, 31))), size} end
  local value = redis.call('GET', key)
  return {'value', (header_of(value)), value, redis.call('PTTL', key)}
end
