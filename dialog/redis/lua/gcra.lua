-- Generic cell rate algorithm: the key holds the theoretical arrival time.
-- KEYS: the client's key. ARGV: interval ms, burst. Returns {allowed 0|1, ms to wait}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat + interval - burst * interval
if now < allow_at then
  return {0, allow_at - now}
end
local nxt = tat + interval
redis.call('SET', KEYS[1], nxt, 'PX', nxt - now)
return {1, 0}
