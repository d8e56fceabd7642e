-- KEYS[1] an index; ARGV: member, score, member, score... Removes each member whose score is still the one given
-- (one read earlier): one that was added again since keeps its place.
local removed = 0
for i = 1, #ARGV, 2 do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) == ARGV[i + 1] then removed = removed + redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return removed
