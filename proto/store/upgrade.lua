-- Converts one chunk of one host's layout-1 key into layout 2 (runs after
-- store.lua). Atomic per chunk: what it converts it removes from the old key in
-- the same step, so a conversion cut short, or run by two processes at once,
-- converts nothing twice. Converted points are standalone: the live chains and
-- open minutes of layout 2 are never touched.
--
-- Layout 1, per host: raw:<metric> zset time -> "time:value"; 1m:<day> hash
-- "metric|minute" -> "count|sum|min|max"; seen zset id -> time; stored zset id -> time.
--
-- ARGV[1] host  [2] kind: raw | minutes | seen | stored  [3] metric (raw) or day (minutes)
-- [4] chunk size  [5] horizon ms  [6] raw retention ms  [7] minute retention ms
-- [8] the HSCAN cursor to go on from (minutes)
-- Returns how many entries the old key still holds (0: it is gone), and for minutes
-- the cursor to pass next.
local host, kind, what = ARGV[1], ARGV[2], ARGV[3]
local chunk = tonumber(ARGV[4])
local horizon = tonumber(ARGV[5])
local raw_retention = tonumber(ARGV[6])
local minute_retention = tonumber(ARGV[7])
local p = host_prefix(host)
local now = redis_now()
local writes = new_writes()

-- A value as layout 1 wrote it (JavaScript's shortest text of the double) as a
-- decimal mantissa and scale when it is a short decimal, else nil and the double.
local function parse_text(text)
  local sign, whole, fraction = string.match(text, '^(-?)(%d+)%.?(%d*)$')
  if whole then
    local digits = string.gsub(whole .. fraction, '^0+(%d)', '%1')
    if #digits <= 14 and #fraction <= 15 then
      return tonumber(sign .. whole .. fraction), #fraction
    end
  end
  return nil, tonumber(text)
end

if kind == 'raw' then
  local key = p .. 'raw:' .. what
  local members = redis.call('ZRANGE', key, 0, chunk - 1)
  for _, member in ipairs(members) do
    local colon = string.find(member, ':', 1, true)
    local t = tonumber(string.sub(member, 1, colon - 1))
    if t >= now - raw_retention then
      local block = raw_block_of(p, t, raw_retention)
      local mantissa, scale_or_double = parse_text(string.sub(member, colon + 1))
      local point
      if mantissa then
        point = raw_single(block.offset, scale_or_double, mantissa)
      else
        point = raw_double(block.offset, scale_or_double)
      end
      emit(writes, block.keys .. what, point, point, block.expire_at)
    end
  end
  flush_writes(writes)
  if #members > 0 then redis.call('ZREMRANGEBYRANK', key, 0, #members - 1) end
  return redis.call('ZCARD', key)
end

if kind == 'minutes' then
  local key = p .. '1m:' .. what
  local day = tonumber(what)
  local answer = redis.call('HSCAN', key, ARGV[8], 'COUNT', chunk)
  local fields = answer[2]
  local done = {}
  for i = 1, #fields, 2 do
    local metric, minute = string.match(fields[i], '^(.*)|(%d+)$')
    local count, sum, low, high = string.match(fields[i + 1], '^(%d+)|([^|]+)|([^|]+)|([^|]+)$')
    if metric and count then
      count = tonumber(count)
      local minute_of_day = (tonumber(minute) - day * DAY_MS) / MINUTE_MS
      local low_m, low_s = parse_text(low)
      local high_m, high_s = parse_text(high)
      local record
      if low_m and high_m then
        -- Layout 1 kept the sum as a double; values of this scale sum to a whole
        -- number of its units, which the double is within a hair of.
        local scale = math.max(low_s, high_s)
        local k = POW10[scale]
        local low_v, high_v = low_m * POW10[scale - low_s], high_m * POW10[scale - high_s]
        local sum_m = math.floor(tonumber(sum) * k + 0.5)
        if math.abs(tonumber(sum) * k - sum_m) < 1e-6 * math.max(1, math.abs(sum_m)) and math.abs(sum_m) < AGGREGATE_LIMIT
          and math.max(math.abs(low_v), math.abs(high_v)) * count < AGGREGATE_LIMIT then
          record = minute_record(2, minute_of_day, count, false, scale, sum_m, low_v, high_v)
        end
      end
      record = record or minute_record(2, minute_of_day, count, true, 0, tonumber(sum), tonumber(low), tonumber(high))
      emit(writes, minute_key(p, day, metric), record, record, (day + 1) * DAY_MS + minute_retention)
    end
    done[#done + 1] = fields[i]
  end
  flush_writes(writes)
  if #done > 0 then redis.call('HDEL', key, unpack(done)) end
  return { redis.call('HLEN', key), answer[1] }
end

if kind == 'seen' then
  local key = p .. 'seen'
  local keep_ms = dedup_keep_ms(horizon)
  local members = redis.call('ZRANGE', key, 0, chunk - 1, 'WITHSCORES')
  for i = 1, #members, 2 do
    local t = tonumber(members[i + 1])
    -- Stamped with the sample's own time: it is kept as long as a retry of it can come.
    if t >= now - keep_ms then
      local hex = redis.sha1hex(members[i])
      local bytes = {}
      for j = 1, 16, 2 do bytes[#bytes + 1] = tonumber(string.sub(hex, j, j + 1), 16) end
      local hash = char(unpack(bytes))
      local shard_key = dedup_key(p, hash)
      local shard = redis.call('GET', shard_key)
      if not dedup_has(shard, hash) then dedup_add(shard_key, shard, { hash }, t, keep_ms) end
    end
  end
  if #members > 0 then redis.call('ZREMRANGEBYRANK', key, 0, #members / 2 - 1) end
  return redis.call('ZCARD', key)
end

if kind == 'stored' then
  local key = p .. 'stored'
  local members = redis.call('ZRANGE', key, 0, chunk - 1, 'WITHSCORES')
  local kept = p .. 'kept'
  for i = 1, #members, 2 do
    local hour = math.floor(tonumber(members[i + 1]) / RAW_BLOCK_MS)
    if (hour + 1) * RAW_BLOCK_MS + raw_retention > now then
      redis.call('HINCRBY', kept, string.format('%d', hour), 1)
      redis.call('PEXPIREAT', kept, math.max(redis.call('PEXPIRETIME', kept), (hour + 1) * RAW_BLOCK_MS + raw_retention))
    end
  end
  if #members > 0 then redis.call('ZREMRANGEBYRANK', key, 0, #members / 2 - 1) end
  return redis.call('ZCARD', key)
end

return redis.error_reply('unknown layout-1 key kind ' .. tostring(kind))
