local base = tonumber(redis.call('GET', KEYS[2]) or '0')
local from = tonumber(ARGV[1]) - base
if from < 0 then from = 0 end
return {base, from, redis.call('LRANGE', KEYS[1], from, from + tonumber(ARGV[2]) - 1)}
