-- Reads reminders in due order from one sorted set (a state's, or an event's) with their
-- records. Uses remind.lua.
-- KEYS: the sorted set. ARGV: the reminder keys' prefix, min, max, count (-1: all).
-- Returns per member {member, its record as field, value, ...}; a record that vanished with a
-- clear under way reads as no fields.
local rows = {}
local members = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], ARGV[3], 'LIMIT', 0, ARGV[4])
for i, member in ipairs(members) do
  rows[i] = {member, redis.call('HGETALL', reminder_record(ARGV[1], member))}
end
return rows
