local hard = ARGV[6] == 'hard'
local log, path, who = KEYS[4], ARGV[4], ARGV[5]
local kept = hard and redis.call('DEL', KEYS[3]) == 1
if version == nil and not kept then return {1, 0} end
if version ~= nil then
  if not hard then redis.call('SET', KEYS[3], current) end
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], version)
  local op, before, after = 'delete', version, false
  __AUDIT__
  redis.call('PUBLISH', ARGV[3], ARGV[4])
end
if hard then
  local op, before, after = 'purge', false, false
  __AUDIT__
end
return {1, 1}
