--[[
  Settle a batch of delivered entries: acknowledge each source entry and, only when that XACK
  removed it from the group's pending list, write its result downstream and count it in its
  batch — atomically. An entry is either still pending or settled, never lost and never both.

  Idempotent ("ack first, then write what was acked"): a claimed entry handled twice (a slow
  consumer and a claimer both finishing) is written and counted once; the second call finds it
  acknowledged and skips it.

  KEYS[1]     the source stream (e.g. "{rp}:events:raw")
  KEYS[2 ...] output streams and batch counter hashes, referred to by index below

  ARGV[1]  consumer group
  ARGV[2]  "1": also XDEL the source entry (the terminal stage deletes what it has stored)
  ARGV[3]  batch counters' time to live in seconds
  ARGV[4 ...]  for each entry in turn:
             source id,
             output key index (0 = only ack), n, then n field/value pairs of the output entry,
             batch key index (0 = no batch), m, then m counter names to add 1 to

  Returns one value per entry, in order: the new output id, 1 when acked without output, or 0
  when the source id was no longer pending (settled or dead-lettered elsewhere).
]]

local source = KEYS[1]
local group = ARGV[1]
local delete = ARGV[2] == '1'
local ttl = tonumber(ARGV[3])
local out = {}
local at = 4
local i = 0
while at <= #ARGV do
  i = i + 1
  local source_id = ARGV[at]
  local out_key = tonumber(ARGV[at + 1])
  local nf = tonumber(ARGV[at + 2])
  local fields_at = at + 3
  local batch_at = fields_at + 2 * nf
  local batch_key = tonumber(ARGV[batch_at])
  local nc = tonumber(ARGV[batch_at + 1])
  if redis.call('XACK', source, group, source_id) == 1 then
    if out_key > 0 then
      out[i] = redis.call('XADD', KEYS[out_key], '*', unpack(ARGV, fields_at, fields_at + 2 * nf - 1))
    else
      out[i] = 1
    end
    -- Only batches that ingest counted (single events have none): no key is made here.
    if batch_key > 0 and nc > 0 and redis.call('EXISTS', KEYS[batch_key]) == 1 then
      local bk = KEYS[batch_key]
      for c = 1, nc do redis.call('HINCRBY', bk, ARGV[batch_at + 1 + c], 1) end
      redis.call('EXPIRE', bk, ttl)
    end
    if delete then redis.call('XDEL', source, source_id) end
  else
    out[i] = 0
  end
  at = batch_at + 2 + nc
end
return out
