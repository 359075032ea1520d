-- Appends changes to the feed; prepended by the loader to the scripts that write one.
-- `append` writes the entry of a position already taken from the counter; `trim` then keeps
-- the stream near its length, once for all the entries a script appends.
local function append(feed, position, op, event, ...)
  redis.call('XADD', feed, position .. '-0', 'op', op, 'event', event, ...)
end
local function trim(feed, maxlen)
  redis.call('XTRIM', feed, 'MAXLEN', '~', maxlen)
end
-- pos counts positions, feed is the stream.
local function record(pos, feed, maxlen, op, event, ...)
  local position = redis.call('INCR', pos)
  append(feed, position, op, event, ...)
  trim(feed, maxlen)
  return position
end
