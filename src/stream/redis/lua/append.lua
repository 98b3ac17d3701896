--[[
  Append a request's events in one round trip: backpressure check, dedup check-and-set, XADD,
  batch counters. Atomic, so two concurrent copies of an event can never both be queued, and a
  full queue queues nothing of a request.

  KEYS[1]  the stream (e.g. "{rp}:events:raw")
  KEYS[2]  the batch counters hash (e.g. "{rp}:batch:<id>"); ignored when ARGV[3] is ""

  ARGV[1]  max depth: refuse when the stream's unconsumed depth is at or above it
  ARGV[2]  dedup window in seconds (W)
  ARGV[3]  batch total to add ("" = no batch counters)
  ARGV[4]  batch counters' time to live in seconds
  ARGV[5]  the dedup buckets' key prefix (e.g. "{rp}:dd:w3600:"): bucket b is the hash
           <prefix><b>. Built here from Redis' clock, so it is not in KEYS; it carries the same
           hash tag as KEYS[1], so in Redis Cluster it is in the same slot.
  ARGV[6]  n: the number of events
  ARGV[7]  "1": backpressure per event, each one as if it were its own request (coalesced single
           events: event i is refused when the depth with the events queued before it in this
           call is at the limit); "0": per call (a batch is refused or taken as a whole)
  ARGV[8 .. 7+2n]  for event i: "i" .. its event_id, "c" .. its content hash (its fields in
                   the dedup buckets)
  ARGV[8+2n]  f: the number of fields of an entry (every entry has the same fields, in one order)
  then for field j: its name, "1" when its value is the same for every entry (then the value
       follows) or "0" (then the value is per entry, and "" follows)
  then, for each event in turn: the values of its per-entry fields, in field order

  (A template rather than f pairs per entry: a batch of 500 costs Redis a third of the strings.)

  Dedup memory: time buckets of W seconds on Redis' clock (TIME), one hash each; an identity
  seen at t is the field "i<event_id>" or "c<content hash>" of bucket floor(t / W) with the value
  t in ms. Something seen less than W ago is in the current or the previous bucket, so both are
  read (one HMGET each for the whole request) and a field of the previous bucket counts only if
  now - t < W: the window is exact, as with one key per identity and EX W, at a fraction of the
  cost (no key and expiry entry per identity). Every call that records something UNLINKs bucket
  b-2 (a large hash is then freed off the main thread, where an expiry would free it inline);
  each bucket also expires a little after the end of the next one, for when traffic stops.

  Returns { "FULL", depth } when refused, else { depth_bound, r1, r2, ... } where ri is the new
  stream id, "D:id" (event_id seen in the window), "D:content" (same platform/author/content) or,
  with backpressure per event, "F:<depth>" (refused: neither queued nor marked as seen),
  and depth_bound is the stream length (an upper bound of the depth). With no events it only
  reports the exact depth.
]]

local stream = KEYS[1]
local max_depth = tonumber(ARGV[1])
local n = tonumber(ARGV[6])

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
local per_event = ARGV[7] == '1'
if d >= max_depth and not per_event then return { 'FULL', d } end
local d_before = d

-- The clock and the two buckets that can hold something seen less than W ago.
local window_ms = tonumber(ARGV[2]) * 1000
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = math.floor(now / window_ms)
local cur = ARGV[5] .. b
local prev = ARGV[5] .. (b - 1)

-- Every identity read from both buckets, one HMGET each (in chunks: Lua's unpack has a stack
-- limit). in_cur[k] / in_prev[k] answer for ARGV[7 + k].
local CHUNK = 1000
local function hmget(key)
  local out = {}
  local last = 7 + 2 * n
  for s = 8, last, CHUNK do
    local part = redis.call('HMGET', key, unpack(ARGV, s, math.min(s + CHUNK - 1, last)))
    for k = 1, #part do out[s - 8 + k] = part[k] end
  end
  return out
end
local in_cur = hmget(cur)
local in_prev = hmget(prev)
local marked = {}
local function seen(k)
  if in_cur[k] or marked[ARGV[7 + k]] then return true end
  local at = in_prev[k]
  return at and now - tonumber(at) < window_ms
end

local at = 8 + 2 * n
local nf = tonumber(ARGV[at])
at = at + 1
local entry = {}
local per = {}
for j = 1, nf do
  entry[2 * j - 1] = ARGV[at]
  if ARGV[at + 1] == '1' then entry[2 * j] = ARGV[at + 2] else per[#per + 1] = 2 * j end
  at = at + 3
end
local np = #per

local out = { d_before }
local queued = 0
local new = {}
local stamp = tostring(now)
for i = 1, n do
  if per_event and d >= max_depth then
    out[#out + 1] = 'F:' .. d
  elseif seen(2 * i - 1) then
    out[#out + 1] = 'D:id'
  elseif seen(2 * i) then
    -- Not queued, so the event_id does not count as seen.
    out[#out + 1] = 'D:content'
  else
    local fi, fc = ARGV[6 + 2 * i], ARGV[7 + 2 * i]
    marked[fi] = true
    marked[fc] = true
    new[#new + 1] = fi
    new[#new + 1] = stamp
    new[#new + 1] = fc
    new[#new + 1] = stamp
    for k = 1, np do entry[per[k]] = ARGV[at + k - 1] end
    out[#out + 1] = redis.call('XADD', stream, '*', unpack(entry))
    queued = queued + 1
    if per_event then
      -- d + 1 bounds the new depth from above; at the limit, measure it (consumers may have read).
      d = d + 1
      if d >= max_depth then d = depth(false) end
    end
  end
  at = at + np
end

if #new > 0 then
  for s = 1, #new, CHUNK do redis.call('HSET', cur, unpack(new, s, math.min(s + CHUNK - 1, #new))) end
  -- Needed until the end of the next bucket. The expiry is the safety net for when traffic
  -- stops: while it flows, a call in bucket b + 2 unlinks it first (the margin).
  redis.call('PEXPIREAT', cur, (b + 2) * window_ms + math.min(window_ms, 60000))
  redis.call('UNLINK', ARGV[5] .. (b - 2))
end

if ARGV[3] ~= '' then
  redis.call('HINCRBY', KEYS[2], 'total', tonumber(ARGV[3]))
  if queued > 0 then redis.call('HINCRBY', KEYS[2], 'queued', queued) end
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
end
return out
