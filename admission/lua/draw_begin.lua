-- draw_begin: start the pre-queue draw once the sale has opened, or resume
-- one whose drawer stopped. The lease makes one gateway do the work; the
-- order does not depend on who does it, since every place's score is a
-- keyed hash of the published seed and the fan's id.
-- KEYS: 1 meta, 2 lease
-- ARGV: 1 now (unix ms), 2 sale opening (unix ms), 3 a fresh seed (hex), 4 owner, 5 lease (ms)
-- Reply: the seed to draw with, or nil when there is nothing to do here.
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'open' or tonumber(ARGV[1]) < tonumber(ARGV[2]) then
  return false
end
if not redis.call('SET', KEYS[2], ARGV[4], 'NX', 'PX', ARGV[5]) then
  return false
end
if not state then
  -- From here on joins go behind the drawn fans, and the seed is public.
  redis.call('HSET', KEYS[1], 'state', 'drawing', 'seed', ARGV[3], 'drawn_at', ARGV[1])
end
return redis.call('HGET', KEYS[1], 'seed')
