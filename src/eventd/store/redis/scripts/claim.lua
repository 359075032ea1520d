-- Claims the pending reminders due by now, each exactly once: however many daemons run it,
-- Redis runs one script at a time and a claimed reminder leaves the pending set within it.
-- Uses record.lua and remind.lua.
-- KEYS: events hash, position counter, feed, pending, sent and missed reminders.
-- ARGV: the reminder keys' prefix, the pending set's lexicographic max (past every member due
-- by now), the most to claim, then as times (DUE_WIDTH digits, see remind.lua): now, now -
-- late_grace, now - LATE_AFTER; then the feed length.
-- A sent reminder gets its record and its feed entry in this one script; a missed one only
-- its record. Returns how many members it took, then per claimed reminder {member, its
-- record as field, value, ...}.
local prefix, now, grace, late_after = ARGV[1], ARGV[4], ARGV[5], ARGV[6]
local members = redis.call('ZRANGEBYLEX', KEYS[4], '-', ARGV[2], 'LIMIT', 0, ARGV[3])
local claimed = {#members}
local sent = 0
for _, member in ipairs(members) do
  redis.call('ZREM', KEYS[4], member)
  local record = reminder_record(prefix, member)
  local id = reminder_event(member)
  local raw = redis.call('HGET', KEYS[1], id)
  local ts, armed, type, key = unpack(redis.call('HMGET', record, 'ts', 'armed', 'type', 'key'))
  if raw == false or ts == false then
    -- Its event or its record is gone with a clear under way, which deletes the rest.
    redis.call('DEL', record)
    redis.call('ZREM', reminders_of(prefix, id), member)
  else
    local start = string.sub(member, 1, DUE_WIDTH)  -- max(due, armed)
    if earlier(start, armed) then start = armed end
    if not earlier(now, ts) or earlier(start, grace) then
      redis.call('HSET', record, 'state', 'missed', 'sent_at', now)
      redis.call('ZADD', KEYS[6], 0, member)
    else
      local late = earlier(start, late_after) and '1' or '0'
      local position = redis.call('INCR', KEYS[2])
      redis.call('HSET', record, 'state', 'sent', 'sent_at', now, 'late', late,
        'position', position)
      redis.call('ZADD', KEYS[5], 0, member)
      local entry = {'reminder', member, 'ts', ts, 'armed', armed, 'type', type}
      if key then
        entry[#entry + 1] = 'key'
        entry[#entry + 1] = key
      end
      entry[#entry + 1] = 'sent_at'
      entry[#entry + 1] = now
      entry[#entry + 1] = 'late'
      entry[#entry + 1] = late
      append(KEYS[3], position, 'reminder', raw, unpack(entry))
      sent = sent + 1
    end
    claimed[#claimed + 1] = {member, redis.call('HGETALL', record)}
  end
end
if sent > 0 then trim(KEYS[3], ARGV[7]) end
return claimed
