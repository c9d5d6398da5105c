-- KEYS[1] the anchor's verdicts, KEYS[2] the anchor (same hash slot); ARGV: version, seen revision ('' for any),
-- json, channel, event.
-- Written (1) only when the anchor's record is at that version now, read here in the same step as the write; else 0:
-- verdicts for a record that moved on, or for an anchor that is gone, are never stored. When a revision is given and
-- the stored verdicts are at another one (another check stored its verdicts since this one read them), 2: nothing
-- written. Versions and revisions are compared as strings of digits (both written by the server without leading
-- zeros), exactly, whatever their size. The stored value is `{version} {revision} {json}`, the revision one more
-- than the stored one (0 when none; a value from before revisions, `{version} {json}`, is revision 0).
local anchor = redis.call('GET', KEYS[2])
if not anchor then return 0 end
local current = string.match(anchor, '^%d+:(%d+):')
if current == nil or current ~= ARGV[1] then return 0 end
local stored = redis.call('GET', KEYS[1])
local revision = '0'
if stored then
  revision = string.match(stored, '^%d+ (%d+) ') or '0'
end
if ARGV[2] ~= '' and ARGV[2] ~= revision then return 2 end
-- A counter of writes stays far below 2^53: the addition is exact.
local next = string.format('%d', tonumber(revision) + 1)
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. next .. ' ' .. ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
