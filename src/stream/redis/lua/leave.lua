--[[
  A consumer leaving the group: remove it from the group's consumer list, but only when it holds
  no pending entries (XGROUP DELCONSUMER would drop them, and nobody could claim them any more).
  Keeps XINFO CONSUMERS to the workers that are running or died holding work.

  KEYS[1]  source stream (e.g. "events:raw")

  ARGV[1]  consumer group
  ARGV[2]  consumer

  Returns 1 when the consumer was removed, 0 when it was kept (entries pending, or unknown).
]]

if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local ok, pending = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if not ok or #pending > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
