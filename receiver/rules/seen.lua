-- Records that a host's sample reached the stream, and ends the host's absent
-- incidents: samples came back. Atomic per host; a sample that reached the
-- stream no later than the newest one recorded (a redelivery, or a copy that
-- lost the race) changes nothing, so two rules consumers agree.
--
-- KEYS[1] the host's liveness (ls:{host}:alive: arrival, interval); every key shares the host's tag.
-- ARGV: 1 key prefix ls:{host}:  2 arrival (epoch ms, the stream's own timestamp)
--       3 the host's interval (ms)  4 how long to keep a resolved incident (ms)
-- Returns the ids of the incidents it resolved.
local p = ARGV[1]
local arrival = tonumber(ARGV[2])
local last = tonumber(redis.call('HGET', KEYS[1], 'arrival') or '-1')
if arrival <= last then return {} end
redis.call('HSET', KEYS[1], 'arrival', ARGV[2], 'interval', ARGV[3])
-- A host quiet for a month is forgotten here (its open absent incident is not: see absent.lua).
redis.call('PEXPIRE', KEYS[1], 30 * 86400000)

local resolved = {}
local open = p .. 'incidents-open'
for _, id in ipairs(redis.call('SMEMBERS', open)) do
  local incident = p .. 'incident:' .. id
  local f = redis.call('HMGET', incident, 'kind', 'rule')
  if f[1] == 'absent' then
    redis.call('HSET', incident, 'state', 'resolved', 'resolved_at', ARGV[2], 'resolution', 'recovered')
    redis.call('PEXPIRE', incident, tonumber(ARGV[4]))
    local state = p .. 'rule:' .. f[2]
    redis.call('HDEL', state, 'open_id')
    redis.call('PEXPIRE', state, 7 * 86400000)
    redis.call('SREM', open, id)
    redis.call('RPUSH', p .. 'incident-outbox', 'resolved|' .. id)
    resolved[#resolved + 1] = id
  elseif not f[2] then
    -- Expired or never written: nothing to end.
    redis.call('SREM', open, id)
  end
end
return resolved
