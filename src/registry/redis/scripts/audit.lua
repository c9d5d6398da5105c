local now = redis.call('TIME')
local ms = string.format('%d', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
local function num(v) if v then return string.format('%d', v) end return 'null' end
redis.call('RPUSH', log, '[' .. ms .. ',"' .. op .. '",' .. num(before) .. ',' .. num(after) .. ','
  .. cjson.encode(path) .. ',' .. cjson.encode(who) .. ']')
