-- done: the booker reports the buyer finished; the slot frees at once.
-- KEYS: 1 active, 2 tokens, 3 ended
-- ARGV: 1 user id
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HSET', KEYS[3], ARGV[1], 'done')
  return 1
end
return 0
