"""The Lua scripts of the Redis store: ``window.py``'s arithmetic, run atomically inside Redis.

One script call admits a batch of calls, each against all its limits (all or nothing), in
order, with the time taken from Redis (``TIME``), so replicas' clocks never disagree about a
window. Layout:

* a window limit is two keys: a sorted set of ``<admission id>|<weight>`` scored by the
  charge time in ms, and the running total of the weights;
* a concurrency limit is one sorted set of admission ids scored by their lease's end.

Every key expires on its own once nothing in it can count any more.
"""

from __future__ import annotations

ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local function weight(member) return tonumber(string.match(member, '|(%d+)$')) end
local function wait_for(log, need)
  local freed, start = 0, 0
  while true do
    local batch = redis.call('ZRANGE', log, start, start + 63, 'WITHSCORES')
    if #batch == 0 then return window end
    for j = 1, #batch, 2 do
      freed = freed + weight(batch[j])
      if freed >= need then return tonumber(batch[j + 1]) + window - now end
    end
    start = start + 64
  end
end
local function check(kind, limit, cost, k, state)
  if kind == 'w' then
    local log, sum = KEYS[k], KEYS[k + 1]
    local total = tonumber(redis.call('GET', sum) or '0')
    local old = redis.call('ZRANGEBYSCORE', log, '-inf', now - window)
    if #old > 0 then
      for _, member in ipairs(old) do total = total - weight(member) end
      redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window)
      redis.call('SET', sum, total, 'KEEPTTL')
    end
    state.used = total
    if total + cost <= limit then return 0 end
    if cost > limit then return window end
    return wait_for(log, total + cost - limit)
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', now)
  state.used = redis.call('ZCARD', KEYS[k])
  if state.used + 1 <= limit then return 0 end
  return 1000
end
local function charge(kind, cost, k, id, state)
  if kind == 'w' then
    redis.call('ZADD', KEYS[k], now, id .. '|' .. cost)
    redis.call('PEXPIRE', KEYS[k], window + 1000)
    state.used = redis.call('INCRBY', KEYS[k + 1], cost)
    redis.call('PEXPIRE', KEYS[k + 1], window + 1000)
  else
    redis.call('ZADD', KEYS[k], now + lease, id)
    redis.call('PEXPIRE', KEYS[k], lease + 1000)
    state.used = state.used + 1
  end
end
local reply, a, k = {}, 3, 1
while a <= #ARGV do
  local id, count = ARGV[a], tonumber(ARGV[a + 1])
  local wait, states = 0, {}
  for i = 1, count do
    local base = a + 2 + 3 * (i - 1)
    local kind = ARGV[base]
    states[i] = {k = k}
    wait = math.max(wait, check(kind, tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]), k, states[i]))
    if kind == 'w' then k = k + 2 else k = k + 1 end
  end
  reply[#reply + 1] = wait == 0 and 1 or 0
  reply[#reply + 1] = wait
  for i = 1, count do
    local base = a + 2 + 3 * (i - 1)
    local kind, limit = ARGV[base], tonumber(ARGV[base + 1])
    local state = states[i]
    if wait == 0 then charge(kind, tonumber(ARGV[base + 2]), state.k, id, state) end
    local reset = 0
    if kind == 'w' then
      local oldest = redis.call('ZRANGE', KEYS[state.k], 0, 0, 'WITHSCORES')
      if #oldest > 0 then reset = tonumber(oldest[2]) + window - now end
    end
    reply[#reply + 1] = limit - state.used
    reply[#reply + 1] = reset
  end
  a = a + 2 + 3 * count
end
return reply
"""
"""KEYS: per admission, per limit, a window's log and total, or a concurrency set. ARGV: window
ms, lease ms, then per admission its id, its number of limits and per limit ``w``/``c``,
limit, cost. Returns per admission: admitted, wait ms, then remaining and reset ms per limit."""

FINISH = """
local k = 1
for a = 1, #ARGV, 4 do
  local kind, id, estimate, actual = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  if kind == 'w' then
    local old = id .. '|' .. estimate
    local score = redis.call('ZSCORE', KEYS[k], old)
    if score then
      redis.call('ZREM', KEYS[k], old)
      redis.call('ZADD', KEYS[k], score, id .. '|' .. actual)
      redis.call('INCRBY', KEYS[k + 1], tonumber(actual) - tonumber(estimate))
    end
    k = k + 2
  else
    redis.call('ZREM', KEYS[k], id)
    k = k + 1
  end
end
return 1
"""
"""KEYS as for ADMIT. ARGV, per key group: ``w`` id estimate actual (a token correction; an entry
already out of the window is left alone) or ``c`` id 0 0 (release a slot)."""

RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', now + lease, ARGV[i + 1])
  redis.call('PEXPIRE', KEYS[i], lease + 1000)
end
return #KEYS
"""
"""KEYS: concurrency sets; ARGV: lease ms, then the admission id held in each (renewed only if
still there: a slot that already expired is not brought back)."""
