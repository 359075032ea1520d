-- Reads a page of events from one index. ID_START comes from the loader; uses fields.lua.
-- KEYS: events hash, index, fields hash. ARGV: min, max, count, '1' for descending (max first
-- then), the version of the indexed fields the reader planned with.
-- Returns {'fields'} when the fields' version is another, else {'ok', the last member read
-- ('' for none), then the JSON of each member's event (false when gone)}.
if fields_version(KEYS[3]) ~= ARGV[5] then return {'fields'} end
local members
if ARGV[4] == '1' then
  members = redis.call('ZREVRANGEBYLEX', KEYS[2], ARGV[2], ARGV[1], 'LIMIT', 0, ARGV[3])
else
  members = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], ARGV[2], 'LIMIT', 0, ARGV[3])
end
if #members == 0 then return {'ok', ''} end
local ids = {}
for i, member in ipairs(members) do ids[i] = string.sub(member, ID_START) end
local reply = redis.call('HMGET', KEYS[1], unpack(ids))
table.insert(reply, 1, members[#members])
table.insert(reply, 1, 'ok')
return reply
