-- Changes the state of one indexed field if it is the expected one, bumping the version.
-- Uses fields.lua. KEYS: the fields hash. ARGV: the path key, the expected state ('*' any,
-- '' none), the new state ('' removes the field). Returns the new version, or false when
-- the state was another.
local state = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if ARGV[2] ~= '*' and state ~= ARGV[2] then return false end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
return redis.call('HINCRBY', KEYS[1], '#version', 1)
