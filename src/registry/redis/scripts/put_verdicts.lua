-- KEYS[1] the anchor's verdicts, KEYS[2] the anchor (same hash slot); ARGV: version, stored value, channel, event.
-- Written (1) only when the anchor's record is at that version now, read here in the same step as the write; else 0:
-- verdicts for a record that moved on, or for an anchor that is gone, are never stored. Whatever verdicts were
-- stored are replaced, whichever version they were for.
local anchor = redis.call('GET', KEYS[2])
if not anchor then return 0 end
local current = tonumber(string.match(anchor, '^%d+:(%d+):'))
if current == nil or current ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
