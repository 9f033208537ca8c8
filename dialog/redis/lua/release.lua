-- Compare and delete: give the conversation up only if the caller holds it,
-- leave the queue either way, and wake the next in line (on its own channel,
-- so one waiter looks, not all). Returns 1 if the caller held it.
-- KEYS: queue, alive, owner. ARGV: token, wake channel prefix.
local held = 0
if redis.call('GET', KEYS[3]) == ARGV[1] then
  redis.call('DEL', KEYS[3])
  held = 1
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if head then
  redis.call('PUBLISH', ARGV[2] .. head, '1')
end
return held
