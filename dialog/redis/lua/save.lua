-- Write a session, fenced. With a token: refused (0) while another owns the lock,
-- refused (-1) when nobody does and a later ticket wrote it. Without: keeps the fence.
-- KEYS: session, lock owner. ARGV: JSON, ttl ms, token, fence.
local cur = redis.call('GET', KEYS[1])
local stored = 0
if cur then stored = tonumber(string.match(cur, '^(%d+)|')) or 0 end
local fence = ARGV[4]
if ARGV[3] ~= '' then
  local owner = redis.call('GET', KEYS[2])
  if owner then
    if owner ~= ARGV[3] then return 0 end
  elseif stored > tonumber(fence) then
    return -1
  end
else
  fence = tostring(stored)
end
redis.call('SET', KEYS[1], fence .. '|' .. ARGV[1], 'PX', ARGV[2])
return 1
