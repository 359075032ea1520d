-- Arms and cancels an event's reminders; prepended by the loader to the scripts that write
-- events, so that a reminder is never apart from its event, and to those that claim and read
-- reminders (the key and member helpers). DUE_WIDTH and OFFSET_WIDTH come from the loader.
-- A reminder is the member <due, DUE_WIDTH digits><event id>\0<offset, OFFSET_WIDTH digits>
-- (packing.reminder_member) of its state's sorted set, its record is the hash
-- <prefix>r:<member>, and an event's reminders in every state are the sorted set
-- <prefix>of:<id>, its pending ones alone the set <prefix>pend:<id>. Those are named here
-- rather than in KEYS: like every key of the store they carry its hash tag, so they are in
-- the script's Cluster slot.
local function reminder_record(prefix, member)
  return prefix .. 'r:' .. member
end
local function reminders_of(prefix, id)
  return prefix .. 'of:' .. id
end
-- An event's pending reminders: what an edit reads, however long the event's history.
local function pending_of(prefix, id)
  return prefix .. 'pend:' .. id
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

-- The sorted sets a reminder in `state` is in: the state's own, and the state's by type, by
-- key and by both (`key` false for none), which filtered lists page through (layout.py).
-- A record gone with a clear under way has no type: only the state's own set is known.
local function filed_in(prefix, state, type, key)
  local base = prefix .. 'ix:' .. state .. ':'
  local keys = {prefix .. state}
  if not type then return keys end
  keys[2] = base .. 't:' .. type
  if key then
    keys[3] = base .. 'k:' .. key
    keys[4] = base .. 'tk:' .. #type .. ':' .. type .. ':' .. key
  end
  return keys
end
-- Adds `scored` ({0, member, 0, member, ...}) to the sets of `state`; into `added` (sorted
-- set -> scored members, for the caller's variadic ZADDs) when given.
local function file(prefix, state, type, key, scored, added)
  for _, set in ipairs(filed_in(prefix, state, type, key)) do
    if added then
      local group = added[set] or {}
      added[set] = group
      for _, value in ipairs(scored) do group[#group + 1] = value end
    else
      redis.call('ZADD', set, unpack(scored))
    end
  end
end
local function unfile(prefix, state, type, key, member)
  for _, set in ipairs(filed_in(prefix, state, type, key)) do redis.call('ZREM', set, member) end
end

-- Cancels the pending reminders of an event's set `pend` that are not `wanted`: it moved,
-- or lost an offset, or was deleted. Only the pending ones are read, not its history.
local function cancel_unwanted(prefix, pend, wanted)
  for _, member in ipairs(redis.call('SMEMBERS', pend)) do
    if not wanted[member] then
      local record = reminder_record(prefix, member)
      local was_type, was_key = unpack(redis.call('HMGET', record, 'type', 'key'))
      redis.call('SREM', pend, member)
      unfile(prefix, 'pending', was_type, was_key, member)
      if was_type then
        redis.call('HSET', record, 'state', 'cancelled')
        file(prefix, 'cancelled', was_type, was_key, {0, member})
      else  -- its record went with a clear under way, which deletes the rest
        redis.call('ZREM', reminders_of(prefix, reminder_event(member)), member)
      end
    end
  end
end

-- Brings the reminders of one event in line with a write of it (see the `Reminders`
-- capability). ARGV from `at` on holds packing.arming(event): id, live ('1' when the event
-- has not started at the write), ts, armed (the write's time), type, key ('' for none, else
-- '=' .. key), then the count of the members it has at its timestamp and those members; a
-- deleted event passes '0' and no members. `added`, when given, collects what to add to the
-- sorted sets of pending reminders (see `file`) for the caller's variadic ZADDs. Returns the
-- ARGV index past them.
local function arm(prefix, at, added)
  local id, live, ts, armed = ARGV[at], ARGV[at + 1] == '1', ARGV[at + 2], ARGV[at + 3]
  local type, key = ARGV[at + 4], ARGV[at + 5] ~= '' and string.sub(ARGV[at + 5], 2)
  local count = tonumber(ARGV[at + 6])
  local of, pend = reminders_of(prefix, id), pending_of(prefix, id)
  -- Most events never had a reminder: a new one of a bulk import is spared every read. (Its
  -- records go with its set; only a clear under way, deleting keys a page at a time, parts
  -- them, and that clear deletes what is left.)
  local known = redis.call('EXISTS', of) == 1
  local wanted = {}
  for i = at + 7, at + 6 + count do wanted[ARGV[i]] = true end
  if known then cancel_unwanted(prefix, pend, wanted) end
  local fresh = {}  -- {0, member, ...} armed now
  for i = at + 7, at + 6 + count do
    local member = ARGV[i]
    local record = reminder_record(prefix, member)
    local state, was_type, was_key = false, false, false
    if known then
      state, was_type, was_key = unpack(redis.call('HMGET', record, 'state', 'type', 'key'))
    end
    if state == 'pending' and (was_type ~= type or was_key ~= key) then
      -- A pending one's filters see the event's type and key.
      unfile(prefix, 'pending', was_type, was_key, member)
      file(prefix, 'pending', type, key, {0, member})
      redis.call('HSET', record, 'type', type)
      if key then redis.call('HSET', record, 'key', key) else redis.call('HDEL', record, 'key') end
    elseif live and (state == false or state == 'cancelled') then
      if state == 'cancelled' then  -- armed again, from scratch
        unfile(prefix, 'cancelled', was_type, was_key, member)
        redis.call('DEL', record)
      end
      local fields = {'type', type, 'state', 'pending', 'ts', ts, 'armed', armed}
      if key then
        fields[9] = 'key'
        fields[10] = key
      end
      redis.call('HSET', record, unpack(fields))
      fresh[#fresh + 1] = 0
      fresh[#fresh + 1] = member
    end
  end
  if #fresh > 0 then
    file(prefix, 'pending', type, key, fresh, added)
    redis.call('ZADD', of, unpack(fresh))
    for i = 2, #fresh, 2 do redis.call('SADD', pend, fresh[i]) end
  end
  return at + 7 + count
end
