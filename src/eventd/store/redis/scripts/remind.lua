-- Arms and cancels an event's reminders; prepended by the loader to the scripts that write
-- events, so that a reminder is never apart from its event, and to those that claim and read
-- reminders (the key and member helpers). DUE_WIDTH and OFFSET_WIDTH come from the loader.
-- A reminder is the member <due, DUE_WIDTH digits><event id>\0<offset, OFFSET_WIDTH digits>
-- (packing.reminder_member) of its state's sorted set, its record is the hash
-- <prefix>r:<member>, and an event's reminders in every state are the sorted set
-- <prefix>of:<id>. Those two are named here rather than in KEYS: like every key of the store
-- they carry its hash tag, so they are in the script's Cluster slot.
local function reminder_record(prefix, member)
  return prefix .. 'r:' .. member
end
local function reminders_of(prefix, id)
  return prefix .. 'of:' .. id
end
-- The event id of a member.
local function reminder_event(member)
  return string.sub(member, DUE_WIDTH + 1, -(OFFSET_WIDTH + 2))
end
-- Whether time a < time b, both DUE_WIDTH digits. Lua compares strings with strcoll, in the
-- server's locale, and its doubles are exact only to 2^53: compare two exact halves instead.
local function earlier(a, b)
  local high_a, high_b = tonumber(string.sub(a, 1, 10)), tonumber(string.sub(b, 1, 10))
  if high_a ~= high_b then return high_a < high_b end
  return tonumber(string.sub(a, 11)) < tonumber(string.sub(b, 11))
end

-- Brings the reminders of one event in line with a write of it (see the `Reminders`
-- capability); `pending` and `cancelled` are the two states' sorted sets. ARGV from `at`
-- on holds packing.arming(event): id, live ('1' when the event has not started at the
-- write), ts, armed (the write's time), type, key ('' for none, else '=' .. key), then the
-- count of the members it has at its timestamp and those members; a deleted event passes
-- '0' and no members. `added`, when given, collects {0, member, ...} for the caller to add to
-- `pending` in one ZADD. Returns the ARGV index past them.
local function arm(prefix, pending, cancelled, at, added)
  local id, live, ts, armed = ARGV[at], ARGV[at + 1] == '1', ARGV[at + 2], ARGV[at + 3]
  local type, key = ARGV[at + 4], ARGV[at + 5]
  local count = tonumber(ARGV[at + 6])
  local of = reminders_of(prefix, id)
  -- Most events never had a reminder: a new one of a bulk import is spared every read. (Its
  -- records go with its set; only a clear under way, deleting keys a page at a time, parts
  -- them, and that clear deletes what is left.)
  local known = redis.call('EXISTS', of) == 1
  local wanted = {}
  for i = at + 7, at + 6 + count do wanted[ARGV[i]] = true end
  -- Cancel the pending ones it no longer has: it moved, or lost an offset, or was deleted.
  for _, member in ipairs(known and redis.call('ZRANGE', of, 0, -1) or {}) do
    if not wanted[member] and redis.call('ZREM', pending, member) == 1 then
      redis.call('HSET', reminder_record(prefix, member), 'state', 'cancelled')
      redis.call('ZADD', cancelled, 0, member)
    end
  end
  for i = at + 7, at + 6 + count do
    local member = ARGV[i]
    local record = reminder_record(prefix, member)
    local state = known and redis.call('HGET', record, 'state')
    local fields = {'type', type}  -- a pending one's filters see the event's type and key
    if state == 'pending' and key == '' then
      redis.call('HDEL', record, 'key')
    elseif live and (state == false or state == 'cancelled') then
      if state == 'cancelled' then  -- armed again, from scratch
        redis.call('ZREM', cancelled, member)
        redis.call('DEL', record)
      end
      fields = {'type', type, 'state', 'pending', 'ts', ts, 'armed', armed}
      if added then
        added[#added + 1] = 0
        added[#added + 1] = member
      else
        redis.call('ZADD', pending, 0, member)
      end
      redis.call('ZADD', of, 0, member)
      state = 'pending'
    end
    if state == 'pending' then
      if key ~= '' then
        fields[#fields + 1] = 'key'
        fields[#fields + 1] = string.sub(key, 2)
      end
      redis.call('HSET', record, unpack(fields))
    end
  end
  return at + 7 + count
end
