-- Compare-and-set of one event, with its reminders. Uses record.lua, remind.lua and
-- fields.lua.
-- KEYS: events hash, position counter, feed, pending and cancelled reminders, the fields hash,
-- then index keys.
-- ARGV: id, expected JSON, new JSON ('' deletes), old member, new member, feed length, the
-- reminder keys' prefix, the number of old index positions, the number of new ones, the
-- version of the indexed fields both were filed with, those positions (old, then new), then
-- what remind.lua's `arm` takes for the event as written.
-- Returns the feed position of its change when applied, 0 when the stored event is no longer
-- the expected one, 'fields' when the fields' version is another.
if fields_version(KEYS[6]) ~= ARGV[10] then return 'fields' end
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
local old_count, new_count = tonumber(ARGV[8]), tonumber(ARGV[9])
local first_new = 11 + old_count
for i = 11, first_new - 1 do redis.call('ZREM', KEYS[tonumber(ARGV[i])], ARGV[4]) end
arm(ARGV[7], first_new + new_count)
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return record(KEYS[2], KEYS[3], ARGV[6], 'deleted', ARGV[2])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
for i = first_new, first_new + new_count - 1 do
  redis.call('ZADD', KEYS[tonumber(ARGV[i])], 0, ARGV[5])
end
return record(KEYS[2], KEYS[3], ARGV[6], 'updated', ARGV[3])
