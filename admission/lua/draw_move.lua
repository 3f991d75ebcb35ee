-- draw_move: move a batch of pre-queue fans into the queue at their drawn
-- scores. A fan who left meanwhile is not brought back.
-- KEYS: 1 pre, 2 queue, 3 lease
-- ARGV: 1 owner, 2 lease (ms), then pairs of user id and score
-- Reply: how many moved, or -1 when the lease passed to another gateway.
if redis.call('GET', KEYS[3]) ~= ARGV[1] then
  return -1
end
redis.call('PEXPIRE', KEYS[3], ARGV[2])
local moved = 0
for i = 3, #ARGV, 2 do
  if redis.call('SREM', KEYS[1], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i])
    moved = moved + 1
  end
end
return moved
