--[[
  Settle a batch of delivered entries: acknowledge each source entry and, only when that XACK
  removed it from the group's pending list, write its result downstream and count it in its
  batch — atomically. An entry is either still pending or settled, never lost and never both.

  Idempotent ("ack first, then write what was acked"): a claimed entry handled twice (a slow
  consumer and a claimer both finishing) is written and counted once; the second call finds it
  acknowledged and skips it.

  KEYS[1]     the source stream (e.g. "events:raw")
  KEYS[2 ...] output streams and batch counter hashes, referred to by index below

  ARGV[1]  consumer group
  ARGV[2]  "1": also XDEL the source entry (the terminal stage deletes what it has stored)
  ARGV[3]  batch counters' time to live in seconds
  ARGV[4]  nf: fields of an output entry when every output has the same fields in one order
           (a template follows), or -1 when each entry carries its own field/value pairs
  ARGV[5 + 3(j-1) ...]  (template only) for field j: its name, "1" when its value is the same
           for every entry (the value follows) or "0" (per entry; "" follows)
  then for each entry in turn:
           source id,
           output key index (0 = only ack), then its values: the per-entry values of the
             template, or (nf = -1) n followed by n field/value pairs,
           batch key index (0 = no batch), m, then m counter names to add 1 to

  Only batches that ingest made are counted (HINCRBY when the hash exists): single events have
  none and get none.

  Returns one value per entry, in order: the new output id, 1 when acked without output, or 0
  when the source id was no longer pending (settled or dead-lettered elsewhere).
]]

local source = KEYS[1]
local group = ARGV[1]
local delete = ARGV[2] == '1'
local ttl = tonumber(ARGV[3])
local nf = tonumber(ARGV[4])

local entry, per = {}, {}
local at = 5
if nf >= 0 then
  for j = 1, nf do
    entry[2 * j - 1] = ARGV[at]
    if ARGV[at + 1] == '1' then entry[2 * j] = ARGV[at + 2] else per[#per + 1] = 2 * j end
    at = at + 3
  end
end
local np = #per

local exists = {}
local out = {}
local i = 0
while at <= #ARGV do
  i = i + 1
  local source_id = ARGV[at]
  local out_key = tonumber(ARGV[at + 1])
  at = at + 2
  local values_at, nv = at, 0
  if out_key > 0 then
    if nf >= 0 then nv = np else nv = 1 + 2 * tonumber(ARGV[at]) end
  end
  at = at + nv
  local batch_key = tonumber(ARGV[at])
  local nc = tonumber(ARGV[at + 1])
  local counters_at = at + 2
  at = counters_at + nc
  if redis.call('XACK', source, group, source_id) == 1 then
    if out_key == 0 then
      out[i] = 1
    elseif nf >= 0 then
      for k = 1, np do entry[per[k]] = ARGV[values_at + k - 1] end
      out[i] = redis.call('XADD', KEYS[out_key], '*', unpack(entry))
    else
      out[i] = redis.call('XADD', KEYS[out_key], '*', unpack(ARGV, values_at + 1, values_at + nv - 1))
    end
    if batch_key > 0 and nc > 0 then
      local bk = KEYS[batch_key]
      if exists[batch_key] == nil then exists[batch_key] = redis.call('EXISTS', bk) == 1 end
      if exists[batch_key] then
        for c = 0, nc - 1 do redis.call('HINCRBY', bk, ARGV[counters_at + c], 1) end
        redis.call('EXPIRE', bk, ttl)
      end
    end
    if delete then redis.call('XDEL', source, source_id) end
  else
    out[i] = 0
  end
end
return out
