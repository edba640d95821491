-- Belfry: the events of a stream after a known id, or "gone" when that
-- cannot be served exactly.
--
--   KEYS[1]  the channel's stream
--   ARGV[1]  the last id the client has; "0-0" means from the beginning
--   ARGV[2]  the history cap: a replay never holds more than this many events
--
-- Returns {1, entries} (XRANGE shape, oldest first) for an exact replay, or
-- {0} when events may be missing (the id is unknown or trimmed, or more
-- than the cap came after it). One script, so the check and the read agree.
local stream, after, cap = KEYS[1], ARGV[1], tonumber(ARGV[2])
if redis.call('EXISTS', stream) == 0 then
  if after == '0-0' then return {1, {}} end
  return {0}
end
local entries
if after == '0-0' then
  local info = redis.call('XINFO', 'STREAM', stream)
  local length, added
  for i = 1, #info, 2 do
    if info[i] == 'length' then length = info[i + 1] end
    if info[i] == 'entries-added' then added = info[i + 1] end
  end
  if added ~= length then return {0} end
  entries = redis.call('XRANGE', stream, '-', '+', 'COUNT', cap + 1)
else
  if #redis.call('XRANGE', stream, after, after) == 0 then return {0} end
  entries = redis.call('XRANGE', stream, '(' .. after, '+', 'COUNT', cap + 1)
end
if #entries > cap then return {0} end
return {1, entries}
