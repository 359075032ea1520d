-- Deletes indexes of one field while it is still `dropping` (another daemon may be building
-- it again). KEYS: the fields hash, then the index keys. ARGV: the path key. Returns 1, or 0
-- when the field is no longer `dropping`.
if redis.call('HGET', KEYS[1], ARGV[1]) ~= 'dropping' then return 0 end
if #KEYS > 1 then redis.call('UNLINK', unpack(KEYS, 2)) end
return 1
