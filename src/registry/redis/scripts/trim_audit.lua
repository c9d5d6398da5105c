local before, max, n = tonumber(ARGV[1]), tonumber(ARGV[2]), 0
while n < max do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then break end
  local ms = tonumber(string.match(head, '^%[(%d+),'))
  if ms == nil or ms >= before then break end
  redis.call('LPOP', KEYS[1])
  n = n + 1
end
if n > 0 then redis.call('INCRBY', KEYS[2], n) end
return n
