-- step: one admission step of one event. Redis runs scripts one at a time,
-- so however many gateways call it, steps never overlap, and each admits
-- what the rate allows for the time since the previous step, which it
-- records itself.
-- KEYS: 1 meta, 2 settings, 3 pre, 4 queue, 5 active, 6 tokens, 7 ended,
--       8 the booker's taken-seat bitmap (internal/salekeys),
--       9 the admission log (a stream of admitted fans, in admission order)
-- ARGV: 1 now (unix ms), 2 sale opening (unix ms), 3 admission ttl (ms),
--       4 grace period (ms), 5 key prefix of the seen buckets,
--       6 default rate, 7 default max active,
--       8 booker health: -1 unknown, 0 unhealthy, 1 healthy,
--       9 auto increase, 10 auto decrease factor, 11 auto min rate, 12 auto max rate,
--       13 the event's seats
-- Reply: {code, admitted, skipped, expired, queue length, active, rate x 1000}
--   code 0 stepped, 1 the draw is due, 2 paused, 3 before the opening,
--   4 sold out: no seat is available, so nobody is admitted,
--   5 restoring: the queue was lost and its fans are being put back.
-- The seen buckets are not in KEYS because which ones depends on who is at
-- the front; they carry the event's hash tag, so they live in its slot.
local now = tonumber(ARGV[1])
local BAND = 4503599627370496
local BATCH = 500
local MAX_EXPIRE = 2000   -- per step, so one step stays short
local MAX_SKIP = 2000     -- abandoned places skipped per step, same reason
local LOG_MAX = 1000000   -- admissions the log keeps, about 10 MB
local TAU = 5             -- seconds: time constant of the measured rate

-- Admissions whose window ended free their slots.
local expired = 0
while expired < MAX_EXPIRE do
  local gone = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, BATCH)
  if #gone == 0 then
    break
  end
  redis.call('ZREM', KEYS[5], unpack(gone))
  redis.call('HDEL', KEYS[6], unpack(gone))
  for _, u in ipairs(gone) do
    redis.call('HSET', KEYS[7], u, 'timeout')
  end
  expired = expired + #gone
end

local queued = redis.call('ZCARD', KEYS[4])
local active = redis.call('ZCARD', KEYS[5])
if redis.call('HGET', KEYS[1], 'state') ~= 'open' then
  local code = 3
  if now >= tonumber(ARGV[2]) then
    code = 1
  end
  return {code, 0, 0, expired, queued, active, 0}
end

local s = redis.call('HMGET', KEYS[2], 'rate', 'max_active', 'paused', 'auto')
local rate = tonumber(s[1]) or tonumber(ARGV[6])
local maxActive = tonumber(s[2]) or tonumber(ARGV[7])
local m = redis.call('HMGET', KEYS[1], 'last', 'carry', 'mr', 'mr_at', 'aimd_at', 'sold_out', 'recover_until')
local last = tonumber(m[1]) or now
local elapsed = now - last
if elapsed < 0 then
  -- A gateway whose clock runs ahead already stepped past this moment.
  return {0, 0, 0, expired, queued, active, math.floor(rate * 1000)}
end
-- Sold out: every seat is held or sold. The bitmap counts only once it is
-- complete (its sentinel bit, at the offset of the seat count, is set); a
-- missing one admits as before. Admission resumes, in queue order, with
-- the first seat that comes back (a hold expired, released or canceled).
local seats = tonumber(ARGV[13])
local soldOut = seats > 0 and redis.call('GETBIT', KEYS[8], seats) == 1 and redis.call('BITCOUNT', KEYS[8]) > seats
-- Written only when it changes: steps run ten times a second per gateway.
if soldOut and not m[6] then
  redis.call('HSET', KEYS[1], 'sold_out', 1)
elseif m[6] and not soldOut then
  redis.call('HDEL', KEYS[1], 'sold_out')
end
-- Restoring: the queue's keys were lost and its fans are coming back with
-- their place receipts (restore.lua); nobody is admitted until they have
-- had time to, so a fan who was near the front is not passed by one who
-- polled back sooner.
local restoring = tonumber(m[7]) and now < tonumber(m[7])
if s[3] == '1' or soldOut or restoring then
  -- Paused, sold out or restoring: time passes without building up
  -- admissions for later.
  redis.call('HSET', KEYS[1], 'last', now, 'carry', 0)
  local code = 2
  if soldOut then
    code = 4
  elseif restoring then
    code = 5
  end
  return {code, 0, 0, expired, queued, active, math.floor(rate * 1000)}
