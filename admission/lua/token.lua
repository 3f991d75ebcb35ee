-- token: keep the first admission token signed for this admission, so every
-- gateway hands out the same one. Nil when the admission is no longer the
-- one the token was signed for.
-- KEYS: 1 active, 2 tokens
-- ARGV: 1 user id, 2 admission expiry (unix ms), 3 token
local exp = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not exp or tonumber(exp) ~= tonumber(ARGV[2]) then
  return false
end
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3])
return redis.call('HGET', KEYS[2], ARGV[1])
