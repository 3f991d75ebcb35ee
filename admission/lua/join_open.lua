-- join_open: the join of an event whose queue this gateway has seen open
-- (the draw done, so no pre-queue): four calls instead of the general
-- join's ten, for drop day's flood of new fans. The place's score is its
-- arrival time, which the admission step also takes as the fan's first
-- sign of life, so the join writes no last-poll time.
-- KEYS: 1 queue, 2 active, 3 this window's join counters of addresses
-- ARGV: 1 user id, 2 now (unix ms), 3 the place's score (2^52 + unix µs),
--       4 the fan's address, 5 joins allowed per address and window (0: no limit),
--       6 its window's end (unix ms)
-- Reply: {-2, ms} refused by the address limit, ms to the window's end;
--        {2, 0} the fan is admitted: the caller asks the general join;
--        {added, ahead}: added is 1 when this call made the place.
local user, now = ARGV[1], tonumber(ARGV[2])
local limit = tonumber(ARGV[5])
if limit > 0 then
  local n = redis.call('HINCRBY', KEYS[3], ARGV[4], 1)
  if n == 1 then
    redis.call('PEXPIREAT', KEYS[3], ARGV[6])
  end
  if n > limit then
    return {-2, tonumber(ARGV[6]) - now}
  end
end
local exp = redis.call('ZSCORE', KEYS[2], user)
if exp and tonumber(exp) > now then
  return {2, 0}
end
-- An admission that ended but was not swept yet stays for the controller
-- to sweep; a live place is always found first.
local added = redis.call('ZADD', KEYS[1], 'NX', ARGV[3], user)
return {added, redis.call('ZRANK', KEYS[1], user)}
