-- Folds one sample into its host's keys, atomically. Idempotent: a sample whose
-- id was already folded changes nothing, and a late sample never replaces a
-- newer latest value. History (raw points, one-minute aggregates) is written
-- only when the host's recording rules keep the sample's own time.
--
-- Every key is the host's prefix "ls:{host}:" plus a suffix, so all share one
-- cluster slot; KEYS[1] (the seen key) routes the call there.
-- KEYS[1] ls:{host}:seen
-- ARGV[1] key prefix  ARGV[2] id  ARGV[3] time (epoch ms)  ARGV[4] interval (s, 0 = unknown)
-- ARGV[5] horizon ms  ARGV[6] raw retention ms  ARGV[7] minute retention ms
-- ARGV[8] paused stretches "from-to,from-" and ARGV[9] wiped_before: all hosts' rules, used
--         when the host has no copy of its own yet
-- ARGV[10] metrics as "name value name value ..."
-- Returns 1 folded into history, 2 folded but not recorded (paused or wiped), 0 already folded,
-- -1 older than the horizon.
local p = ARGV[1]
local seen = KEYS[1]
local id = ARGV[2]
local time_text = ARGV[3]
local t = tonumber(time_text)
local interval = tonumber(ARGV[4])
local horizon = tonumber(ARGV[5])
local raw_retention = tonumber(ARGV[6])
local minute_retention = tonumber(ARGV[7])

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
if t < now - horizon then return -1 end
if redis.call('ZSCORE', seen, id) then return 0 end
redis.call('ZADD', seen, t, id)

local names, values = {}, {}
for name, value in string.gmatch(ARGV[10], '(%S+) (%S+)') do
  names[#names + 1] = name
  values[#values + 1] = value
end
local n = #names

local meta = p .. 'meta'
local m = redis.call('HMGET', meta, 'last_seen', 'first_seen', 'trimmed_at')
local last_seen = tonumber(m[1] or '-1')
local first_seen = tonumber(m[2] or '-1')
local trimmed_at = tonumber(m[3] or '0')

-- Latest values: one write when the sample is the newest (the usual case),
-- a per-metric comparison only for a late one.
local latest = p .. 'latest'
local updates = {}
if t >= last_seen then
  for i = 1, n do
    updates[#updates + 1] = names[i]
    updates[#updates + 1] = time_text .. '|' .. values[i]
  end
else
  local current = redis.call('HMGET', latest, unpack(names))
  for i = 1, n do
    if not current[i] or tonumber(string.match(current[i], '^(%d+)')) <= t then
      updates[#updates + 1] = names[i]
      updates[#updates + 1] = time_text .. '|' .. values[i]
    end
  end
end
if #updates > 0 then redis.call('HSET', latest, unpack(updates)) end

-- Which metric names are new for this host: their history keys get a TTL at once.
local metrics = p .. 'metrics'
local known = redis.call('SMISMEMBER', metrics, unpack(names))
redis.call('SADD', metrics, unpack(names))

-- Recording rules, judged by the sample's own time.
local rules = redis.call('HMGET', p .. 'rec', 'paused', 'wiped_before')
local paused, wiped_before
if rules[1] or rules[2] then
  paused = rules[1] or ''
  wiped_before = tonumber(rules[2] or '0')
else
  paused = ARGV[8]
  wiped_before = tonumber(ARGV[9])
end
local recorded = t >= wiped_before
if recorded then
  for from, to in string.gmatch(paused, '(%d+)-(%d*)') do
    if t >= tonumber(from) and (to == '' or t < tonumber(to)) then
      recorded = false
      break
    end
  end
end

if recorded then
  for i = 1, n do
    local raw = p .. 'raw:' .. names[i]
    redis.call('ZADD', raw, t, time_text .. ':' .. values[i])
    if known[i] == 0 then redis.call('PEXPIRE', raw, raw_retention) end
  end

  -- One-minute aggregates: one hash per host and UTC day, field "metric|minute".
  local day = math.floor(t / 86400000)
  local minutes = p .. '1m:' .. day
  local minute = string.format('%d', t - (t % 60000))
  local fields = {}
  for i = 1, n do fields[i] = names[i] .. '|' .. minute end
  local aggs = redis.call('HMGET', minutes, unpack(fields))
  local writes = {}
  for i = 1, n do
    local v = tonumber(values[i])
    local agg = aggs[i]
    if agg then
      local count, sum, low, high = string.match(agg, '^(%d+)|([^|]+)|([^|]+)|([^|]+)$')
      if v < tonumber(low) then low = values[i] end
      if v > tonumber(high) then high = values[i] end
      -- %.17g keeps every bit of the double: averages are exact to the last digit.
      agg = (tonumber(count) + 1) .. '|' .. string.format('%.17g', tonumber(sum) + v) .. '|' .. low .. '|' .. high
    else
      agg = '1|' .. values[i] .. '|' .. values[i] .. '|' .. values[i]
    end
    writes[#writes + 1] = fields[i]
    writes[#writes + 1] = agg
  end
  redis.call('HSET', minutes, unpack(writes))
  redis.call('PEXPIREAT', minutes, (day + 1) * 86400000 + minute_retention)

  local stored = p .. 'stored'
  redis.call('ZADD', stored, t, id)
end

-- Retention upkeep once a minute per host, not on every sample.
if now - trimmed_at >= 60000 then
  local raw_floor = string.format('(%d', now - raw_retention)
  for _, name in ipairs(redis.call('SMEMBERS', metrics)) do
    local raw = p .. 'raw:' .. name
    redis.call('ZREMRANGEBYSCORE', raw, '-inf', raw_floor)
    redis.call('PEXPIRE', raw, raw_retention)
  end
  redis.call('ZREMRANGEBYSCORE', p .. 'stored', '-inf', raw_floor)
  redis.call('PEXPIRE', p .. 'stored', raw_retention)
  redis.call('ZREMRANGEBYSCORE', seen, '-inf', string.format('(%d', now - horizon))
  redis.call('PEXPIRE', seen, horizon)
  redis.call('HSET', meta, 'trimmed_at', string.format('%d', now))
end

local meta_updates = {}
if t >= last_seen then
  meta_updates[#meta_updates + 1] = 'last_seen'
  meta_updates[#meta_updates + 1] = time_text
  if interval > 0 then
    meta_updates[#meta_updates + 1] = 'interval'
    meta_updates[#meta_updates + 1] = ARGV[4]
  end
end
if first_seen < 0 or t < first_seen then
  meta_updates[#meta_updates + 1] = 'first_seen'
  meta_updates[#meta_updates + 1] = time_text
end
if #meta_updates > 0 then redis.call('HSET', meta, unpack(meta_updates)) end
redis.call('HINCRBY', meta, 'samples', 1)
if recorded then return 1 end
return 2
