-- The writer half of the history codec: how points, minute aggregates and the
-- dedup record are put into a host's keys. The format is described in codec.ts,
-- which reads what this writes; the two change together or not at all.
-- Every function here runs inside one script call for one host (one hash tag),
-- so each keeps its invariants atomically. Never writes outside the host's keys.

local RAW_BLOCK_MS = 3600000
local DAY_MS = 86400000
local MINUTE_MS = 60000
local BLOCK_VERSION = '\1'
local DEDUP_SHARDS = 64
local DEDUP_ENTRY = 12
-- A retried sample may come until its own time plus SAMPLE_MAX_AGE; its time may
-- be up to MAX_CLOCK_SKEW ahead of the clock that stamped its dedup entry.
local DEDUP_MARGIN_MS = 600000
-- Decimal mantissas and every sum, difference and zigzag of them stay exact integers in a double.
local MANTISSA_LIMIT = 562949953421312 -- 2^49
local AGGREGATE_LIMIT = 1125899906842624 -- 2^50
local POW10 = {}
for i = 0, 15 do POW10[i] = 10 ^ i end

local floor, char, byte, sub = math.floor, string.char, string.byte, string.sub

local function varint(n)
  if n < 128 then return char(n) end
  if n < 16384 then return char(n % 128 + 128, floor(n / 128)) end
  if n < 2097152 then return char(n % 128 + 128, floor(n / 128) % 128 + 128, floor(n / 16384)) end
  local out = {}
  while n >= 128 do
    out[#out + 1] = n % 128 + 128
    n = floor(n / 128)
  end
  out[#out + 1] = n
  return char(unpack(out))
end

local function zigzag(n)
  if n >= 0 then return n * 2 end
  return -n * 2 - 1
end

-- A value token (codec.ts valueToken): "f<text>" a double kept whole, else a decimal
-- "<mantissa>" or "<mantissa>e-<scale>". Returns mantissa, scale or nil, double.
local function parse_token(token)
  if byte(token, 1) == 102 then return nil, tonumber(sub(token, 2)) end
  local e = string.find(token, 'e', 2, true)
  if e then return tonumber(sub(token, 1, e - 1)), tonumber(sub(token, e + 2)) end
  return tonumber(token), 0
end

-- The per-metric append state: where the raw chain and the pending minute stand.
-- 1 raw block (hour, -1 none) 2 last time 3 last interval 4 scale 5 mantissa
-- 6 pending minute (ms, -1 none) 7 count 8 doubles (1) or decimal (0) 9 scale 10 sum 11 min 12 max
-- 13 aggregate chain day (-1 none) 14 its last minute of day 15 its last min 16 that min's scale
-- 17 its last count
local STATE = '<ddddddddddddddddd'

local function load_state(text)
  if not text then return { -1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0 } end
  return { struct.unpack(STATE, text) }
end

local function save_state(state)
  return struct.pack(STATE, unpack(state, 1, 17))
end

-- What one call appends, gathered so that each block gets one APPEND at the end.
-- A block that did not exist gets the version byte and, in place of its first
-- point, `fresh`: a form of that point that needs nothing before it.
local function new_writes()
  return { keys = {}, by_key = {}, trims = {} }
end

local function emit(writes, key, point, fresh, expire_at)
  local w = writes.by_key[key]
  if w then
    w.parts[#w.parts + 1] = point
    return
  end
  writes.by_key[key] = { parts = { point }, fresh = fresh, first = #point, expire_at = expire_at }
  writes.keys[#writes.keys + 1] = key
end

-- A block grows with spare room behind it (Redis doubles a string it appends to);
-- rewriting it once it is closed gives the room back.
local function trim_block(key)
  local text = redis.call('GET', key)
  if text then redis.call('SET', key, text, 'KEEPTTL') end
end

local function flush_writes(writes)
  for _, key in ipairs(writes.keys) do
    local w = writes.by_key[key]
    local text = table.concat(w.parts)
    if redis.call('APPEND', key, text) == #text then
      redis.call('SET', key, BLOCK_VERSION .. w.fresh .. sub(text, w.first + 1))
      redis.call('PEXPIREAT', key, w.expire_at)
    end
  end
  for _, key in ipairs(writes.trims) do trim_block(key) end
end

local function raw_key(prefix, hour, metric)
  return prefix .. 'r:' .. string.format('%d', hour) .. ':' .. metric
end

-- What put_raw needs of a sample's time, worked out once for all its metrics.
local function raw_block_of(prefix, t, raw_retention)
  local hour = floor(t / RAW_BLOCK_MS)
  return {
    hour = hour,
    keys = prefix .. 'r:' .. string.format('%d', hour) .. ':',
    offset = t - hour * RAW_BLOCK_MS,
    expire_at = (hour + 1) * RAW_BLOCK_MS + raw_retention,
  }
end

local function raw_base(offset, scale, mantissa, interval)
  return '\3' .. varint(offset) .. char(scale) .. varint(zigzag(mantissa)) .. varint(zigzag(interval))
end

local function raw_single(offset, scale, mantissa)
  return '\7' .. varint(offset) .. char(scale) .. varint(zigzag(mantissa))
end

local function raw_double(offset, value)
  return '\11' .. varint(offset) .. struct.pack('<d', value)
end

-- One raw point (block: raw_block_of the sample's time). In time order within the
-- open block it is a step (same interval) or a jump from the last point;
-- otherwise a base or a standalone point.
local function put_raw(writes, prefix, block, metric, state, t, mantissa, scale, double)
  local hour = block.hour
  local key = block.keys .. metric
  if not mantissa then
    local point = raw_double(block.offset, double)
    emit(writes, key, point, point, block.expire_at)
    return
  end
  if state[1] == hour and t >= state[2] then
    local delta = t - state[2]
    local m = mantissa
    if scale < state[4] then m = mantissa * POW10[state[4] - scale] end
    if scale <= state[4] and m < MANTISSA_LIMIT and m > -MANTISSA_LIMIT then
      local dod = delta - state[3]
      local dv = zigzag(m - state[5])
      local point
      if dod == 0 then
        point = varint(dv * 2)
      else
        point = varint(dv * 4 + 1) .. varint(zigzag(dod))
      end
      emit(writes, key, point, raw_base(block.offset, state[4], m, delta), block.expire_at)
      state[2], state[3], state[5] = t, delta, m
      return
    end
    -- A finer scale than the chain's: the chain starts again from this point.
    local base = raw_base(block.offset, scale, mantissa, delta)
    emit(writes, key, base, base, block.expire_at)
    state[2], state[3], state[4], state[5] = t, delta, scale, mantissa
    return
  end
  if state[1] < hour then
    -- A newer block: its chain carries on the interval, so its second point is a step too.
    local interval = 0
    if state[1] >= 0 then
      writes.trims[#writes.trims + 1] = raw_key(prefix, state[1], metric)
      interval = t - state[2]
    end
    local base = raw_base(block.offset, scale, mantissa, interval)
    emit(writes, key, base, base, block.expire_at)
    state[1], state[2], state[3], state[4], state[5] = hour, t, interval, scale, mantissa
    return
  end
  -- Late: the chain goes on from its own last point.
  local point = raw_single(block.offset, scale, mantissa)
  emit(writes, key, point, point, block.expire_at)
end

local function minute_key(prefix, day, metric)
  return prefix .. 'm:' .. string.format('%d', day) .. ':' .. metric
end

-- kind 0 chained, 1 base, 2 standalone; see codec.ts for the fields.
local function minute_record(kind, minute_of_day, count, doubles, scale, sum, low, high, last)
  local header = kind + (doubles and 4 or 0) + scale * 8
  local out
  if kind ~= 0 then
    out = char(header) .. varint(minute_of_day) .. varint(count)
  elseif minute_of_day == last[14] + 1 and count == last[17] then
    -- The usual record: the minute after the last one, as many values as it.
    out = char(header + 128)
  else
    out = char(header) .. varint(zigzag(minute_of_day - last[14])) .. varint(count)
  end
  if doubles then return out .. struct.pack('<ddd', sum, low, high) end
  local from = 0
  if kind == 0 and scale == last[16] then from = last[15] end
  return out .. varint(zigzag(low - from)) .. varint(high - low) .. varint(sum - count * low)
end

local function pending_start(state, minute, mantissa, scale, double)
  state[6], state[7] = minute, 1
  if mantissa then
    state[8], state[9], state[10], state[11], state[12] = 0, scale, mantissa, mantissa, mantissa
  else
    state[8], state[9], state[10], state[11], state[12] = 1, 0, double, double, double
  end
end

local function pending_add(state, mantissa, scale, double)
  if state[8] == 0 and mantissa then
    local s, sum, low, high, m = state[9], state[10], state[11], state[12], mantissa
    if scale > s then
      local k = POW10[scale - s]
      s, sum, low, high = scale, sum * k, low * k, high * k
    elseif scale < s then
      m = mantissa * POW10[s - scale]
    end
    sum = sum + m
    if m < low then low = m end
    if m > high then high = m end
    local count = state[7] + 1
    local widest = math.max(math.abs(low), math.abs(high))
    if math.abs(sum) < AGGREGATE_LIMIT and widest * count < AGGREGATE_LIMIT then
      state[7], state[9], state[10], state[11], state[12] = count, s, sum, low, high
      return
    end
  end
  -- Doubles from here on: a double that is no short decimal, or sums too large to keep exact.
  local v = double
  if mantissa then v = mantissa / POW10[scale] end
  if state[8] == 0 then
    local d = POW10[state[9]]
    state[8], state[9], state[10], state[11], state[12] = 1, 0, state[10] / d, state[11] / d, state[12] / d
  end
  state[7] = state[7] + 1
  state[10] = state[10] + v
  if v < state[11] then state[11] = v end
  if v > state[12] then state[12] = v end
end

-- Moves the pending minute into its day's block, chained to the record before it.
local function pending_flush(writes, prefix, metric, state, minute_retention)
  if state[6] < 0 then return end
  local day = floor(state[6] / DAY_MS)
  local minute_of_day = (state[6] - day * DAY_MS) / MINUTE_MS
  local doubles = state[8] == 1
  local fresh = minute_record(1, minute_of_day, state[7], doubles, state[9], state[10], state[11], state[12])
  local record = fresh
  if state[13] == day then
    record = minute_record(0, minute_of_day, state[7], doubles, state[9], state[10], state[11], state[12], state)
  elseif state[13] >= 0 then
    writes.trims[#writes.trims + 1] = minute_key(prefix, state[13], metric)
  end
  emit(writes, minute_key(prefix, day, metric), record, fresh, (day + 1) * DAY_MS + minute_retention)
  state[13], state[14], state[17] = day, minute_of_day, state[7]
  -- A record of doubles leaves no decimal min to count from (chained or base alike).
  if doubles then
    state[15], state[16] = 0, 0
  else
    state[15], state[16] = state[11], state[9]
  end
  state[6] = -1
end

-- One value into the minute aggregates: the pending minute, or a standalone record for a closed one.
local function put_minute(writes, prefix, metric, state, t, mantissa, scale, double, minute_retention)
  local minute = t - t % MINUTE_MS
  if state[6] == minute then
    pending_add(state, mantissa, scale, double)
  elseif state[6] < minute then
    pending_flush(writes, prefix, metric, state, minute_retention)
    pending_start(state, minute, mantissa, scale, double)
  else
    local day = floor(minute / DAY_MS)
    local minute_of_day = (minute - day * DAY_MS) / MINUTE_MS
    local record
    if mantissa then
      record = minute_record(2, minute_of_day, 1, false, scale, mantissa, mantissa, mantissa)
    else
      record = minute_record(2, minute_of_day, 1, true, 0, double, double, double)
    end
    emit(writes, minute_key(prefix, day, metric), record, record, (day + 1) * DAY_MS + minute_retention)
  end
end

local function dedup_key(prefix, hash)
  return prefix .. 'd:' .. (byte(hash, 1) % DEDUP_SHARDS)
end

local function dedup_keep_ms(horizon)
  return horizon + DEDUP_MARGIN_MS
end

-- Whether the 8-byte id hash is in the shard (entries are 12 bytes: hash, then a stamp).
local function dedup_has(shard, hash)
  if not shard then return false end
  local from = 1
  while true do
    local at = string.find(shard, hash, from, true)
    if not at then return false end
    if (at - 1) % DEDUP_ENTRY == 0 then return true end
    from = at + 1
  end
end

-- Adds id hashes to a shard, stamped with the second they were folded (stamp_ms). Once
-- the oldest entry has been past keeping for a quarter of the keeping time, the
-- shard is rewritten without the entries past keeping; so it is rewritten about
-- four times per keeping time.
local function dedup_add(key, shard, entries, stamp_ms, keep_ms)
  local now_s = floor(stamp_ms / 1000)
  local keep_s = math.ceil(keep_ms / 1000)
  local added = {}
  for i, hash in ipairs(entries) do added[i] = hash .. struct.pack('>I4', now_s) end
  if shard and #shard >= DEDUP_ENTRY and now_s - struct.unpack('>I4', shard, 9) > keep_s * 1.25 then
    local kept = {}
    for at = 1, #shard - DEDUP_ENTRY + 1, DEDUP_ENTRY do
      if struct.unpack('>I4', shard, at + 8) >= now_s - keep_s then
        kept[#kept + 1] = sub(shard, at, at + DEDUP_ENTRY - 1)
      end
    end
    redis.call('SET', key, table.concat(kept) .. table.concat(added), 'PX', keep_ms)
    return
  end
  redis.call('APPEND', key, table.concat(added))
  redis.call('PEXPIRE', key, keep_ms)
end

local function host_prefix(host)
  return 'ls:{' .. host .. '}:'
end

local function redis_now()
  local clock = redis.call('TIME')
  return tonumber(clock[1]) * 1000 + floor(tonumber(clock[2]) / 1000)
end
