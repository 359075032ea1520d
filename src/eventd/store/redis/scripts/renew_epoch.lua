-- Begins a new epoch unless another daemon already did: daemons noticing one loss of
-- history together agree on one new epoch.
-- KEYS: epoch. ARGV: the epoch whose history was lost, a new one. Returns the feed's epoch.
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return ARGV[2]
end
return current
