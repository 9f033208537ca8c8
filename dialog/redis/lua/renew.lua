-- Extend the holder's lease; 0 when the caller no longer holds the conversation.
-- KEYS: queue, alive, owner. ARGV: token, lease ms.
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('PEXPIRE', KEYS[3], lease)
redis.call('ZADD', KEYS[2], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease * 2)
redis.call('PEXPIRE', KEYS[2], lease * 2)
return 1
