"""Lua for flow control: every check-and-take is one script, so two workers never both win.

Scripts read run fields as `joelclaw.bus.records.runs` encodes them: plain strings (a status is
`completed`, a flag `1`, a missing time the empty string).
"""

from __future__ import annotations

from joelclaw import keys
from joelclaw.bus.records.runs import encode_value, lua_terminal_table

_TERMINAL = lua_terminal_table()
ADMITTED = encode_value("admitted", True)

# Decide once whether a run may start at all: singleton, idempotency and rate limit are checked
# first and committed together, so a run skipped for one reason consumes nothing of the others.
# KEYS: run, singleton, idempotency, rate limit. ARGV: run id, singleton mode ('' = none),
# idempotency ttl s ('' = none), rate limit ('' = none), rate period ms, run key prefix,
# singleton ttl s. Returns {1, '', run to cancel or ''} or {0, reason, detail}.
ADMIT = _TERMINAL + """
local run = ARGV[1]
local cancel_old = ''
if ARGV[2] ~= '' then
  local cur = redis.call('GET', KEYS[2])
  if cur and cur ~= run then
    local st = redis.call('HGET', ARGV[6] .. cur, 'status')
    if st and not TERMINAL[st] then
      if ARGV[2] == 'skip' then return {0, 'singleton', cur} end
      cancel_old = cur
    end
  end
end
if ARGV[3] ~= '' then
  local cur = redis.call('GET', KEYS[3])
  if cur and cur ~= run then return {0, 'idempotency', cur} end
end
if ARGV[4] ~= '' then
  local n = tonumber(redis.call('GET', KEYS[4]) or '0')
  if n >= tonumber(ARGV[4]) then
    return {0, 'rate_limit', tostring(redis.call('PTTL', KEYS[4]))}
  end
end
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], run, 'EX', ARGV[7]) end
if ARGV[3] ~= '' then redis.call('SET', KEYS[3], run, 'EX', ARGV[3]) end
if ARGV[4] ~= '' then
  if redis.call('INCR', KEYS[4]) == 1 then redis.call('PEXPIRE', KEYS[4], ARGV[5]) end
end
redis.call('HSET', KEYS[1], 'admitted', '""" + ADMITTED + """')
return {1, '', cancel_old}
"""

# GCRA with queueing: reserve the next start time for this run (FIFO by arrival at the gate)
# and store it on the run, so a woken run starts without reserving again. Idempotent: the
# sender reserves right after creating the run (FIFO by event), the gate only if that was lost.
# KEYS: throttle key, run. ARGV: now ms, emission interval ms, tolerance ms.
THROTTLE = """
local have = redis.call('HGET', KEYS[2], 'throttle_at')
if have and have ~= '' then return have end
local now = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local start = tat - tonumber(ARGV[3])
if start < now then start = now end
local new_tat = tat + tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX',
           string.format('%.0f', new_tat - now + 60000))
redis.call('HSET', KEYS[2], 'throttle_at', string.format('%.3f', start / 1000))
return string.format('%.3f', start / 1000)
"""

# Take a slot in every constraint or none. Slots are run ids scored by lease expiry; expired ones
# (dead workers) are pruned first. A run waits behind the live runs queued before it (FIFO per
# key); queue entries whose run ended are dropped on the way.
# KEYS: (slots, queue) per constraint. ARGV: run, now, expiry, run key prefix, limits...
# Returns {1} or {0, constraint index, position, earliest slot expiry}.
ACQUIRE = _TERMINAL + f"local IDLE_TTL = {keys.FLOW_QUEUE_TTL}\n" + """
local run = ARGV[1]
local now = tonumber(ARGV[2])
local n = #KEYS / 2
for i = 1, n do
  local slots, queue = KEYS[2 * i - 1], KEYS[2 * i]
  local limit = tonumber(ARGV[4 + i])
  redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
  if not redis.call('ZSCORE', slots, run) then
    local free = limit - redis.call('ZCARD', slots)
    local ahead = 0
    if free > 0 then
      for _, id in ipairs(redis.call('ZRANGE', queue, 0, free + 50)) do
        if id == run then break end
        local st = redis.call('HGET', ARGV[4] .. id, 'status')
        if (not st) or TERMINAL[st] then
          redis.call('ZREM', queue, id)
        else
          ahead = ahead + 1
        end
        if ahead >= free then break end
      end
    end
    if free <= 0 or ahead >= free then
      redis.call('ZADD', queue, 'NX', now, run)
      redis.call('EXPIRE', queue, IDLE_TTL)
      local first = redis.call('ZRANGE', slots, 0, 0, 'WITHSCORES')
      return {0, i, redis.call('ZRANK', queue, run), tostring(first[2] or now)}
    end
  end
end
for i = 1, n do
  redis.call('ZADD', KEYS[2 * i - 1], ARGV[3], run)
  redis.call('EXPIRE', KEYS[2 * i - 1], IDLE_TTL)
  redis.call('ZREM', KEYS[2 * i], run)
end
return {1}
"""

