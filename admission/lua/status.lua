-- status: the fan's state; also {3, 0, reason} when the last place ended,
-- {-1, 0, false} when the fan never joined or left.
local p, expired = place()
if p then
  return p
end
local why = redis.call('HGET', KEYS[6], user)
if why then
  return {3, 0, why}
end
if expired then
  return {3, 0, 'timeout'} -- not swept by the controller yet
end
return {-1, 0, false}
