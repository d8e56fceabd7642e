-- KEYS[1] the partition; ARGV[1] the etag the writer loaded ("*": unconditional), ARGV[2] the new value ("" deletes
-- the key), ARGV[3] its TTL in seconds, ARGV[4] the largest value to return on a conflict.
-- Returns {'written', <type of the value replaced: "c", "s", "t" or "">}, or on a conflict what the read returns, so
-- the writer can merge without another round trip.
local etag, _, replaced = etag_of(KEYS[1])
if ARGV[1] ~= '*' and etag ~= ARGV[1] then return inspect(KEYS[1], tonumber(ARGV[4])) end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end
return {'written', replaced}
