-- KEYS[1] the anchor's verdicts; ARGV: version, stored value, channel, event, stale_above.
-- Refused (0) when the stored verdicts are for a newer version, unless that version is above stale_above (the
-- record's current version: the stored verdicts are stale).
local current = redis.call('GET', KEYS[1])
if current then
  local stored = tonumber(string.match(current, '^(%d+) '))
  if stored and stored > tonumber(ARGV[1]) and stored <= tonumber(ARGV[5]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
