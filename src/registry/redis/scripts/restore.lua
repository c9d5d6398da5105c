local current = redis.call('GET', KEYS[1])
if current then
  local _, v = string.match(current, '^(%d+):(%d+):')
  return {0, tonumber(v)}
end
local copy = redis.call('GET', KEYS[3])
if not copy then return {1, 0} end
local p1 = string.find(copy, ':', 1, true)
local p2 = string.find(copy, ':', p1 + 1, true)
local format = string.sub(copy, 1, p1 - 1)
if format ~= '__FORMAT__' then return redis.error_reply('IDR_FORMAT unknown stored format ' .. tostring(format)) end
local base = tonumber(redis.call('GET', KEYS[2]) or string.sub(copy, p1 + 1, p2 - 1))
local next = base + 1
local value = '__FORMAT__:' .. next .. ':' .. string.sub(copy, p2 + 1)
redis.call('SET', KEYS[1], value)
redis.call('DEL', KEYS[2])
redis.call('DEL', KEYS[3])
local log, path, who, op, before, after = KEYS[4], ARGV[2], ARGV[3], 'restore', false, next
__AUDIT__
redis.call('PUBLISH', ARGV[1], ARGV[2])
return {1, next, value}
