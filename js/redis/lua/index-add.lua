-- KEYS[1] a membership index; ARGV[1] the member, ARGV[2] its score, ARGV[3] now (epoch seconds), ARGV[4] "max": a
-- member already there gets a higher score than it had (see index-prune.lua; the count indexes are updated without
-- a script, js/admin/partition-index.js countUpdate). Prunes members past their score, makes the key live as long as
-- its latest member, and returns how many it holds.
local score, now = tonumber(ARGV[2]), tonumber(ARGV[3])
local old = redis.call('ZSCORE', KEYS[1], ARGV[1])
if ARGV[4] == 'max' and old then score = math.max(score, tonumber(old) + 1) end
redis.call('ZADD', KEYS[1], score, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
if redis.call('TTL', KEYS[1]) < score - now then redis.call('EXPIRE', KEYS[1], math.max(1, score - now)) end
return redis.call('ZCARD', KEYS[1])