# Give the slots back and wake as many queued runs as there are free slots now. The wake-up is a
# safety net a little in the future; the caller publishes the woken runs at once.
# KEYS: (slots, queue) per constraint, wakeups. ARGV: run, now, safety net at, limits...
RELEASE = """
local run = ARGV[1]
local now = tonumber(ARGV[2])
local n = (#KEYS - 1) / 2
local woken = {}
for i = 1, n do
  local slots, queue = KEYS[2 * i - 1], KEYS[2 * i]
  redis.call('ZREM', slots, run)
  redis.call('ZREM', queue, run)
  redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
  local free = tonumber(ARGV[3 + i]) - redis.call('ZCARD', slots)
  if free > 0 then
    for _, id in ipairs(redis.call('ZRANGE', queue, 0, free - 1)) do
      redis.call('ZADD', KEYS[#KEYS], 'LT', ARGV[3], id)
      woken[#woken + 1] = id
    end
  end
end
return woken
"""

# Debounce: keep the last event and push the due time to `period` after it, capped at `timeout`
# after the first. KEYS: debounce hash, wakeups. ARGV: event json, now, period, timeout or '',
# timer target.
DEBOUNCE = """
local now = tonumber(ARGV[2])
local first = tonumber(redis.call('HGET', KEYS[1], 'first') or ARGV[2])
local due = now + tonumber(ARGV[3])
if ARGV[4] ~= '' then due = math.min(due, first + tonumber(ARGV[4])) end
redis.call('HSET', KEYS[1], 'first', string.format('%.3f', first), 'event', ARGV[1],
           'due', string.format('%.3f', due))
redis.call('ZADD', KEYS[2], due, ARGV[5])
return string.format('%.3f', due)
"""

# Fire a debounce when due: hand over the last event and forget it; re-arm if it moved later.
# KEYS: debounce hash, wakeups. ARGV: now, timer target.
DEBOUNCE_TAKE = """
local due = redis.call('HGET', KEYS[1], 'due')
if not due then return false end
if tonumber(due) > tonumber(ARGV[1]) + 0.001 then
  redis.call('ZADD', KEYS[2], due, ARGV[2])
  return false
end
local event = redis.call('HGET', KEYS[1], 'event')
redis.call('DEL', KEYS[1])
return event
"""

# Batch: append; a full batch is taken at once, the first event arms the timeout.
# KEYS: batch list, due key, wakeups. ARGV: event json, now, timeout, max size, timer target.
BATCH = """
local n = redis.call('RPUSH', KEYS[1], ARGV[1])
if n >= tonumber(ARGV[4]) then
  local all = redis.call('LRANGE', KEYS[1], 0, -1)
  redis.call('DEL', KEYS[1], KEYS[2])
  return all
end
if n == 1 then
  local due = tonumber(ARGV[2]) + tonumber(ARGV[3])
  redis.call('SET', KEYS[2], string.format('%.3f', due))
  redis.call('ZADD', KEYS[3], due, ARGV[5])
end
return {}
"""

# Fire a batch on its timeout. KEYS: batch list, due key, wakeups. ARGV: now, timer target.
BATCH_TAKE = """
local due = redis.call('GET', KEYS[2])
if not due then return {} end
if tonumber(due) > tonumber(ARGV[1]) + 0.001 then
  redis.call('ZADD', KEYS[3], due, ARGV[2])
  return {}
end
local all = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1], KEYS[2])
return all
"""

FLOW_SCRIPTS = {
    "flow_admit": ADMIT, "flow_throttle": THROTTLE, "flow_acquire": ACQUIRE,
    "flow_release": RELEASE, "flow_debounce": DEBOUNCE, "flow_debounce_take": DEBOUNCE_TAKE,
    "flow_batch": BATCH, "flow_batch_take": BATCH_TAKE,
}
