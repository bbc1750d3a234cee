-- Folds samples of one host into its keys, atomically (runs after store.lua).
-- Idempotent: a sample whose id was folded before changes nothing, and a late
-- sample never replaces a newer latest value. History (raw points, one-minute
-- aggregates) is written only when the recording rules keep the sample's time.
--
-- Every fold script takes the same arguments, so that one call can carry the
-- samples of many requests (group commit):
-- ARGV[1] horizon ms (SAMPLE_MAX_AGE)  [2] raw retention ms  [3] minute retention ms
-- [4] paused stretches "from-to,from-" and [5] wiped_before: all hosts' rules, used when a
--     host has no copy of its own yet
-- then groups, one per host: host, n, then n samples of four arguments each: id hash
-- (8 bytes), time (epoch ms), interval (s, 0 = unknown), metrics "name token name token ..."
-- (tokens: codec.ts valueToken).
-- A sample's outcome: 1 folded into history, 2 folded but not recorded (paused or wiped),
-- 0 folded before, -1 older than the horizon.
--
-- A host's samples in one call share one read and one write of each key they touch
-- (states, latest values, meta, each block): a batch costs far less per sample
-- than the same samples one by one.
local function recorded_at(t, paused, wiped_before)
  if t < wiped_before then return false end
  for from, to in string.gmatch(paused, '(%d+)-(%d*)') do
    if t >= tonumber(from) and (to == '' or t < tonumber(to)) then return false end
  end
  return true
end

