--[[
  Trim what every consumer group of a stream is done with, and nothing more: entries older than
  the oldest one some group still needs (its oldest pending entry, else the first entry after
  its last-delivered id). Without any group nothing is known to be done and nothing is trimmed.
  Trimming is approximate (MINID ~): Redis drops only whole internal nodes, so it may keep a few
  finished entries but never removes a needed one.

  KEYS[1]  the stream (e.g. "events:raw")

  Returns { entries_removed, minid } (minid "" when nothing was trimmed).
]]

local function parse(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end

local function less(a_ms, a_seq, b_ms, b_seq)
  return a_ms < b_ms or (a_ms == b_ms and a_seq < b_seq)
end

if redis.call('EXISTS', KEYS[1]) == 0 then return { 0, '' } end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return { 0, '' } end

local min_ms, min_seq = nil, nil
for _, g in ipairs(groups) do
  local name, pending, last = nil, 0, '0-0'
  for j = 1, #g, 2 do
    if g[j] == 'name' then name = g[j + 1]
    elseif g[j] == 'pending' then pending = g[j + 1]
    elseif g[j] == 'last-delivered-id' then last = g[j + 1] end
  end
  local ms, seq
  if pending > 0 then
    local summary = redis.call('XPENDING', KEYS[1], name)
    ms, seq = parse(summary[2])
  else
    ms, seq = parse(last)
    seq = seq + 1
  end
  if min_ms == nil or less(ms, seq, min_ms, min_seq) then min_ms, min_seq = ms, seq end
end

local minid = string.format('%.0f-%.0f', min_ms, min_seq)
local removed = redis.call('XTRIM', KEYS[1], 'MINID', '~', minid)
return { removed, minid }
