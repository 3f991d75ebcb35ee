-- join: the fan's place, made when the fan holds none. The reply is place's
-- with a fourth element, 1 when this call made the place; or {-2, ms} when
-- a limit refused the join, ms being the time until its window ends. Every
-- join counts against the client address's limit; only joins that find
-- the place already held count against the account's: the first join of a
-- place is the one it is for.
-- KEYS: 8 this window's join counters of the fan's 128 accounts,
--       9 this window's join counters of addresses
-- ARGV: 5 sale opening (unix ms), 6 the fan's address,
--       7 repeated joins allowed per account and window (0: no limit), 8 its window's end (unix ms),
--       9 joins allowed per address and window, 10 its window's end,
--       11 the place's score after the opening: 2^52 + arrival time (unix µs)

-- over counts this join in a fixed window and says whether it is one too many.
local function over(key, f, limit, ends)
  if limit <= 0 then
    return false
  end
  local n = redis.call('HINCRBY', key, f, 1)
  if n == 1 then
    redis.call('PEXPIREAT', key, ends)
  end
  return n > limit
end
if over(KEYS[9], ARGV[6], tonumber(ARGV[9]), ARGV[10]) then
  return {-2, tonumber(ARGV[10]) - now, false, 0}
end

local p, expired = place()
if p then
  if over(KEYS[8], field, tonumber(ARGV[7]), ARGV[8]) then
    return {-2, tonumber(ARGV[8]) - now, false, 0}
  end
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
redis.call('ZADD', KEYS[3], 'NX', ARGV[11], user)
local ahead = redis.call('ZRANK', KEYS[3], user)
if not open then
  ahead = ahead + redis.call('SCARD', KEYS[2])
end
return {1, ahead, false, 1}
