-- leave: the fan gives up whatever place they hold, admitted or not.
-- KEYS: 1 pre, 2 queue, 3 active, 4 tokens, 5 ended, 6 the fan's seen bucket, 7 meta
-- ARGV: 1 user id, 2 the fan's field in the seen bucket
local queued = redis.call('ZREM', KEYS[2], ARGV[1])
if queued == 1 then
  -- Gateways answer far-back fans' polls knowing how many left (see mark).
  redis.call('HINCRBY', KEYS[7], 'left', 1)
end
local n = redis.call('SREM', KEYS[1], ARGV[1]) + queued + redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
-- The fan left: a place receipt must not bring the place back (restore.lua),
-- say from another device that still polls; status answers as for a fan
-- who never joined.
redis.call('HSET', KEYS[5], ARGV[1], 'left')
redis.call('HDEL', KEYS[6], ARGV[2])
return n
