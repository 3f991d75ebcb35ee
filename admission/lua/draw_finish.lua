-- draw_finish: open the queue once every pre-queue fan has a place.
-- KEYS: 1 meta, 2 pre, 3 lease
-- ARGV: 1 now (unix ms), 2 owner
-- Reply: 1 when the queue is open, 0 when fans are still to be placed.
if redis.call('SCARD', KEYS[2]) > 0 then
  return 0
end
if redis.call('HGET', KEYS[1], 'state') == 'drawing' then
  -- The first step after this one starts the admission clock.
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', ARGV[1])
end
if redis.call('GET', KEYS[3]) == ARGV[2] then
  redis.call('DEL', KEYS[3])
end
return 1
