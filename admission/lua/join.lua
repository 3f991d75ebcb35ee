-- join: the fan's place, made when the fan holds none. The reply is place's
-- with a fourth element, 1 when this call made the place.
-- ARGV: 4 sale opening (unix ms)
local p = place()
if p then
  p[4] = 0
  return p
end
-- A new place, or a new try after the last one ended.
redis.call('ZREM', KEYS[4], user)
redis.call('HDEL', KEYS[5], user)
redis.call('HDEL', KEYS[6], user)
touch()
-- Before the opening fans wait in the pre-queue for the draw. Once the draw
-- has begun, nobody enters it any more, whatever this gateway's clock says.
if not redis.call('HGET', KEYS[1], 'state') and now < tonumber(ARGV[4]) then
  redis.call('SADD', KEYS[2], user)
  return {0, 0, false, 1}
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('ZADD', KEYS[3], string.format('%d', BAND + seq), user)
return {1, redis.call('ZRANK', KEYS[3], user) + redis.call('SCARD', KEYS[2]), false, 1}
