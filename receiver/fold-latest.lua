-- Folds one sample into the keys that span hosts: the newest value of each
-- metric from any host, and the host list. Idempotent and order-free: a value
-- replaces the stored one only when it is newer (ties go to the greater host
-- name), so redeliveries and late samples leave the newest in place.
--
-- KEYS[1] latest (hash metric -> "time|host|interval|value")   KEYS[2] hosts (zset host -> last seen)
-- ARGV[1] host   ARGV[2] time   ARGV[3] interval   ARGV[4 .. 3+n] names   ARGV[4+n .. 3+2n] values
local host = ARGV[1]
local time_text = ARGV[2]
local t = tonumber(time_text)
local n = (#ARGV - 3) / 2
local prefix = time_text .. '|' .. host .. '|' .. ARGV[3] .. '|'

for i = 1, n do
  local name = ARGV[3 + i]
  local current = redis.call('HGET', KEYS[1], name)
  local newer = true
  if current then
    local ct, ch = string.match(current, '^(%d+)|([^|]*)|')
    ct = tonumber(ct)
    newer = t > ct or (t == ct and host >= ch)
  end
  if newer then redis.call('HSET', KEYS[1], name, prefix .. ARGV[3 + n + i]) end
end
redis.call('ZADD', KEYS[2], 'GT', t, host)
return 1
