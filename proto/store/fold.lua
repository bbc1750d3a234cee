-- Folds samples of one host into its keys, atomically (runs after store.lua).
-- encode.ts has turned the samples into block bytes and new append states,
-- starting from the states it read (their version) under the recording rules it
-- read; this script applies that only if both are still what Redis holds, and
-- only if every sample is new. Otherwise it applies nothing and answers which
-- samples to encode again (9), which were folded before (0) and which are too
-- old (-1). So a sample is folded once, whatever runs beside it.
--
-- Every fold script takes the same arguments, so that one call carries the
-- samples of many requests (group commit):
-- ARGV[1] horizon ms (SAMPLE_MAX_AGE)  [2] raw retention ms
-- then groups, one per host: host, state version read, paused and wiped_before as
-- encode.ts used them, n, then per sample: id hash (8 bytes), time (epoch ms),
-- interval (s, 0 = unknown), metrics "name token ..." (codec.ts valueToken), recorded
-- (1 or 0); the block writes packed in one argument (BLOCK_WRITE); nt, then key
-- suffixes of blocks to trim; the new states packed in one argument (STATE_WRITE);
-- nk, then raw block hour and samples kept in it.
-- A sample's outcome: 1 folded into history, 2 folded but not recorded (paused or
-- wiped), 0 folded before, -1 older than the horizon, 9 encode again and retry.

