-- join: the fan's place, made when the fan holds none. The reply is place's
-- with a fourth element, 1 when this call made the place.
-- ARGV: 5 sale opening (unix ms)
local p, expired = place()
if p then
  p[4] = 0
  return p
end
-- A new place, or a new try after the last one ended. Why the last one
-- ended stays in 'ended' until this one ends too: a live place is always
-- found first.
if expired then
  redis.call('ZREM', KEYS[4], user)
  redis.call('HDEL', KEYS[5], user)
end
touch()
-- Before the opening fans wait in the pre-queue for the draw. Once the draw
-- has begun, nobody enters it any more, whatever this gateway's clock says.
if not open and now < tonumber(ARGV[5]) and not redis.call('HGET', KEYS[1], 'state') then
  redis.call('SADD', KEYS[2], user)
  return {0, 0, false, 1}
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('ZADD', KEYS[3], string.format('%d', BAND + seq), user)
-- The newest place is the last.
local ahead = redis.call('ZCARD', KEYS[3]) - 1
if not open then
  ahead = ahead + redis.call('SCARD', KEYS[2])
end
return {1, ahead, false, 1}
