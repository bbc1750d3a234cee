-- The Redis side of the history codec's writer: applying the blocks encode.ts
-- made, and the dedup record (which must be searched where it lives). The format
-- is described in codec.ts; the three files change together or not at all.
-- Every function here runs inside one script call for one host (one hash tag),
-- so each keeps its invariants atomically. Never writes outside the host's keys.

local RAW_BLOCK_MS = 3600000
local BLOCK_VERSION = '\1'
local DEDUP_SHARDS = 64
local DEDUP_ENTRY = 12
-- A retried sample may come until its own time plus SAMPLE_MAX_AGE; its time may
-- be up to MAX_CLOCK_SKEW ahead of the clock that stamped its dedup entry.
local DEDUP_MARGIN_MS = 600000

local floor, byte, sub = math.floor, string.byte, string.sub

-- A block grows with spare room behind it (Redis doubles a string it appends to);
-- rewriting it once it is closed gives the room back.
local function trim_block(key)
  local text = redis.call('GET', key)
  if text then redis.call('SET', key, text, 'KEEPTTL') end
end

-- Appends a write encode.ts made. A block that did not exist (new, or gone under
-- its chain) gets the version byte, and its first item in the form that needs
-- nothing before it (`fresh`), and its expiry.
local function apply_block(key, bytes, fresh, first_length, expire_at)
  if redis.call('APPEND', key, bytes) == #bytes then
    redis.call('SET', key, BLOCK_VERSION .. fresh .. sub(bytes, first_length + 1))
    redis.call('PEXPIREAT', key, expire_at)
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

-- Adds entries (an 8-byte id hash and a 4-byte stamp: the second it was folded) to
-- a shard. Once the oldest entry has been past keeping for a quarter of the
-- keeping time, the shard is rewritten without the entries past keeping; so it is
-- rewritten about four times per keeping time.
local function dedup_add(key, shard, entries, now_ms, keep_ms)
  local now_s = floor(now_ms / 1000)
  local keep_s = math.ceil(keep_ms / 1000)
  if shard and #shard >= DEDUP_ENTRY and now_s - struct.unpack('>I4', shard, 9) > keep_s * 1.25 then
    local kept = {}
    for at = 1, #shard - DEDUP_ENTRY + 1, DEDUP_ENTRY do
      if struct.unpack('>I4', shard, at + 8) >= now_s - keep_s then
        kept[#kept + 1] = sub(shard, at, at + DEDUP_ENTRY - 1)
      end
    end
    redis.call('SET', key, table.concat(kept) .. table.concat(entries), 'PX', keep_ms)
    return
  end
  redis.call('APPEND', key, table.concat(entries))
  redis.call('PEXPIRE', key, keep_ms)
end

local function dedup_stamp(now_ms)
  return struct.pack('>I4', floor(now_ms / 1000))
end

local function host_prefix(host)
  return 'ls:{' .. host .. '}:'
end

local function redis_now()
  local clock = redis.call('TIME')
  return tonumber(clock[1]) * 1000 + floor(tonumber(clock[2]) / 1000)
end
