-- Evaluates one rule on one host for one sample, atomically: the window, the
-- condition, and the incident's opening or resolution, so that a redelivered
-- sample or a restarted consumer can never open a second incident for one
-- episode. Samples are taken in time order: one not newer than the last one
-- evaluated for this rule and host is a redelivery (or too late) and changes nothing.
--
-- KEYS[1] the rule's state on this host (ls:{host}:rule:<rule>); every key shares the host's tag.
-- ARGV: 1 key prefix ls:{host}:  2 host  3 rule  4 metric  5 time  6 value  7 window kind (samples|ms)
--       8 window size  9 aggregate (avg|min|max)  10 op  11 threshold  12 resolve threshold
--       13 for (ms)  14 severity  15 window as written  16 how long to keep a resolved incident (ms)
-- Returns {1, transition ('' | 'opened' | 'resolved'), incident id} or {0, '', ''} for a stale sample.
local p = ARGV[1]
local host, rule, metric = ARGV[2], ARGV[3], ARGV[4]
local time_text, value_text = ARGV[5], ARGV[6]
local t, v = tonumber(time_text), tonumber(value_text)
local kind, size = ARGV[7], tonumber(ARGV[8])
local aggregate, op = ARGV[9], ARGV[10]
local threshold, resolve = tonumber(ARGV[11]), tonumber(ARGV[12])
local for_ms = tonumber(ARGV[13])
local state = KEYS[1]
local window = p .. 'window:' .. rule

local s = redis.call('HMGET', state, 'last_time', 'cond_since', 'open_id')
if s[1] and t <= tonumber(s[1]) then return {0, '', ''} end
redis.call('HSET', state, 'last_time', time_text)

redis.call('ZADD', window, t, time_text .. ':' .. value_text)
if kind == 'samples' then
  redis.call('ZREMRANGEBYRANK', window, 0, -(size + 1))
else
  redis.call('ZREMRANGEBYSCORE', window, '-inf', string.format('(%d', t - size))
end
-- Older than anything a rule could still need: a quiet host's window goes away by itself.
redis.call('PEXPIRE', window, 7 * 86400000)
redis.call('PEXPIRE', state, 7 * 86400000)

local members = redis.call('ZRANGE', window, 0, -1)
local values = {}
local low, high, sum = math.huge, -math.huge, 0
for i, member in ipairs(members) do
  local x = tonumber(string.match(member, ':(.+)$'))
  values[i] = x
  if x < low then low = x end
  if x > high then high = x end
  sum = sum + x
end
local full = kind ~= 'samples' or #values >= size
local agg = sum / #values
if aggregate == 'min' then agg = low elseif aggregate == 'max' then agg = high end

local function past(x, limit, comparison)
  if comparison == '>' then return x > limit end
  if comparison == '>=' then return x >= limit end
  if comparison == '<' then return x < limit end
  return x <= limit
end
-- Resolving is the opposite side of the resolve threshold.
local resolve_op = ({['>'] = '<', ['>='] = '<', ['<'] = '>', ['<='] = '>'})[op]

local open_id = s[3]
if open_id then
  local incident = p .. 'incident:' .. open_id
  local e = redis.call('HMGET', incident, 'count', 'sum', 'min', 'max')
  local emin, emax = tonumber(e[3]), tonumber(e[4])
  if v < emin then emin = v end
  if v > emax then emax = v end
  redis.call('HSET', incident, 'count', tonumber(e[1]) + 1, 'sum', string.format('%.17g', tonumber(e[2]) + v),
    'min', string.format('%.17g', emin), 'max', string.format('%.17g', emax))
  if full and past(agg, resolve, resolve_op) then
    redis.call('HSET', incident, 'state', 'resolved', 'resolved_at', time_text, 'resolution', 'recovered')
    redis.call('PEXPIRE', incident, tonumber(ARGV[16]))
    redis.call('HDEL', state, 'open_id', 'cond_since')
    redis.call('SREM', p .. 'incidents-open', open_id)
    redis.call('RPUSH', p .. 'incident-outbox', 'resolved|' .. open_id)
    return {1, 'resolved', open_id}
  end
  return {1, '', open_id}
end

if not (full and past(agg, threshold, op)) then
  if s[2] then redis.call('HDEL', state, 'cond_since') end
  return {1, '', ''}
end
local since = tonumber(s[2] or time_text)
if not s[2] then redis.call('HSET', state, 'cond_since', time_text) end
if t - since < for_ms then return {1, '', ''} end

-- The condition holds (long enough): open one incident, named by where and when it opened.
local id = string.sub(redis.sha1hex(host .. '|' .. rule .. '|' .. time_text), 1, 16)
local trigger = {}
for i, member in ipairs(members) do
  local mt, mv = string.match(member, '^(%d+):(.+)$')
  trigger[i] = '[' .. mt .. ',' .. mv .. ']'
end
redis.call('HSET', p .. 'incident:' .. id,
  'id', id, 'rule', rule, 'kind', 'threshold', 'host', host, 'metric', metric, 'severity', ARGV[14], 'state', 'open',
  'opened_at', time_text, 'aggregate', aggregate, 'op', op, 'threshold', ARGV[11], 'resolve_threshold', ARGV[12],
  'window', ARGV[15], 'count', #values, 'sum', string.format('%.17g', sum),
  'min', string.format('%.17g', low), 'max', string.format('%.17g', high),
  'trigger', '[' .. table.concat(trigger, ',') .. ']')
redis.call('HSET', state, 'open_id', id)
-- The host's open incidents, so that an absent rule can end them all when the host goes silent.
redis.call('SADD', p .. 'incidents-open', id)
redis.call('RPUSH', p .. 'incident-outbox', 'opened|' .. id)
return {1, 'opened', id}
