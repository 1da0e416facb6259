"""Metrics the bus records when things happen, in the same write that made them true: the
durations of the steps an execution finished and, when a run ends, its outcome.

Those writes do not touch the counters: they push the increments onto a backlog
(`keys.METRIC_BACKLOG`, one RPUSH however many), and `catch_up` applies the backlog in batches,
one increment per counter and batch, atomically (what it takes, it applies: never twice, never
lost). The sweeper catches up at every tick and every reader before it reads, so a view counts
every run that ended before it looked, and a run's end costs one command for its metrics
instead of five. A scrape of `/metrics` reads them (see `read_step_histogram`): no run scans.
"""

from __future__ import annotations

import bisect
import math
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.redisconn import backlog

if TYPE_CHECKING:
    import redis

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
SEP = "|"
TIMED_STEPS = frozenset({"run"})  # sleeps and waits are not work; members are counted as runs


_LABELS = (*(str(b) for b in BUCKETS), "+Inf")


def _bucket(seconds: float) -> str:
    """The histogram bucket's label: the smallest bound at or above `seconds`."""
    return _LABELS[bisect.bisect_left(BUCKETS, seconds)]


def observe_steps(pipe: Any, function: str, timings: list[tuple[str, float]]) -> None:
    """Count the execution times of an execution's finished steps, one increment per bucket
    and type (queued into the execution's final write: no round trip of their own)."""
    buckets: dict[str, int] = {}
    sums: dict[str, float] = {}
    for kind, seconds in timings:
        if kind not in TIMED_STEPS:
            continue
        prefix = f"{function}{SEP}{kind}{SEP}"
        field = prefix + _bucket(seconds)
        buckets[field] = buckets.get(field, 0) + 1
        sums[prefix + "sum"] = sums.get(prefix + "sum", 0.0) + seconds
    items = [_item(keys.METRIC_STEPS, field, count) for field, count in buckets.items()]
    items += [_item(keys.METRIC_STEPS, field, float(total)) for field, total in sums.items()]
    if items:
        pipe.rpush(keys.METRIC_BACKLOG, *items)


def run_ended(pipe: Any, function: str, status: str, *, created_at: float,
              started_at: float | None, execution_ms: float | None) -> None:
    """Count a run that ended (completed, failed, cancelled or skipped), queued into the write
    that ends it: the Prometheus counter, and one field in the ten-minute bucket of the run's
    creation (the functions view counts the runs created in its window and how they ended):
    its outcome, its body time and the time before it first ran, as log buckets (`-` when it
    never ran). Every run is counted, no sample and no cap."""
    bucket = int(created_at // keys.FUNCTION_STATS_BUCKET) * keys.FUNCTION_STATS_BUCKET
    body = waited = NEVER
    if started_at is not None:
        waited = str(log_bucket((started_at - created_at) * 1000))
        if execution_ms is not None:
            body = str(log_bucket(execution_ms))
    pipe.rpush(keys.METRIC_BACKLOG,
               _item(keys.METRIC_RUNS, f"{function}{SEP}{status}", 1),
               _item(keys.function_stats(bucket), SEP.join((function, status, body, waited)), 1,
                     keys.FUNCTION_STATS_TTL))


def _item(key: str, field: str, amount: int | float, ttl: int | None = None) -> str:
    """One increment as the backlog holds it: key, field, amount (a float has a '.' or an
    exponent: HINCRBYFLOAT) and the key's expiry in seconds ('' for none), tab-separated."""
    return f"{key}\t{field}\t{amount!r}\t{ttl or ''}"


# Apply at most ARGV[1] increments of the backlog (KEYS[1]): summed per counter, one HINCRBY
# (or HINCRBYFLOAT) each, one EXPIRE per key that has one. Returns how many were taken.
CATCH_UP = r"""
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items == 0 then return 0 end
redis.call('LTRIM', KEYS[1], #items, -1)
local sums, floats, order, ttls = {}, {}, {}, {}
for _, item in ipairs(items) do
  local key, field, amount, ttl =
    string.match(item, '^([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]*)$')
  local n = amount and tonumber(amount)
  if n then
    local id = key .. '\t' .. field
    if sums[id] == nil then
      sums[id] = 0
      order[#order + 1] = {id, key, field}
    end
    sums[id] = sums[id] + n
    if string.find(amount, '[.eE]') then floats[id] = true end
    if ttl ~= '' then ttls[key] = ttl end
  end
end
for _, counter in ipairs(order) do  -- pcall: a counter that is not one fails alone
  local id = counter[1]
  if floats[id] then
    redis.pcall('HINCRBYFLOAT', counter[2], counter[3], string.format('%.17g', sums[id]))
  else
    redis.pcall('HINCRBY', counter[2], counter[3], string.format('%d', sums[id]))
  end
end
for key, ttl in pairs(ttls) do redis.call('EXPIRE', key, ttl) end
return #items
"""
CATCH_UP_BATCH = 2000


def catch_up(client: redis.Redis, batch: int = CATCH_UP_BATCH, rounds: int = 1000) -> int:
    """Apply the backlog's increments (at most `rounds` batches); how many."""
    script = backlog.script_for(client, CATCH_UP)
    return backlog.drain(lambda: int(script(keys=[keys.METRIC_BACKLOG], args=[batch])), batch,
                         rounds)


NEVER = "-"  # the duration bucket of a run that never ran its body (skipped, cancelled early)


LOG_STEPS = 4  # buckets per doubling: a value is known within 2^(1/8), about ±9%


def log_bucket(ms: float) -> int:
    """The bucket of a duration: 0 holds up to 1 ms, bucket i up to 2^(i/4) ms."""
    if ms <= 1.0:
        return 0
    return math.ceil(math.log2(ms) * LOG_STEPS)


def bucket_value(index: int) -> float:
    """A bucket's geometric middle, the value a percentile in it is shown as."""
    if index <= 0:
        return 1.0
    return 2 ** ((index - 0.5) / LOG_STEPS)


def read_runs(client: redis.Redis) -> dict[tuple[str, str], int]:
    """Runs that ended, by function and outcome (the backlog applied first)."""
    catch_up(client)
    out: dict[tuple[str, str], int] = {}
    for field, value in client.hgetall(keys.METRIC_RUNS).items():
        function, _, status = field.decode().rpartition(SEP)
        out[(function, status)] = int(value)
    return out


def read_step_histogram(client: redis.Redis
                        ) -> dict[tuple[str, str], tuple[list[tuple[str, float]], float]]:
    """(function, type) → (cumulative buckets ending with +Inf, sum of seconds); the backlog
    applied first."""
    catch_up(client)
    raw: dict[tuple[str, str], dict[str, float]] = {}
    for field, value in client.hgetall(keys.METRIC_STEPS).items():
        parts = field.decode().split(SEP)
        if len(parts) == 3:
            raw.setdefault((parts[0], parts[1]), {})[parts[2]] = float(value)
    out = {}
    for series, values in raw.items():
        total, buckets = 0.0, []
        for bound in [*(str(b) for b in BUCKETS), "+Inf"]:
            total += values.get(bound, 0.0)
            buckets.append((bound, total))
        out[series] = (buckets, values.get("sum", 0.0))
    return out
