--[[
  Append a request's events in one round trip: backpressure check, dedup check-and-set, XADD,
  batch counters. Atomic, so two concurrent copies of an event can never both be queued, and a
  full queue queues nothing of a request.

  KEYS[1]               the stream (e.g. "{rp}:events:raw")
  KEYS[2]               the batch counters hash (e.g. "{rp}:batch:<id>"); ignored when ARGV[3] is ""
  KEYS[2i+1], KEYS[2i+2]  for event i (1-based): its content dedup key, its event_id dedup key

  ARGV[1]  max depth: refuse when the stream's unconsumed depth is at or above it
  ARGV[2]  dedup window in seconds
  ARGV[3]  batch total to add ("" = no batch counters)
  ARGV[4]  batch counters' time to live in seconds
  ARGV[5]  n: the number of fields of an entry (every entry has the same fields, in one order)
  ARGV[6 + 3(j-1) ...]  for field j: its name, "1" when its value is the same for every entry
                        (then the value follows) or "0" (then the value is per entry, and "" follows)
  then, for each event in turn: the values of its per-entry fields, in field order

  (A template rather than n pairs per entry: a batch of 500 costs Redis a third of the strings.)

  Returns { "FULL", depth } when refused, else { depth_bound, r1, r2, ... } where ri is the new
  stream id, "D:id" (event_id seen in the window) or "D:content" (same platform/author/content),
  and depth_bound is the stream length (an upper bound of the depth). With no events it only
  reports the exact depth.
]]

local stream = KEYS[1]
local max_depth = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local n = (#KEYS - 2) / 2

-- Unconsumed depth: the largest consumer-group lag, or the length when there is no group (or a
-- group's lag is unknown, which Redis reports after deletions). Entries are never trimmed here.
-- A group's lag never exceeds the stream's length, so while the length is under the limit the
-- (costlier) XINFO GROUPS is skipped unless the exact depth was asked for.
local function depth(exact)
  local len = redis.call('XLEN', stream)
  if len == 0 or (not exact and len < max_depth) then return len end
  local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', stream)
  if not ok or #groups == 0 then return len end
  local worst = 0
  for _, g in ipairs(groups) do
    local lag = nil
    for j = 1, #g, 2 do
      if g[j] == 'lag' then lag = g[j + 1] end
    end
    if lag == nil or lag == false then return len end
    if lag > worst then worst = lag end
  end
  return worst
end

if n == 0 then return { depth(true) } end
local d = depth(false)
if d >= max_depth then return { 'FULL', d } end

local nf = tonumber(ARGV[5])
local entry = {}
local per = {}
for j = 1, nf do
  local b = 6 + 3 * (j - 1)
  entry[2 * j - 1] = ARGV[b]
  if ARGV[b + 1] == '1' then entry[2 * j] = ARGV[b + 2] else per[#per + 1] = 2 * j end
end
local np = #per

local out = { d }
local queued = 0
local at = 6 + 3 * nf
for i = 1, n do
  local content_key = KEYS[2 * i + 1]
  local id_key = KEYS[2 * i + 2]
  if not redis.call('SET', id_key, '1', 'NX', 'EX', window) then
    out[#out + 1] = 'D:id'
  elseif not redis.call('SET', content_key, '1', 'NX', 'EX', window) then
    -- Not queued, so the event_id must not count as seen.
    redis.call('DEL', id_key)
    out[#out + 1] = 'D:content'
  else
    for k = 1, np do entry[per[k]] = ARGV[at + k - 1] end
    out[#out + 1] = redis.call('XADD', stream, '*', unpack(entry))
    queued = queued + 1
  end
  at = at + np
end

if ARGV[3] ~= '' then
  redis.call('HINCRBY', KEYS[2], 'total', tonumber(ARGV[3]))
  if queued > 0 then redis.call('HINCRBY', KEYS[2], 'queued', queued) end
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
end
return out
