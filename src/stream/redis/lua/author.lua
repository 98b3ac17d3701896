--[[
  Author behaviour for a batch of events, in one round trip: how many messages each author sent
  in the current window, and in how many channels the same content was posted in it. Counted
  once per stream entry: an entry screened again (a claim after a crash) reads the counts
  without adding to them.

  One hash per author and window bucket holds it all, so a message costs a few hash commands
  and the key's TTL is set once, when the bucket's first message creates it:
    field "n"                       messages in the bucket
    field "c<content>"              distinct channels this content was posted in
    field "c<content>|<channel>"    marker: this content was already counted in this channel
    field "e<entry id>"             marker: this entry was already counted

  KEYS[i]          for event i: "<base>author:<platform>:<author_id>:<bucket>"

  ARGV[1]          time to live of the keys in seconds (covers the bucket and late events)
  ARGV[3i - 1]     for event i: its content field ("c" + content hash)
  ARGV[3i]         for event i: its marker field ("c" + content hash + "|" + channel)
  ARGV[3i + 1]     for event i: its entry marker ("e" + entry id)

  Returns { messages_1, channels_1, messages_2, channels_2, ... }, each counting this event.
]]

local ttl = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local n, channels
  if redis.call('HSETNX', key, ARGV[3 * i + 1], 1) == 0 then
    n = tonumber(redis.call('HGET', key, 'n')) or 1
    channels = tonumber(redis.call('HGET', key, ARGV[3 * i - 1])) or 1
  else
    n = redis.call('HINCRBY', key, 'n', 1)
    if n == 1 then redis.call('EXPIRE', key, ttl) end
    if redis.call('HSETNX', key, ARGV[3 * i], 1) == 1 then
      channels = redis.call('HINCRBY', key, ARGV[3 * i - 1], 1)
    else
      channels = tonumber(redis.call('HGET', key, ARGV[3 * i - 1]))
    end
  end
  out[2 * i - 1] = n
  out[2 * i] = channels
end
return out
