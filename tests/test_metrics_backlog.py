"""A run's metrics ride on the write that ends it as one push onto a backlog; the backlog is
applied in batches, each increment exactly once, and every reader applies it before reading, so
a view counts every run that ended before it looked."""

from __future__ import annotations

import threading

from joelclaw import keys
from joelclaw.bus.records import metrics
from joelclaw.redisconn import resp
from joelclaw.runtime import Runtime


def _end_runs(rt: Runtime, count: int, function: str = "f-metrics") -> None:
    pipe = rt.redis.pipeline(transaction=False)
    for i in range(count):
        metrics.observe_steps(pipe, function, [("run", 0.004), ("run", 0.2), ("sleep", 9.0)])
        metrics.run_ended(pipe, function, "completed" if i % 4 else "failed",
                          created_at=1_000_000.0, started_at=1_000_000.5, execution_ms=210.0)
    pipe.execute()


def test_the_backlog_is_applied_once_however_many_catch_up_at_once(runtime: Runtime) -> None:
    _end_runs(runtime, 400)
    assert runtime.redis.hlen(keys.METRIC_RUNS) == 0  # nothing counted yet: all in the backlog
    workers = [threading.Thread(target=metrics.catch_up, args=(runtime.redis, 7))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert runtime.redis.llen(keys.METRIC_BACKLOG) == 0
    assert metrics.read_runs(runtime.redis) == {("f-metrics", "completed"): 300,
                                                ("f-metrics", "failed"): 100}
    buckets, total = metrics.read_step_histogram(runtime.redis)[("f-metrics", "run")]
    assert dict(buckets)["0.005"] == 400 and dict(buckets)["0.25"] == 800  # cumulative
    assert dict(buckets)["+Inf"] == 800  # sleeps are not timed
    assert abs(total - 400 * 0.204) < 1e-9
    bucket = keys.function_stats(int(1_000_000 // keys.FUNCTION_STATS_BUCKET)
                                 * keys.FUNCTION_STATS_BUCKET)
    fields = {k.decode(): int(v) for k, v in runtime.redis.hgetall(bucket).items()}
    assert sum(fields.values()) == 400 and len(fields) == 2
    assert 0 < runtime.redis.ttl(bucket) <= keys.FUNCTION_STATS_TTL


def test_a_reader_counts_what_ended_before_it_read(runtime: Runtime) -> None:
    _end_runs(runtime, 3, "f-read")
    assert metrics.read_runs(runtime.redis)[("f-read", "completed")] == 2
    _end_runs(runtime, 1, "f-read")
    assert metrics.read_runs(runtime.redis)[("f-read", "failed")] == 2


def test_a_malformed_entry_is_skipped_and_the_rest_counted(runtime: Runtime) -> None:
    runtime.redis.set("jc:test:not-a-hash", "x")
    runtime.redis.rpush(keys.METRIC_BACKLOG, "not an increment",
                        f"{keys.METRIC_RUNS}\tf-bad|completed\tx\t",
                        "jc:test:not-a-hash\tfield\t1\t")
    _end_runs(runtime, 4, "f-bad")
    assert metrics.catch_up(runtime.redis) == 4 * 5 + 3  # five increments a run, three bad
    assert metrics.read_runs(runtime.redis)[("f-bad", "completed")] == 3


def test_the_clis_small_client_applies_the_backlog_without_redis_py(runtime: Runtime) -> None:
    """`joelclaw functions` reads through the small RESP client: it applies the backlog with
    one EVAL, and builds no redis-py client for it."""
    def no_fallback() -> None:
        raise AssertionError("the small client fell back to redis-py")

    quick = resp.connect(runtime.settings.redis_url, no_fallback)
    assert quick is not None
    _end_runs(runtime, 5, "f-cli")
    try:
        assert metrics.catch_up(quick, batch=4) == 25  # five increments a run, in 7 batches
    finally:
        quick.close()
    assert metrics.read_runs(runtime.redis)[("f-cli", "completed")] == 3
