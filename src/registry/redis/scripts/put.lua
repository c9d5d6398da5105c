local base = version
if base == nil then
  base = tonumber(redis.call('GET', KEYS[2]) or '0')
  redis.call('DEL', KEYS[2])
  redis.call('DEL', KEYS[3])
end
local next = base + 1
redis.call('SET', KEYS[1], '__FORMAT__:' .. next .. ':' .. ARGV[3])
local log, path, who, before, after = KEYS[4], ARGV[5], ARGV[6], version or false, next
local op = ARGV[7]
if op == 'put' then op = version and 'replace' or 'create' end
__AUDIT__
redis.call('PUBLISH', ARGV[4], ARGV[5])
if version == nil then return {1, next, 1} end
return {1, next, 0}
