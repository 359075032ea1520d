-- Inserts a chunk of new events with their reminders, or none of them. Uses record.lua,
-- remind.lua and fields.lua; ID_START comes from the loader (where the id begins in a member).
-- KEYS: events hash, the all-events zset, position counter, feed stream, pending and
-- cancelled reminders, the fields hash, then per-event index keys. ARGV: feed length, the
-- number of events, the reminder keys' prefix, the version of the indexed fields the events
-- were filed with, then per event: member (which ends with the id), JSON, the
-- number of its index keys and their KEYS positions; then, for each event that gets
-- reminders, what remind.lua's `arm` takes. Returns 'fields' when the fields' version is
-- another, or the ids that already exist (and then writes nothing either), or else the feed
-- position of its last change. Each hash and sorted set of events gets one
-- variadic command for the whole chunk, which costs Redis far less than a command per event
-- and index (docs/benchmarks.md, scenario 2).
if fields_version(KEYS[7]) ~= ARGV[4] then return 'fields' end
local count = tonumber(ARGV[2])
local FIRST = 5  -- where the events' values begin in ARGV
local ids = {}
local jsons = {}
local fields = {}
local members = {}  -- KEYS position -> {0, member, 0, member, ...}
local function add(k, member)
  local group = members[k]
  if not group then
    group = {}
    members[k] = group
  end
  local size = #group
  group[size + 1] = 0
  group[size + 2] = member
end
local i = FIRST
for n = 1, count do
  local member = ARGV[i]
  local id = string.sub(member, ID_START)
  ids[n] = id
  jsons[n] = ARGV[i + 1]
  fields[2 * n - 1] = id
  fields[2 * n] = ARGV[i + 1]
  add(2, member)
  local slots = tonumber(ARGV[i + 2])
  for j = 1, slots do add(tonumber(ARGV[i + 2 + j]), member) end
  i = i + 3 + slots
end
-- Chunks are small enough (CHUNK in engine.py) that no command below gets more values than
-- the 8,000 unpack() can pass.
local failed = {}
local stored = redis.call('HMGET', KEYS[1], unpack(ids))
for n = 1, count do
  if stored[n] then failed[#failed + 1] = ids[n] end
end
if #failed > 0 then return failed end
redis.call('HSET', KEYS[1], unpack(fields))
for k, group in pairs(members) do redis.call('ZADD', KEYS[k], unpack(group)) end
local at = i
local added = {}  -- sorted set of pending reminders -> {0, member, ...}
while at <= #ARGV do at = arm(ARGV[3], at, added) end
for set, scored in pairs(added) do
  for i = 1, #scored, 4000 do  -- within what unpack() can pass
    redis.call('ZADD', set, unpack(scored, i, math.min(i + 3999, #scored)))
  end
end
-- One INCRBY reserves the chunk's feed positions.
local position = redis.call('INCRBY', KEYS[3], count) - count
for n = 1, count do
  append(KEYS[4], position + n, 'created', jsons[n])
end
trim(KEYS[4], ARGV[1])
return position + count
