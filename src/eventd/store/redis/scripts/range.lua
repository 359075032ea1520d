-- Reads a page of events from one index. ID_START comes from the loader.
-- KEYS: events hash, index. ARGV: min, max, count, '1' for descending (max first then).
local members
if ARGV[4] == '1' then
  members = redis.call('ZREVRANGEBYLEX', KEYS[2], ARGV[2], ARGV[1], 'LIMIT', 0, ARGV[3])
else
  members = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], ARGV[2], 'LIMIT', 0, ARGV[3])
end
if #members == 0 then return {} end
local ids = {}
for i, member in ipairs(members) do ids[i] = string.sub(member, ID_START) end
return redis.call('HMGET', KEYS[1], unpack(ids))
