--[[
  Replay dead-letter entries: delete each from the dead-letter stream and, only when that XDEL
  removed it, append its original fields to its source stream as a new entry (a fresh delivery
  count) and take it off its batch's dead_lettered count — atomically, so replaying twice gives
  one copy.

  KEYS[1]     the dead-letter stream
  KEYS[2 ...] source streams and batch counter hashes, referred to by index below

  ARGV[1]  batch counters' time to live in seconds
  ARGV[2 ...]  for each entry in turn: dead-letter id, source key index, batch key index (0 = none),
               n, then n field/value pairs (the original fields, in their order)

  Returns one value per entry, in order: the new id in the source stream, or 0 when the entry
  was no longer in the dead-letter stream.
]]

local ttl = tonumber(ARGV[1])
local out = {}
local at = 2
local i = 0
while at <= #ARGV do
  i = i + 1
  local id = ARGV[at]
  local src = tonumber(ARGV[at + 1])
  local bk = tonumber(ARGV[at + 2])
  local nf = tonumber(ARGV[at + 3])
  if redis.call('XDEL', KEYS[1], id) == 1 then
    out[i] = redis.call('XADD', KEYS[src], '*', unpack(ARGV, at + 4, at + 3 + 2 * nf))
    if bk > 0 and redis.call('EXISTS', KEYS[bk]) == 1 then
      redis.call('HINCRBY', KEYS[bk], 'dead_lettered', -1)
      redis.call('EXPIRE', KEYS[bk], ttl)
    end
  else
    out[i] = 0
  end
  at = at + 4 + 2 * nf
end
return out
