-- done: the booker reports the buyer finished; the slot frees at once.
-- KEYS: 1 active, 2 tokens, 3 ended
-- ARGV: 1 user id, 2 the expiry of the admission that is done (unix ms),
--       or empty for whichever the fan has: a newer admission stays
local exp = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not exp or (ARGV[2] ~= '' and tonumber(exp) ~= tonumber(ARGV[2])) then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], 'done')
return 1
