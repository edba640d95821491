-- Belfry: store one event in a channel's stream and announce it, atomically.
--
--   KEYS[1]  the channel's stream, e.g. belfry:{alice}:inbox
--   ARGV[1]  how to announce, always on the Pub/Sub channel named KEYS[1]:
--            "sharded" (SPUBLISH) when Belfry runs on a Redis Cluster
--            (BELFRY_REDIS_CLUSTER), else "classic" (PUBLISH). Any other
--            value counts as classic: older callers pass a channel name here
--            (notifications:<user> before each feature had one name).
--   ARGV[2]  the event name (the SSE "event:" field), e.g. notification
--   ARGV[3]  the event data: one JSON value, exactly what the browser receives
--   ARGV[4]  the history cap, e.g. 500 (the stream is trimmed with MAXLEN ~)
--   ARGV[5]  optional: publish only if the stream's newest id is this one
--            ("0-0": only if the stream is empty); else a CONFLICT error
--   ARGV[6]  optional: "exact" trims to exactly the cap (MAXLEN =)
--   KEYS[2]  optional: a dedupe key in the same slot, e.g.
--            belfry:{alice}:inbox:dedupe:<token>. If it exists, nothing is
--            stored and its value (the id stored then) is returned; else it
--            is set to the new id for ARGV[7] seconds (default 86400).
--
-- Returns the new stream entry id ("<ms>-<seq>"); it is the SSE event id.
-- The Pub/Sub message is {"id":"<id>","event":"<name>","data":<data>}.
-- A script runs alone, so an event is never stored without being announced
-- or announced without being stored, and ids reach subscribers in order.
local channel, name, data = KEYS[1], ARGV[2], ARGV[3]
local announce = 'PUBLISH'
if ARGV[1] == 'sharded' then announce = 'SPUBLISH' end
local cap = tonumber(ARGV[4])
if not name or not string.match(name, '^[%w_.-]+$') then
  return redis.error_reply('ERR belfry: ARGV[2] must be an event name of letters, digits, _ . -')
end
if not data or not pcall(cjson.decode, data) then
  return redis.error_reply('ERR belfry: ARGV[3] must be JSON')
end
if not cap or cap < 1 or cap ~= math.floor(cap) then
  return redis.error_reply('ERR belfry: ARGV[4] must be a positive whole history cap')
end
if KEYS[2] then
  local prior = redis.call('GET', KEYS[2])
  if prior then return prior end
end
local expected = ARGV[5]
if expected and expected ~= '' then
  local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
  local newest_id = '0-0'
  if #newest > 0 then newest_id = newest[1][1] end
  if newest_id ~= expected then
    return redis.error_reply('CONFLICT belfry: the stream moved on')
  end
end
local trim = '~'
if ARGV[6] == 'exact' then trim = '=' end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', trim, cap, '*', 'event', name, 'data', data)
redis.call(announce, channel, '{"id":"' .. id .. '","event":"' .. name .. '","data":' .. data .. '}')
if KEYS[2] then
  redis.call('SET', KEYS[2], id, 'EX', tonumber(ARGV[7]) or 86400)
end
return id
