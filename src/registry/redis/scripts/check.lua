local current = redis.call('GET', KEYS[1])
local version = nil
if current then
  local format, v = string.match(current, '^(%d+):(%d+):')
  if format ~= '__FORMAT__' then return redis.error_reply('IDR_FORMAT unknown stored format ' .. tostring(format)) end
  version = tonumber(v)
end
local mode = ARGV[1]
local ok = mode == 'none' or (mode == 'exists' and version ~= nil) or (mode == 'absent' and version == nil)
if mode == 'version' and version ~= nil then
  for v in string.gmatch(ARGV[2], '%d+') do
    if tonumber(v) == version then ok = true end
  end
end
if not ok then return {0, version or -1} end