local function parse_metrics(packed)
  local names, tokens = {}, {}
  for name, token in string.gmatch(packed, '(%S+) (%S+)') do
    names[#names + 1] = name
    tokens[#tokens + 1] = token
  end
  return names, tokens
end

-- Folds one host's group (its samples start at args[first]); appends the outcomes.
local function fold_host(host, args, first, n, outcomes)
  local p = host_prefix(host)
  local horizon = tonumber(args[1])
  local raw_retention = tonumber(args[2])
  local minute_retention = tonumber(args[3])
  local keep_ms = dedup_keep_ms(horizon)
  local now = redis_now()

  local rules = redis.call('HMGET', p .. 'rec', 'paused', 'wiped_before')
  local paused, wiped_before
  if rules[1] or rules[2] then
    paused, wiped_before = rules[1] or '', tonumber(rules[2] or '0')
  else
    paused, wiped_before = args[4], tonumber(args[5])
  end

  -- Which samples are new: the dedup record, read once per shard, and this call's own ids.
  local shards, shard_keys = {}, {}
  local accepted = {}
  for i = first, first + 4 * (n - 1), 4 do
    local hash, t = args[i], tonumber(args[i + 1])
    local outcome
    if t < now - horizon then
      outcome = -1
    else
      local key = dedup_key(p, hash)
      local shard = shards[key]
      if not shard then
        shard = { text = redis.call('GET', key), seen = {}, added = {} }
        shards[key] = shard
        shard_keys[#shard_keys + 1] = key
      end
      if shard.seen[hash] or dedup_has(shard.text, hash) then
        outcome = 0
      else
        shard.seen[hash] = true
        shard.added[#shard.added + 1] = hash
        local names, tokens = parse_metrics(args[i + 3])
        local recorded = recorded_at(t, paused, wiped_before)
        accepted[#accepted + 1] = {
          t = t, time_text = args[i + 1], interval_text = args[i + 2],
          names = names, tokens = tokens, recorded = recorded,
        }
        outcome = recorded and 1 or 2
      end
    end
    outcomes[#outcomes + 1] = outcome
  end
  for _, key in ipairs(shard_keys) do
    local shard = shards[key]
    if #shard.added > 0 then dedup_add(key, shard.text, shard.added, now, keep_ms) end
  end
  if #accepted == 0 then return end

  -- Every metric name the accepted samples carry, once each.
  local union, index = {}, {}
  for _, s in ipairs(accepted) do
    for _, name in ipairs(s.names) do
      if not index[name] then
        union[#union + 1] = name
        index[name] = #union
      end
    end
  end

  local meta = p .. 'meta'
  local m = redis.call('HMGET', meta, 'last_seen', 'first_seen')
  local last_seen = tonumber(m[1] or '-1')
  local first_seen = tonumber(m[2] or '-1')

  -- Latest values: the newest of each metric wins; the stored ones are read only
  -- when a sample is older than the host's newest (a late one).
  local stored = {}
  for _, s in ipairs(accepted) do
    if s.t < last_seen then
      local current = redis.call('HMGET', p .. 'latest', unpack(union))
      for j, name in ipairs(union) do
        if current[j] then stored[name] = tonumber(string.match(current[j], '^(%d+)')) end
      end
      break
    end
  end
  local winner = {}
  for _, s in ipairs(accepted) do
    for j, name in ipairs(s.names) do
      local best = winner[name]
      local at = best and best.t or stored[name]
      if not at or at <= s.t then winner[name] = { t = s.t, text = s.time_text .. '|' .. s.tokens[j] } end
    end
  end
  local updates = {}
  for _, name in ipairs(union) do
    if winner[name] then
      updates[#updates + 1] = name
      updates[#updates + 1] = winner[name].text
    end
  end
  if #updates > 0 then redis.call('HSET', p .. 'latest', unpack(updates)) end
  redis.call('SADD', p .. 'metrics', unpack(union))

  -- History: each metric's state read once, its chain and open minute carried
  -- through the samples in order, every block written once.
  local any_recorded = false
  for _, s in ipairs(accepted) do any_recorded = any_recorded or s.recorded end
  if any_recorded then
    local texts = redis.call('HMGET', p .. 'state', unpack(union))
    local states = {}
    for j, name in ipairs(union) do states[name] = load_state(texts[j]) end
    local writes = new_writes()
    local kept_by_hour, kept_hours = {}, {}
    for _, s in ipairs(accepted) do
      if s.recorded then
        local raw_kept = s.t >= now - raw_retention
        local block = raw_kept and raw_block_of(p, s.t, raw_retention)
        for j, name in ipairs(s.names) do
          local state = states[name]
          local mantissa, scale_or_double = parse_token(s.tokens[j])
          local scale, double = scale_or_double, nil
          if not mantissa then scale, double = 0, scale_or_double end
          if raw_kept then put_raw(writes, p, block, name, state, s.t, mantissa, scale, double) end
          put_minute(writes, p, name, state, s.t, mantissa, scale, double, minute_retention)
        end
        if raw_kept then
          if not kept_by_hour[block.hour] then
            kept_by_hour[block.hour] = 0
            kept_hours[#kept_hours + 1] = block.hour
          end
          kept_by_hour[block.hour] = kept_by_hour[block.hour] + 1
        end
      end
    end
    flush_writes(writes)
    local saved = {}
    for _, name in ipairs(union) do
      saved[#saved + 1] = name
      saved[#saved + 1] = save_state(states[name])
    end
    redis.call('HSET', p .. 'state', unpack(saved))
    -- Samples raw history keeps, per raw block hour: whole hours leave with their blocks.
    local kept = p .. 'kept'
    for _, hour in ipairs(kept_hours) do
      if redis.call('HINCRBY', kept, string.format('%d', hour), kept_by_hour[hour]) == kept_by_hour[hour] then
        for _, h in ipairs(redis.call('HKEYS', kept)) do
          if (tonumber(h) + 1) * RAW_BLOCK_MS + raw_retention <= now then redis.call('HDEL', kept, h) end
        end
        redis.call('PEXPIREAT', kept, math.max(redis.call('PEXPIRETIME', kept), (hour + 1) * RAW_BLOCK_MS + raw_retention))
      end
    end
  end

  -- Meta: the newest and oldest times seen, the interval of the newest, the count.
  local newest = nil
  for _, s in ipairs(accepted) do
    if s.t >= last_seen and (not newest or s.t >= newest.t) then newest = s end
    if first_seen < 0 or s.t < first_seen then first_seen = s.t end
  end
  local meta_updates = { 'first_seen', string.format('%d', first_seen) }
  if newest then
    meta_updates[#meta_updates + 1] = 'last_seen'
    meta_updates[#meta_updates + 1] = newest.time_text
    if tonumber(newest.interval_text) > 0 then
      meta_updates[#meta_updates + 1] = 'interval'
      meta_updates[#meta_updates + 1] = newest.interval_text
    end
  end
  redis.call('HSET', meta, unpack(meta_updates))
  redis.call('HINCRBY', meta, 'samples', #accepted)
end

-- Calls fold(host, first sample's index, n) for each group of the arguments.
local function each_group(args, fold)
  local i = 6
  while i <= #args do
    local host, n = args[i], tonumber(args[i + 1])
    fold(host, i + 2, n)
    i = i + 2 + 4 * n
  end
end

-- The keys that span hosts: the newest value of each metric from any host, and
-- the host list. Order-free: a value replaces the stored one only when it is
-- newer (ties go to the greater host name), so redeliveries and late samples
-- leave the newest in place. Runs before the host's own fold, so a sample marked
-- folded has been folded here. One read and one write for a host's group.
local function fold_latest(latest_key, hosts_key, host, args, first, n)
  local winner, union = {}, {}
  local newest = -1
  for i = first, first + 4 * (n - 1), 4 do
    local t = tonumber(args[i + 1])
    if t > newest then newest = t end
    local prefix = args[i + 1] .. '|' .. host .. '|' .. args[i + 2] .. '|'
    local names, tokens = parse_metrics(args[i + 3])
    for j, name in ipairs(names) do
      local best = winner[name]
      if not best then union[#union + 1] = name end
      if not best or best.t <= t then winner[name] = { t = t, text = prefix .. tokens[j] } end
    end
  end
  if #union == 0 then return end
  local current = redis.call('HMGET', latest_key, unpack(union))
  local updates = {}
  for i, name in ipairs(union) do
    local w = winner[name]
    local newer = true
    if current[i] then
      local ct, ch = string.match(current[i], '^(%d+)|([^|]*)|')
      ct = tonumber(ct)
      newer = w.t > ct or (w.t == ct and host >= ch)
    end
    if newer then
      updates[#updates + 1] = name
      updates[#updates + 1] = w.text
    end
  end
  if #updates > 0 then redis.call('HSET', latest_key, unpack(updates)) end
  redis.call('ZADD', hosts_key, 'GT', newest, host)
end
