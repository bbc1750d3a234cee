-- Folds one sample into the keys that span hosts: the newest value of each
-- metric from any host, and the host list. Idempotent and order-free: a value
-- replaces the stored one only when it is newer (ties go to the greater host
-- name), so redeliveries and late samples leave the newest in place. Runs
-- before the host's own fold, so a sample marked folded has been folded here.
--
-- KEYS[1] latest (hash metric -> "time|host|interval|value")   KEYS[2] hosts (zset host -> last seen)
-- ARGV[1] host   ARGV[2] time   ARGV[3] interval   ARGV[4] metrics as "name value name value ..."
local host = ARGV[1]
local time_text = ARGV[2]
local t = tonumber(time_text)
local prefix = time_text .. '|' .. host .. '|' .. ARGV[3] .. '|'

local names, values = {}, {}
for name, value in string.gmatch(ARGV[4], '(%S+) (%S+)') do
  names[#names + 1] = name
  values[#values + 1] = value
end
if #names == 0 then return 0 end

local current = redis.call('HMGET', KEYS[1], unpack(names))
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
    updates[#updates + 1] = prefix .. values[i]
  end
end
if #updates > 0 then redis.call('HSET', KEYS[1], unpack(updates)) end
redis.call('ZADD', KEYS[2], 'GT', t, host)
return 1
