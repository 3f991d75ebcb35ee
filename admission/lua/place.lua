-- Shared head of join.lua and status.lua: where a fan stands in one event's
-- waiting room. Every key shares the {event} hash tag.
-- KEYS: 1 meta, 2 pre, 3 queue, 4 active, 5 tokens, 6 ended, 7 the fan's seen bucket
-- ARGV: 1 user id, 2 now (unix ms), 3 the fan's field in the seen bucket,
--       4 '1' when the caller has seen the queue open (the draw done), which
--       never goes back: then the pre-queue is empty and the fast path holds
local user, now, field, open = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4] == '1'
-- Scores below BAND are drawn pre-queue places; BAND + t is a join after
-- the opening at time t (unix µs, the gateway's clock: first come, first
-- served, up to the gateways' clock skew), so every drawn fan stays ahead
-- of every later one.
local BAND = 4503599627370496

-- touch records the fan's last poll, in seconds, for the abandonment check.
local function touch()
  redis.call('HSET', KEYS[7], field, math.floor(now / 1000))
end

-- place answers {kind, number, text}: {0, 0, false} in the pre-queue,
-- {1, ahead, false} waiting, {2, expires ms, token or false} admitted; or
-- nil and the expiry of an admission that ended but was not swept yet.
local function place()
  if open then
    -- The common poll: a waiting fan once the queue is open.
    local rank = redis.call('ZRANK', KEYS[3], user)
    if rank then
      touch()
      return {1, rank, false}
    end
  else
    local score = redis.call('ZSCORE', KEYS[3], user)
    if score then
      touch()
      if tonumber(score) < BAND and redis.call('HGET', KEYS[1], 'state') ~= 'open' then
        -- Drawn, but the draw is still placing others around this fan.
        return {0, 0, false}
      end
      -- Pre-queue fans not placed yet will all land ahead of this one.
      return {1, redis.call('ZRANK', KEYS[3], user) + redis.call('SCARD', KEYS[2]), false}
    end
    if redis.call('SISMEMBER', KEYS[2], user) == 1 then
      touch()
      return {0, 0, false}
    end
  end
  local exp = redis.call('ZSCORE', KEYS[4], user)
  if exp and tonumber(exp) > now then
    return {2, tonumber(exp), redis.call('HGET', KEYS[5], user)}
  end
  return nil, exp
end

-- ended answers {3, 0, reason} for a fan whose last place ended, given
-- place's second result; nil for a fan who never joined or left.
local function ended(expired)
  local why = redis.call('HGET', KEYS[6], user)
  if why then
    return {3, 0, why}
  end
  if expired then
    return {3, 0, 'timeout'} -- not swept by the controller yet
  end
  return nil
end
