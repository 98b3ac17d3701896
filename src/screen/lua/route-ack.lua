--[[
  Route a batch of screened entries and acknowledge their source entries, atomically: an entry is
  either still pending in the source stream or routed, never lost and never both.

  Idempotent: each source id is XACKed first and routed only when that XACK removed it from the
  group's pending list. A claimed entry screened twice (a slow consumer and a claimer both
  finishing) is therefore routed once; the second call finds it acknowledged and skips it.

  KEYS[1]  source stream (e.g. "events:raw")
  KEYS[2]  route "r": the reasoning stream (e.g. "events:reasoning_queue")
  KEYS[3]  route "l": the low-risk stream (e.g. "events:low_risk")

  ARGV[1]  consumer group
  ARGV[2]  stream schema version
  ARGV[3]  screened_at (ISO 8601)
  ARGV[4 + 6(i-1) ...]  for entry i: source id, route ("r" or "l"), event_id, event JSON,
                        prediction JSON, traceparent

  Returns one value per entry, in order: the new entry id in its route, or 0 when the source id
  was no longer pending (already routed or dead-lettered elsewhere).
]]

local source = KEYS[1]
local group = ARGV[1]
local version = ARGV[2]
local screened_at = ARGV[3]
local out = {}
local n = (#ARGV - 3) / 6
for i = 1, n do
  local base = 4 + 6 * (i - 1)
  local source_id = ARGV[base]
  if redis.call('XACK', source, group, source_id) == 1 then
    local target = KEYS[3]
    if ARGV[base + 1] == 'r' then target = KEYS[2] end
    out[i] = redis.call('XADD', target, '*',
      'v', version, 'event_id', ARGV[base + 2], 'event', ARGV[base + 3],
      'prediction', ARGV[base + 4], 'source_id', source_id,
      'traceparent', ARGV[base + 5], 'screened_at', screened_at)
  else
    out[i] = 0
  end
end
return out
