-- Moves one chunk of a host's layout-1 key into layout 2 (runs after store.lua):
-- upgrade.ts read the chunk and encoded it; this removes exactly those entries
-- from the old key and applies what they became, in one step. If any entry is
-- gone already (another process converted it), it changes nothing and answers -1,
-- so nothing is converted twice and nothing is dropped unconverted.
--
-- ARGV[1] host  [2] how long dedup entries are kept (ms)  [3] old key's suffix
-- [4] its kind: zset or hash  [5] m, then m members
-- (zset) or fields (hash); then nb, per block write: key suffix, bytes, expiry (epoch ms);
-- then nd, per dedup entry: 12 bytes (id hash and stamp); then nk, per raw block hour:
-- hour, samples kept in it, expiry of the count.
-- Returns the entries the old key still holds, or -1.
local p = host_prefix(ARGV[1])
local keep_ms = tonumber(ARGV[2])
local old = p .. ARGV[3]
local kind = ARGV[4]
local m = tonumber(ARGV[5])
local entries = {}
for i = 6, 5 + m do entries[#entries + 1] = ARGV[i] end
local at = 6 + m

if m > 0 then
  local present
  if kind == 'zset' then
    present = redis.call('ZMSCORE', old, unpack(entries))
  else
    present = redis.call('HMGET', old, unpack(entries))
  end
  for i = 1, m do
    if not present[i] then return -1 end
  end
  if kind == 'zset' then redis.call('ZREM', old, unpack(entries)) else redis.call('HDEL', old, unpack(entries)) end
end

local nb = tonumber(ARGV[at])
for i = at + 1, at + 3 * nb, 3 do
  apply_block(p .. ARGV[i], ARGV[i + 1], ARGV[i + 1], #ARGV[i + 1], ARGV[i + 2])
end
at = at + 1 + 3 * nb

local nd = tonumber(ARGV[at])
local now = redis_now()
for i = at + 1, at + nd do
  local entry = ARGV[i]
  local hash = string.sub(entry, 1, 8)
  local key = dedup_key(p, hash)
  local shard = redis.call('GET', key)
  if not dedup_has(shard, hash) then
    dedup_add(key, shard, { entry }, now, keep_ms)
  end
end
at = at + 1 + nd

local nk = tonumber(ARGV[at])
for i = at + 1, at + 3 * nk, 3 do
  redis.call('HINCRBY', p .. 'kept', ARGV[i], ARGV[i + 1])
  redis.call('PEXPIREAT', p .. 'kept', math.max(redis.call('PEXPIRETIME', p .. 'kept'), tonumber(ARGV[i + 2])))
end

if kind == 'zset' then return redis.call('ZCARD', old) end
return redis.call('HLEN', old)
