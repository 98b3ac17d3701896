--[[
  Claim entries left pending too long (by a consumer that died, or by a transient failure) and
  report how often each has been delivered, in one round trip.

  KEYS[1]  source stream (e.g. "events:raw")

  ARGV[1]  consumer group
  ARGV[2]  consumer claiming the entries
  ARGV[3]  min idle time in ms
  ARGV[4]  cursor to start from ("0-0" for the beginning)
  ARGV[5]  most entries to claim

  Returns { next_cursor, { {id, {field, value, ...}, deliveries}, ... }, { deleted_id, ... } }.
  deliveries counts this delivery. Deleted ids are entries that were pending but whose message
  is gone; XAUTOCLAIM already removed them from the pending list.
]]

local reply = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local claimed = {}
for i, entry in ipairs(reply[2]) do
  local id = entry[1]
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  local deliveries = 1
  if p[1] then deliveries = p[1][4] end
  claimed[i] = { id, entry[2], deliveries }
end
return { reply[1], claimed, reply[3] or {} }
