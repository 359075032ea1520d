-- Files stored events under the values of fields being built, each only if the event is
-- still stored as the build read it (a write since filed it itself), and only while every
-- field is still `building` (another daemon may have dropped one).
-- KEYS: the events hash, the fields hash, then index keys. ARGV: the number of fields, their
-- path keys, then per event: id, the JSON read, member, the number of its index keys and
-- their KEYS positions. Returns 1, or 0 when a field is no longer `building`.
local count = tonumber(ARGV[1])
for i = 2, count + 1 do
  if redis.call('HGET', KEYS[2], ARGV[i]) ~= 'building' then return 0 end
end
local i = count + 2
while i <= #ARGV do
  local slots = tonumber(ARGV[i + 3])
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    for j = 1, slots do redis.call('ZADD', KEYS[tonumber(ARGV[i + 3 + j])], 0, ARGV[i + 2]) end
  end
  i = i + 4 + slots
end
return 1
