-- Folds samples of one host into its keys, atomically (runs after store.lua).
-- Idempotent: a sample whose id was folded before changes nothing, and a late
-- sample never replaces a newer latest value. History (raw points, one-minute
-- aggregates) is written only when the recording rules keep the sample's time.
--
-- ARGV[1] host  [2] horizon ms (SAMPLE_MAX_AGE)  [3] raw retention ms  [4] minute retention ms
-- [5] paused stretches "from-to,from-" and [6] wiped_before: all hosts' rules, used when the
--     host has no copy of its own yet
-- then per sample, four each: id hash (8 bytes), time (epoch ms), interval (s, 0 = unknown),
--     metrics "name token name token ..." (tokens: codec.ts valueToken)
-- Returns per sample: 1 folded into history, 2 folded but not recorded (paused or wiped),
-- 0 folded before, -1 older than the horizon.
local function recorded_at(t, paused, wiped_before)
  if t < wiped_before then return false end
  for from, to in string.gmatch(paused, '(%d+)-(%d*)') do
    if t >= tonumber(from) and (to == '' or t < tonumber(to)) then return false end
  end
  return true
end

local function fold_host(ARGV)
  local host = ARGV[1]
  local p = host_prefix(host)
  local horizon = tonumber(ARGV[2])
  local raw_retention = tonumber(ARGV[3])
  local minute_retention = tonumber(ARGV[4])
  local keep_ms = dedup_keep_ms(horizon)
  local now = redis_now()

  local rules = redis.call('HMGET', p .. 'rec', 'paused', 'wiped_before')
  local paused, wiped_before
  if rules[1] or rules[2] then
    paused, wiped_before = rules[1] or '', tonumber(rules[2] or '0')
  else
    paused, wiped_before = ARGV[5], tonumber(ARGV[6])
  end

  local meta = p .. 'meta'
  local latest = p .. 'latest'
  local outcomes = {}
  for i = 7, #ARGV, 4 do
    local hash, time_text, interval_text, packed = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    local t = tonumber(time_text)
    local outcome
    local shard_key = dedup_key(p, hash)
    local shard = t >= now - horizon and redis.call('GET', shard_key)
    if t < now - horizon then
      outcome = -1
    elseif dedup_has(shard, hash) then
      outcome = 0
    else
      dedup_add(shard_key, shard or nil, hash, now, keep_ms)

      local names, tokens = {}, {}
      for name, token in string.gmatch(packed, '(%S+) (%S+)') do
        names[#names + 1] = name
        tokens[#tokens + 1] = token
      end
      local n = #names

      local m = redis.call('HMGET', meta, 'last_seen', 'first_seen')
      local last_seen = tonumber(m[1] or '-1')
      local first_seen = tonumber(m[2] or '-1')

      -- Latest values: one write when the sample is the newest (the usual case),
      -- a per-metric comparison only for a late one.
      local updates = {}
      if t >= last_seen then
        for j = 1, n do
          updates[#updates + 1] = names[j]
          updates[#updates + 1] = time_text .. '|' .. tokens[j]
        end
      else
        local current = redis.call('HMGET', latest, unpack(names))
        for j = 1, n do
          if not current[j] or tonumber(string.match(current[j], '^(%d+)')) <= t then
            updates[#updates + 1] = names[j]
            updates[#updates + 1] = time_text .. '|' .. tokens[j]
          end
        end
      end
      if #updates > 0 then redis.call('HSET', latest, unpack(updates)) end
      redis.call('SADD', p .. 'metrics', unpack(names))

      if recorded_at(t, paused, wiped_before) then
        outcome = 1
        local raw_kept = t >= now - raw_retention
        local states = redis.call('HMGET', p .. 'state', unpack(names))
        local block = raw_kept and raw_block_of(p, t, raw_retention)
        local writes = {}
        for j = 1, n do
          local state = load_state(states[j])
          local mantissa, scale_or_double = parse_token(tokens[j])
          local scale, double = scale_or_double, nil
          if not mantissa then scale, double = 0, scale_or_double end
          if raw_kept then put_raw(p, block, names[j], state, t, mantissa, scale, double) end
          put_minute(p, names[j], state, t, mantissa, scale, double, minute_retention)
          writes[#writes + 1] = names[j]
          writes[#writes + 1] = save_state(state)
        end
        redis.call('HSET', p .. 'state', unpack(writes))
        if raw_kept then
          -- Samples raw history keeps, per raw block hour: whole hours leave with their blocks.
          local hour = math.floor(t / RAW_BLOCK_MS)
          local kept = p .. 'kept'
          if redis.call('HINCRBY', kept, hour, 1) == 1 then
            for _, h in ipairs(redis.call('HKEYS', kept)) do
              if (tonumber(h) + 1) * RAW_BLOCK_MS + raw_retention <= now then redis.call('HDEL', kept, h) end
            end
            redis.call('PEXPIREAT', kept, (hour + 1) * RAW_BLOCK_MS + raw_retention)
          end
        end
      else
        outcome = 2
      end

      local meta_updates = {}
      if t >= last_seen then
        meta_updates[#meta_updates + 1] = 'last_seen'
        meta_updates[#meta_updates + 1] = time_text
        if tonumber(interval_text) > 0 then
          meta_updates[#meta_updates + 1] = 'interval'
          meta_updates[#meta_updates + 1] = interval_text
        end
      end
      if first_seen < 0 or t < first_seen then
        meta_updates[#meta_updates + 1] = 'first_seen'
        meta_updates[#meta_updates + 1] = time_text
      end
      if #meta_updates > 0 then redis.call('HSET', meta, unpack(meta_updates)) end
      redis.call('HINCRBY', meta, 'samples', 1)
    end
    outcomes[#outcomes + 1] = outcome
  end
  return outcomes
end

-- The keys that span hosts: the newest value of each metric from any host, and
-- the host list. Order-free: a value replaces the stored one only when it is
-- newer (ties go to the greater host name), so redeliveries and late samples
-- leave the newest in place. Runs before the host's own fold, so a sample marked
-- folded has been folded here.
local function fold_latest(latest_key, hosts_key, host, time_text, interval_text, packed)
  local t = tonumber(time_text)
  local prefix = time_text .. '|' .. host .. '|' .. interval_text .. '|'
  local names, tokens = {}, {}
  for name, token in string.gmatch(packed, '(%S+) (%S+)') do
    names[#names + 1] = name
    tokens[#tokens + 1] = token
  end
  if #names == 0 then return end
  local current = redis.call('HMGET', latest_key, unpack(names))
  local updates = {}
  for i = 1, #names do
    local newer = true
    if current[i] then
      local ct, ch = string.match(current[i], '^(%d+)|([^|]*)|')
      ct = tonumber(ct)
      newer = t > ct or (t == ct and host >= ch)
    end
    if newer then
      updates[#updates + 1] = names[i]
      updates[#updates + 1] = prefix .. tokens[i]
    end
  end
  if #updates > 0 then redis.call('HSET', latest_key, unpack(updates)) end
  redis.call('ZADD', hosts_key, 'GT', t, host)
end
