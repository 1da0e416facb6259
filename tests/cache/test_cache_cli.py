"""`joelclaw cache stats|clear` through the real CLI against a real Redis."""

from __future__ import annotations

from pathlib import Path

import redis

from joelclaw.cache import Cache
from tests.test_cli import cli_env, envelope, invoke, ok

__all__ = ["cli_env", "invoke"]


def test_stats_sum_every_process_and_clear_empties_the_shared_tiers(
    invoke, redis_url: str, tmp_path: Path,
) -> None:
    client = redis.Redis.from_url(redis_url)
    cache = Cache(client, tmp_path / "cache")
    cache.set("recall", "q1", [1])
    cache.set("todoist", "t1", {"x": 1})
    other = Cache(client, tmp_path / "cache")  # another process: a Redis hit
    other.get("recall", "q1")
    cache.get("recall", "nope")
    cache.stats.flush()
    other.stats.flush()
    stats = ok(invoke("cache", "stats", "--json"), "cache stats")
    assert stats["tiers"]["redis"]["hit"] == 1 and stats["tiers"]["hot"]["miss"] >= 2
    assert stats["redis_entries"] == 2

    cleared = ok(invoke("cache", "clear", "recall", "--json"), "cache clear")
    assert cleared["pattern"] == "recall:*" and cleared["removed"] >= 1
    assert Cache(client, tmp_path / "cache").get("recall", "q1") is None
    assert Cache(client, tmp_path / "cache").get("todoist", "t1") == {"x": 1}

    both = invoke("cache", "clear", "recall", "--pattern", "x*", "--json")
    assert both.exit_code == 2 and envelope(both)["error"]["code"] == "USAGE_ERROR"
    text = invoke("cache", "stats", "--text")
    assert text.exit_code == 0 and "hit rate" in text.stdout
