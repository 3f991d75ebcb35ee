-- restore: puts back a fan whose place the waiting room lost (its keys
-- gone with a Redis node and its replica, or a restart without
-- persistence), at the score their place receipt proves, so the queue
-- keeps its order however late each fan returns. A fan who holds a place,
-- or whose last one ended, gets that instead, as from status.
-- ARGV: 5 the receipt's score
local p, expired = place()
if p then
  return p
end
local e = ended(expired)
if e then
  return e
end
redis.call('ZADD', KEYS[3], 'NX', ARGV[5], user)
redis.call('HINCRBY', KEYS[1], 'restored', 1)
touch()
local ahead = redis.call('ZRANK', KEYS[3], user)
if not open then
  ahead = ahead + redis.call('SCARD', KEYS[2])
end
return {1, ahead, false}
