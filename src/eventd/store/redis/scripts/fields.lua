-- The version of the store's indexed fields; prepended by the loader to every script that
-- writes events or reads an index. The fields hash (layout.py) holds each indexed path's
-- state and, under `#version`, a count bumped at every change of a state: a script given
-- another version than the stored one refuses, and the engine reloads the fields.
local function fields_version(fields)
  return redis.call('HGET', fields, '#version') or '0'
end
