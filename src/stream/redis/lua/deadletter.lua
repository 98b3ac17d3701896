--[[
  Move entries that can never succeed to the dead-letter stream and acknowledge them, atomically.
  Idempotent like settle.lua: XACK first, XADD (and count dead_lettered in the entry's batch)
  only for the entries that XACK removed from the pending list. An entry whose message is gone
  (deleted from the source stream while pending) is passed with an empty fields JSON and is only
  acknowledged.

  KEYS[1]     source stream (e.g. "{rp}:events:raw")
  KEYS[2]     dead-letter stream (e.g. "{rp}:events:deadletter")
  KEYS[3 ...] batch counter hashes, referred to by index below

  ARGV[1]  consumer group
  ARGV[2]  stream schema version
  ARGV[3]  stage (e.g. "screen")
  ARGV[4]  failed_at (ISO 8601)
  ARGV[5]  batch counters' time to live in seconds
  ARGV[6 + 8(i-1) ...]  for entry i: source id, error message, error code, delivery count,
                        JSON object of the original fields ("" when the message is gone),
                        traceparent ("" when unknown), batch key index (0 = none),
                        more counters to add 1 to besides dead_lettered ("" or "a,b")

  Returns one value per entry, in order: the dead-letter entry id, 1 when only acknowledged
  (message gone), or 0 when it was no longer pending.
]]

local source = KEYS[1]
local group = ARGV[1]
local ttl = tonumber(ARGV[5])
local out = {}
local n = (#ARGV - 5) / 8
for i = 1, n do
  local base = 6 + 8 * (i - 1)
  local source_id = ARGV[base]
  if redis.call('XACK', source, group, source_id) == 1 then
    if ARGV[base + 4] == '' then
      out[i] = 1
    else
      local fields = {
        'v', ARGV[2], 'stage', ARGV[3], 'source_stream', source, 'source_id', source_id,
        'error', ARGV[base + 1], 'error_code', ARGV[base + 2], 'deliveries', ARGV[base + 3],
        'fields', ARGV[base + 4], 'failed_at', ARGV[4],
      }
      if ARGV[base + 5] ~= '' then
        fields[#fields + 1] = 'traceparent'
        fields[#fields + 1] = ARGV[base + 5]
      end
      out[i] = redis.call('XADD', KEYS[2], '*', unpack(fields))
      local bk = tonumber(ARGV[base + 6])
      if bk > 0 and redis.call('EXISTS', KEYS[bk]) == 1 then
        redis.call('HINCRBY', KEYS[bk], 'dead_lettered', 1)
        for counter in string.gmatch(ARGV[base + 7], '[^,]+') do redis.call('HINCRBY', KEYS[bk], counter, 1) end
        redis.call('EXPIRE', KEYS[bk], ttl)
      end
    end
  else
    out[i] = 0
  end
end
return out
