-- KEYS[1] the partition; ARGV[1] the largest value to transfer.
return inspect(KEYS[1], tonumber(ARGV[1]))