end

-- The budget is the rate times the time since the last step plus what the
-- last step could not admit of a fraction. A stalled controller does not
-- release a burst: at most one second's worth.
local budget = (tonumber(m[2]) or 0) + rate * elapsed / 1000
budget = math.min(budget, math.max(rate, 1))
local want = math.min(math.floor(budget), maxActive - active)

local exp = string.format('%d', math.floor((now + tonumber(ARGV[3])) / 1000) * 1000)
local nowS = math.floor(now / 1000)
local graceS = tonumber(ARGV[4]) / 1000
local admitted, skipped = 0, 0
while admitted < want and skipped < MAX_SKIP do
  local front = redis.call('ZRANGE', KEYS[4], 0, math.min(want - admitted, BATCH) - 1, 'WITHSCORES')
  if #front == 0 then
    break
  end
  local members = {}
  for i = 1, #front, 2 do
    members[#members + 1] = front[i]
  end
  redis.call('ZREM', KEYS[4], unpack(members))
  -- Gateways answer far-back fans' polls from this total (see mark).
  redis.call('HINCRBY', KEYS[1], 'removed', #members)
  for i = 1, #front, 2 do
    local u, score = front[i], tonumber(front[i + 1])
    local id = tonumber(u)
    local bucket = ARGV[5] .. string.format('%d', math.floor(id / 128))
    local field = string.format('%d', id % 128)
    -- The last poll, or the join itself: a place after the opening is
    -- scored by its arrival time (µs above 2^52), so a join needs no
    -- separate record of it.
    local seen = tonumber(redis.call('HGET', bucket, field)) or 0
    if score >= BAND then
      seen = math.max(seen, (score - BAND) / 1000000)
    end
    redis.call('HDEL', bucket, field)
    if redis.call('ZSCORE', KEYS[5], u) then
      -- Already admitted: a join that found the fan admitted placed it for
      -- a moment before taking the place back. The place just goes.
    elseif nowS - seen <= graceS then
      redis.call('ZADD', KEYS[5], exp, u)
      -- The order the server admitted fans in, which the expiry (whole
      -- seconds) does not keep: fairness is measured from it.
      redis.call('XADD', KEYS[9], 'MAXLEN', '~', LOG_MAX, '*', 'u', u)
      admitted = admitted + 1
    else
      -- Silent for longer than the grace period: the place is skipped so
      -- it wastes no capacity.
      redis.call('HSET', KEYS[7], u, 'abandoned')
      skipped = skipped + 1
    end
  end
end
queued = queued - admitted - skipped
active = active + admitted

-- Measured rate: an exponentially decaying count of admissions, per second.
local mr = tonumber(m[3]) or 0
local mrAt = tonumber(m[4]) or now
mr = mr * math.exp(-(now - mrAt) / 1000 / TAU) + admitted / TAU

-- Auto mode, once a second across all gateways: additive increase while the
-- booker is healthy and fans are waiting for a free slot, multiplicative
-- decrease when it is not. Without fresh figures the rate stays.
local health = tonumber(ARGV[8])
if s[4] == '1' and health >= 0 and now - (tonumber(m[5]) or 0) >= 1000 then
  if health == 0 then
    rate = math.max(rate * tonumber(ARGV[10]), tonumber(ARGV[11]))
  elseif queued > 0 and active < maxActive then
    rate = math.min(rate + tonumber(ARGV[9]), tonumber(ARGV[12]))
  end
  redis.call('HSET', KEYS[2], 'rate', string.format('%.3f', rate))
  redis.call('HSET', KEYS[1], 'aimd_at', now)
end

redis.call('HSET', KEYS[1], 'last', now, 'carry', budget - math.floor(budget), 'mr', mr, 'mr_at', now)
if admitted > 0 then
  redis.call('HINCRBY', KEYS[1], 'admitted', admitted)
end
if skipped > 0 then
  redis.call('HINCRBY', KEYS[1], 'abandoned', skipped)
end
return {0, admitted, skipped, expired, queued, active, math.floor(rate * 1000)}
