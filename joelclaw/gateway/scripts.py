"""The gateway queue's Lua scripts. Each claim, merge and ack is one atomic script, so two
gateway processes can never take the same message and nothing pushed between a read and a
delete is lost (the old LRANGE-then-DEL race cannot happen: nothing is ever read-then-deleted
outside a script)."""

from __future__ import annotations

ENQUEUE = """
-- KEYS: queue, msgs, seq, dedup key, idempotency key
-- ARGV: body, ts_ms, dedup_ttl_ms ('0' = none), idem_ttl_s ('0' = none)
if ARGV[4] ~= '0' then
  local prev = redis.call('GET', KEYS[5])
  if prev then return {0, prev} end
end
if ARGV[3] ~= '0' then
  if not redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[3]) then return {0, 'dedup'} end
end
local id = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[2], id, ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], id)
if ARGV[4] ~= '0' then redis.call('SET', KEYS[5], id, 'EX', ARGV[4]) end
return {1, tostring(id)}
"""

CLAIM = """
-- KEYS: q0, q1, q2, q3, msgs, inflight, attempts, streak, dead, stats, holders
-- ARGV: now_ms, lease_ms, sleeping, p3_ttl_ms, age_ms, max_coalesce, max_attempts, streak_limit,
--       p3_settle_ms (a probe waits this long so a burst collapses into one message), holder,
--       replay_window_ms (an expired claim older than this is not replayed)
local now = tonumber(ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[6], id)
  redis.call('HDEL', KEYS[11], id)
  local body = redis.call('HGET', KEYS[5], id)
  if body then
    local attempts = tonumber(redis.call('HGET', KEYS[7], id) or '0')
    local m = cjson.decode(body)
    local stale = now - tonumber(m.ts) > tonumber(ARGV[11])
    if attempts >= tonumber(ARGV[7]) or stale then
      redis.call('RPUSH', KEYS[9], body)
      redis.call('HDEL', KEYS[5], id)
      redis.call('HDEL', KEYS[7], id)
      if stale then redis.call('HINCRBY', KEYS[10], 'too_old_to_replay', 1)
      else redis.call('HINCRBY', KEYS[10], 'dead', 1) end
    else
      redis.call('ZADD', KEYS[1 + m.p], m.ts, id)
      redis.call('HINCRBY', KEYS[10], 'replayed', 1)
    end
  end
end
local stale = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[4]),
                         'LIMIT', 0, 1000)
for _, id in ipairs(stale) do
  redis.call('ZREM', KEYS[4], id)
  redis.call('HDEL', KEYS[5], id)
  redis.call('HDEL', KEYS[7], id)
end
if #stale > 0 then redis.call('HINCRBY', KEYS[10], 'auto_acked', #stale) end
local top = 3
if ARGV[3] == '1' then top = 0 end
local best, lower = nil, nil
local function better(a, b)
  if b == nil then return true end
  if a.eff ~= b.eff then return a.eff < b.eff end
  if a.ts ~= b.ts then return a.ts < b.ts end
  return tonumber(a.id) < tonumber(b.id)
end
for p = 0, top do
  local head = redis.call('ZRANGE', KEYS[1 + p], 0, 0, 'WITHSCORES')
  if #head > 0 and (p < 3 or now - tonumber(head[2]) >= tonumber(ARGV[9])) then
    local c = {id = head[1], p = p, eff = p, ts = tonumber(head[2])}
    if p >= 2 and now - c.ts >= tonumber(ARGV[5]) then c.eff = p - 1 end
    if better(c, best) then best = c end
    if c.eff > 0 and better(c, lower) then lower = c end
  end
end
if best == nil then return false end
local streak = tonumber(redis.call('GET', KEYS[8]) or '0')
if best.eff == 0 and lower ~= nil and streak >= tonumber(ARGV[8]) then best = lower end
-- Only P0 picks made while a lower message waits count: with nothing lower waiting nobody is
-- starved, and a streak grown then would let the next P2 jump a fresh P0.
if best.eff == 0 and lower ~= nil then redis.call('INCR', KEYS[8])
else redis.call('SET', KEYS[8], 0) end
redis.call('ZREM', KEYS[1 + best.p], best.id)
redis.call('ZADD', KEYS[6], now + tonumber(ARGV[2]), best.id)
redis.call('HINCRBY', KEYS[7], best.id, 1)
redis.call('HSET', KEYS[11], best.id, ARGV[10])
local body = redis.call('HGET', KEYS[5], best.id)
local coalesced = 0
if best.p == 3 then
  local others = redis.call('ZRANGE', KEYS[4], 0, tonumber(ARGV[6]) - 1)
  if #others > 0 then
    for _, id in ipairs(others) do
      redis.call('HDEL', KEYS[5], id)
      redis.call('HDEL', KEYS[7], id)
    end
    for i = 1, #others, 500 do
      redis.call('ZREM', KEYS[4], unpack(others, i, math.min(i + 499, #others)))
    end
    local m = cjson.decode(body)
    local n = #others + 1
    if type(m.meta) ~= 'table' then m.meta = {} end
    local kept = {best.id}
    for i = 1, math.min(#others, 19) do kept[i + 1] = others[i] end
    m.meta.coalescedCount = n
    m.meta.coalescedIds = kept
    m.prompt = n .. ' probe events suppressed (first: ' .. string.sub(m.prompt, 1, 200) .. ')'
    body = cjson.encode(m)
    redis.call('HSET', KEYS[5], best.id, body)
    coalesced = #others
    redis.call('HINCRBY', KEYS[10], 'coalesced', coalesced)
  end
end
return {best.id, body, best.eff, coalesced}
"""

