-- Opens an absent rule's incident for a host that went silent, atomically, so
-- that any number of rules consumers checking the same host at once open one
-- incident per episode. Every other open incident of the host ends with it
-- (resolution host_silent): without samples nothing could ever resolve them.
--
-- Silent means: the host's newest sample reached the stream more than
-- `intervals` of its own intervals before the horizon, the time up to which
-- the rules consumers have taken every sample the stream holds. Judging by the
-- horizon rather than the clock keeps a consumer that is catching up on a
-- backlog from calling every host silent.
--
-- KEYS[1] the host's liveness (ls:{host}:alive); every key shares the host's tag.
-- ARGV: 1 key prefix ls:{host}:  2 host  3 rule  4 intervals  5 severity  6 horizon (epoch ms)
--       7 how long to keep a resolved incident (ms)
-- Returns {0} for a host never seen, {1, deadline} for one not silent yet, {2} when this
-- rule's incident is open already, {3, deadline, id} when it opened one.
local p = ARGV[1]
local host, rule = ARGV[2], ARGV[3]
local a = redis.call('HMGET', KEYS[1], 'arrival', 'interval')
if not a[1] then return {0} end
local interval = tonumber(a[2])
local deadline = tonumber(a[1]) + math.floor(tonumber(ARGV[4]) * interval)
local deadline_text = string.format('%d', deadline)
if deadline >= tonumber(ARGV[6]) then return {1, deadline_text} end
local state = p .. 'rule:' .. rule
if redis.call('HEXISTS', state, 'open_id') == 1 then return {2} end

-- Named by host, rule and the moment the host counted as silent: the same episode, the same id.
local id = string.sub(redis.sha1hex(host .. '|' .. rule .. '|' .. deadline_text), 1, 16)
redis.call('HSET', p .. 'incident:' .. id,
  'id', id, 'rule', rule, 'kind', 'absent', 'host', host, 'metric', '', 'severity', ARGV[5],
  'state', 'open', 'opened_at', deadline_text, 'aggregate', '', 'op', '',
  'threshold', ARGV[4], 'resolve_threshold', ARGV[4],
  'window', string.format('%g intervals of %gs', tonumber(ARGV[4]), interval / 1000),
  'count', 0, 'sum', 0, 'min', 0, 'max', 0, 'trigger', '[]', 'last_arrival', a[1])
redis.call('HSET', state, 'open_id', id)
-- The episode lasts as long as the silence: its state must not expire under it.
redis.call('PERSIST', state)
local open = p .. 'incidents-open'
redis.call('SADD', open, id)
local outbox = p .. 'incident-outbox'
redis.call('RPUSH', outbox, 'opened|' .. id)

for _, other in ipairs(redis.call('SMEMBERS', open)) do
  if other ~= id then
    local incident = p .. 'incident:' .. other
    local f = redis.call('HMGET', incident, 'kind', 'rule', 'opened_at')
    if not f[2] then
      redis.call('SREM', open, other)
    elseif f[1] ~= 'absent' then
      local ended = math.max(deadline, tonumber(f[3]))
      redis.call('HSET', incident, 'state', 'resolved', 'resolved_at', string.format('%d', ended),
        'resolution', 'host_silent')
      redis.call('PEXPIRE', incident, tonumber(ARGV[7]))
      -- The rule starts afresh when samples come back: the old window says nothing of the new episode.
      redis.call('HDEL', p .. 'rule:' .. f[2], 'open_id', 'cond_since')
      redis.call('DEL', p .. 'window:' .. f[2])
      redis.call('SREM', open, other)
      redis.call('RPUSH', outbox, 'resolved|' .. other)
    end
  end
end
return {3, deadline_text, id}
