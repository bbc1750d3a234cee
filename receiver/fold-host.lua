-- Folds one sample into its host's keys, atomically. Idempotent: a sample whose
-- id was already folded changes nothing, and a late sample never replaces a
-- newer latest value. Every key shares the host's hash tag (one cluster slot).
--
-- KEYS[1] seen (zset id -> time)     KEYS[2] host latest (hash metric -> "time|value")
-- KEYS[3] host meta (hash)           KEYS[4 .. 3+n] raw history of each metric (zset)
-- ARGV[1] sample id   ARGV[2] time (epoch ms)   ARGV[3] interval (s, 0 = unknown)
-- ARGV[4] horizon ms (older samples are refused; ids are remembered this long)
-- ARGV[5] raw retention ms   ARGV[6 .. 5+n] metric names   ARGV[6+n .. 5+2n] values
-- Returns 1 folded, 0 already folded, -1 older than the horizon.
local id = ARGV[1]
local time_text = ARGV[2]
local t = tonumber(time_text)
local interval = tonumber(ARGV[3])
local horizon = tonumber(ARGV[4])
local raw_retention = tonumber(ARGV[5])
local n = #KEYS - 3

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
if t < now - horizon then return -1 end
if redis.call('ZSCORE', KEYS[1], id) then return 0 end

redis.call('ZADD', KEYS[1], t, id)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('(%d', now - horizon))
redis.call('PEXPIRE', KEYS[1], horizon)

local raw_floor = string.format('(%d', now - raw_retention)
for i = 1, n do
  local name = ARGV[5 + i]
  local value = ARGV[5 + n + i]
  local raw = KEYS[3 + i]
  redis.call('ZADD', raw, t, time_text .. ':' .. value)
  redis.call('ZREMRANGEBYSCORE', raw, '-inf', raw_floor)
  redis.call('PEXPIRE', raw, raw_retention)
  local current = redis.call('HGET', KEYS[2], name)
  if not current or tonumber(string.match(current, '^(%d+)')) <= t then
    redis.call('HSET', KEYS[2], name, time_text .. '|' .. value)
  end
end

local last_seen = tonumber(redis.call('HGET', KEYS[3], 'last_seen') or '-1')
if t >= last_seen then
  redis.call('HSET', KEYS[3], 'last_seen', time_text)
  if interval > 0 then redis.call('HSET', KEYS[3], 'interval', ARGV[3]) end
end
local first_seen = tonumber(redis.call('HGET', KEYS[3], 'first_seen') or '-1')
if first_seen < 0 or t < first_seen then redis.call('HSET', KEYS[3], 'first_seen', time_text) end
redis.call('HINCRBY', KEYS[3], 'samples', 1)
return 1
