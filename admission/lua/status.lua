-- status: the fan's state; also {3, 0, reason} when the last place ended,
-- {-1, 0, false} when the fan never joined or left.
local p, expired = place()
if p then
  return p
end
return ended(expired) or {-1, 0, false}
