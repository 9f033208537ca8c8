-- Take a ticket if asked (arrival order), forget members whose lease ran out,
-- and grant the conversation when the caller is the oldest ticket left.
-- KEYS: queue, alive, owner, counter. ARGV: token, lease ms, counter ttl ms, enqueue.
-- Returns {granted 0|1, ticket} (ticket -1: place lost and not asked to queue again).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local token, lease = ARGV[1], tonumber(ARGV[2])
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)
for _, d in ipairs(dead) do
  redis.call('ZREM', KEYS[1], d)
  redis.call('ZREM', KEYS[2], d)
end
local ticket = redis.call('ZSCORE', KEYS[1], token)
if ticket then
  ticket = tonumber(ticket)
else
  if ARGV[4] ~= '1' then return {0, -1} end
  ticket = redis.call('INCR', KEYS[4])
  redis.call('PEXPIRE', KEYS[4], ARGV[3])
  redis.call('ZADD', KEYS[1], ticket, token)
end
redis.call('ZADD', KEYS[2], now + lease, token)
redis.call('PEXPIRE', KEYS[1], lease * 2)
redis.call('PEXPIRE', KEYS[2], lease * 2)
local head = redis.call('ZRANGE', KEYS[1], 0, 0)
if head[1] ~= token then return {0, ticket} end
if redis.call('GET', KEYS[3]) ~= token then
  redis.call('SET', KEYS[3], token, 'PX', lease)
end
return {1, ticket}