-- encode.ts packBlockWrites and packStates: per block write, key suffix, bytes,
-- fresh first item, first item's length, expiry (epoch ms); per state, metric
-- and state. Lengths lead the strings (struct's c0 takes the number before it).
local BLOCK_WRITE = '>Hc0Ic0Ic0Id'
local STATE_WRITE = '>Bc0Hc0'

local function parse_metrics(packed)
  local names, tokens = {}, {}
  for name, token in string.gmatch(packed, '(%S+) (%S+)') do
    names[#names + 1] = name
    tokens[#tokens + 1] = token
  end
  return names, tokens
end

-- The rules the fold judges a host's samples by: its own copy, else all hosts'
-- (read here on one server; on a Cluster, the copy the caller watched).
local function effective_rules(p, all_paused, all_wiped)
  local rules = redis.call('HMGET', p .. 'rec', 'paused', 'wiped_before')
  if rules[1] or rules[2] then return rules[1] or '', rules[2] or '0' end
  return all_paused, all_wiped
end

-- Folds one host's group (it starts at args[at]); appends the outcomes and
-- returns where the next group starts.
local function fold_host(args, at, all_rules, outcomes)
  local host, version, paused, wiped = args[at], args[at + 1], args[at + 2], args[at + 3]
  local n = tonumber(args[at + 4])
  local first = at + 5
  local blocks_at = first + 5 * n
  local trims_at = blocks_at + 1
  local nt = tonumber(args[trims_at])
  local states_at = trims_at + 1 + nt
  local kept_at = states_at + 1
  local nk = tonumber(args[kept_at])
  local next_group = kept_at + 1 + 2 * nk

  local p = host_prefix(host)
  local horizon = tonumber(args[1])
  local raw_retention = tonumber(args[2])
  local now = redis_now()
  local state_key = p .. 'state'

  local all_paused, all_wiped = paused, wiped
  if all_rules then all_paused, all_wiped = all_rules[1] or '', all_rules[2] or '0' end
  local rules_paused, rules_wiped = effective_rules(p, all_paused, all_wiped)
  local current = redis.call('HGET', state_key, '~v') or '0'
  if current ~= version or rules_paused ~= paused or rules_wiped ~= wiped then
    for _ = 1, n do outcomes[#outcomes + 1] = 9 end
    return next_group
  end

  -- Which samples are new: the dedup record, read once per shard, and this call's own ids.
  local shards, shard_keys = {}, {}
  local verdicts = {}
  local settled = false
  for k = 0, n - 1 do
    local i = first + 5 * k
    local hash = args[i]
    if tonumber(args[i + 1]) < now - horizon then
      verdicts[k + 1] = -1
      settled = true
    else
      local key = dedup_key(p, hash)
      local shard = shards[key]
      if not shard then
        shard = { text = redis.call('GET', key), seen = {}, added = {} }
        shards[key] = shard
        shard_keys[#shard_keys + 1] = key
      end
      if shard.seen[hash] or dedup_has(shard.text, hash) then
        verdicts[k + 1] = 0
        settled = true
      else
        shard.seen[hash] = true
        shard.added[#shard.added + 1] = hash
      end
    end
  end
  if settled then
    -- The encoding counted samples that must not be folded: nothing is applied.
    for k = 1, n do outcomes[#outcomes + 1] = verdicts[k] or 9 end
    return next_group
  end

  local stamp = dedup_stamp(now)
  local keep_ms = dedup_keep_ms(horizon)
  for _, key in ipairs(shard_keys) do
    local shard = shards[key]
    local entries = {}
    for j, hash in ipairs(shard.added) do entries[j] = hash .. stamp end
    dedup_add(key, shard.text, entries, now, keep_ms)
  end

  -- Every metric name the samples carry, once each; the newest value of each wins.
  local meta = p .. 'meta'
  local m = redis.call('HMGET', meta, 'last_seen', 'first_seen')
  local last_seen = tonumber(m[1] or '-1')
  local first_seen = tonumber(m[2] or '-1')
  local union, seen_name = {}, {}
  local samples = {}
  local any_late = false
  for k = 0, n - 1 do
    local i = first + 5 * k
    local names, tokens = parse_metrics(args[i + 3])
    local t = tonumber(args[i + 1])
    samples[k + 1] = { t = t, time_text = args[i + 1], interval_text = args[i + 2], names = names, tokens = tokens }
    if t < last_seen then any_late = true end
    for _, name in ipairs(names) do
      if not seen_name[name] then
        seen_name[name] = true
        union[#union + 1] = name
      end
    end
  end
  -- The stored latest values matter only for a sample older than the host's newest.
  local stored = {}
  if any_late and #union > 0 then
    local values = redis.call('HMGET', p .. 'latest', unpack(union))
    for j, name in ipairs(union) do
      if values[j] then stored[name] = tonumber(string.match(values[j], '^(%d+)')) end
    end
  end
  local winner = {}
  for _, s in ipairs(samples) do
    for j, name in ipairs(s.names) do
      local best = winner[name]
      local time = best and best.t or stored[name]
      if not time or time <= s.t then winner[name] = { t = s.t, text = s.time_text .. '|' .. s.tokens[j] } end
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
  if #union > 0 then redis.call('SADD', p .. 'metrics', unpack(union)) end

  -- History, as encoded: block bytes, closed blocks trimmed, the new states.
  local writes, at_byte = args[blocks_at], 1
  while at_byte <= #writes do
    local suffix, bytes, fresh, first_length, expire_at
    suffix, bytes, fresh, first_length, expire_at, at_byte = struct.unpack(BLOCK_WRITE, writes, at_byte)
    apply_block(p .. suffix, bytes, fresh, first_length, string.format('%d', expire_at))
  end
  for w = trims_at + 1, states_at - 1 do trim_block(p .. args[w]) end
  local states, saved = args[states_at], {}
  at_byte = 1
  while at_byte <= #states do
    local metric, state
    metric, state, at_byte = struct.unpack(STATE_WRITE, states, at_byte)
    saved[#saved + 1] = metric
    saved[#saved + 1] = state
  end
  if #saved > 0 then redis.call('HSET', state_key, unpack(saved)) end
  redis.call('HINCRBY', state_key, '~v', 1)
  -- Samples raw history keeps, per raw block hour: whole hours leave with their blocks.
  local kept = p .. 'kept'
  for w = kept_at + 1, next_group - 1, 2 do
    local hour, count = args[w], tonumber(args[w + 1])
    if redis.call('HINCRBY', kept, hour, count) == count then
      for _, h in ipairs(redis.call('HKEYS', kept)) do
        if (tonumber(h) + 1) * RAW_BLOCK_MS + raw_retention <= now then redis.call('HDEL', kept, h) end
      end
      redis.call('PEXPIREAT', kept, math.max(redis.call('PEXPIRETIME', kept), (tonumber(hour) + 1) * RAW_BLOCK_MS + raw_retention))
    end
  end

  -- Meta: the newest and oldest times seen, the interval of the newest, the count.
  local newest = nil
  for _, s in ipairs(samples) do
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
  redis.call('HINCRBY', meta, 'samples', n)

  for k = 0, n - 1 do outcomes[#outcomes + 1] = args[first + 5 * k + 4] == '1' and 1 or 2 end
  return next_group
end

-- The keys that span hosts: the newest value of each metric from any host, and
-- the host list. Order-free: a value replaces the stored one only when it is
-- newer (ties go to the greater host name), so redeliveries and late samples
-- leave the newest in place. Runs before the host's own fold, so a sample marked
-- folded has been folded here. One read and one write for a host's group.
local function fold_latest(latest_key, hosts_key, args, at)
  local host = args[at]
  local n = tonumber(args[at + 4])
  local first = at + 5
  local winner, union = {}, {}
  local newest = -1
  for k = 0, n - 1 do
    local i = first + 5 * k
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

-- Where the group after the one at `at` starts (its sections' counts lead the way).
local function next_group_of(args, at)
  local n = tonumber(args[at + 4])
  -- Past the samples and the packed block writes: the trims' count.
  local i = at + 5 + 5 * n + 1
  -- Past the trims and the packed states: the kept counts' count.
  i = i + 1 + tonumber(args[i]) + 1
  return i + 1 + 2 * tonumber(args[i])
end
