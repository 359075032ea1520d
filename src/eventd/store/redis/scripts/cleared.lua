-- Records a clear and the epoch it begins. Uses record.lua.
-- KEYS: position counter, feed, epoch. ARGV: feed length, the new epoch. The entry carries
-- the epoch it begins, which the daemons tailing the stream take from it. Returns the
-- change's feed position.
redis.call('SET', KEYS[3], ARGV[2])
return record(KEYS[1], KEYS[2], ARGV[1], 'cleared', '', 'epoch', ARGV[2])
