-- Compare-and-set of one event. Uses record.lua.
-- KEYS: events hash, position counter, feed, then index keys.
-- ARGV: id, expected JSON, new JSON ('' deletes), old member, new member, feed length, then
-- the number of old index positions, those positions, and the new index positions.
-- Returns the feed position of its change when applied, 0 when the stored event is no longer
-- the expected one.
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
local old_count = tonumber(ARGV[7])
for i = 8, 7 + old_count do redis.call('ZREM', KEYS[tonumber(ARGV[i])], ARGV[4]) end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return record(KEYS[2], KEYS[3], ARGV[6], 'deleted', ARGV[2])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
for i = 8 + old_count, #ARGV do redis.call('ZADD', KEYS[tonumber(ARGV[i])], 0, ARGV[5]) end
return record(KEYS[2], KEYS[3], ARGV[6], 'updated', ARGV[3])