CLAIM_MORE = """
-- KEYS: q0, msgs, inflight, attempts, holders   ARGV: merge_key, now_ms, lease_ms, scan_limit,
--       holder
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[4]) - 1)
local out = {}
for _, id in ipairs(ids) do
  local body = redis.call('HGET', KEYS[2], id)
  if not body then break end
  local m = cjson.decode(body)
  if m.mk ~= ARGV[1] then break end
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[3], tonumber(ARGV[2]) + tonumber(ARGV[3]), id)
  redis.call('HINCRBY', KEYS[4], id, 1)
  redis.call('HSET', KEYS[5], id, ARGV[5])
  table.insert(out, id)
  table.insert(out, body)
end
return out
"""

ACK = """
-- KEYS: inflight, msgs, attempts, holders   ARGV: ids
local n = 0
for _, id in ipairs(ARGV) do
  n = n + redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
end
return n
"""

RELEASE = """
-- KEYS: inflight, msgs, attempts, queue, holders   ARGV: id
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[5], ARGV[1])
local body = redis.call('HGET', KEYS[2], ARGV[1])
if not body then return 0 end
redis.call('HINCRBY', KEYS[3], ARGV[1], -1)
redis.call('ZADD', KEYS[4], cjson.decode(body).ts, ARGV[1])
return 1
"""

TAKE_HELD = """
-- KEYS: q1, q2, q3, msgs, attempts   ARGV: limit
local out = {}
for k = 1, 3 do
  local ids = redis.call('ZRANGE', KEYS[k], 0, tonumber(ARGV[1]) - 1)
  for _, id in ipairs(ids) do
    local body = redis.call('HGET', KEYS[4], id)
    redis.call('ZREM', KEYS[k], id)
    redis.call('HDEL', KEYS[4], id)
    redis.call('HDEL', KEYS[5], id)
    if body then table.insert(out, body) end
  end
end
return out
"""

TAKE_LIST = """
-- KEYS: list   ARGV: limit.  Read and remove in one step (no LRANGE-then-DEL race).
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
redis.call('LTRIM', KEYS[1], #items, -1)
return items
"""

# ---- taking over from a holder whose process is gone (joelclaw.gateway.holders) -----------

RECLAIM = """
-- KEYS: inflight, holders   ARGV: id, holder, id, holder, ...
-- Expire now the claims still held by these (dead) holders: the next claim replays them.
local n = 0
for i = 1, #ARGV, 2 do
  local id, holder = ARGV[i], ARGV[i + 1]
  if redis.call('HGET', KEYS[2], id) == holder then
    if redis.call('ZADD', KEYS[1], 'XX', 'CH', 0, id) == 1 then n = n + 1 end
    if not redis.call('ZSCORE', KEYS[1], id) then redis.call('HDEL', KEYS[2], id) end
  end
end
return n
"""
