"""Memory's parts in `/metrics` and `/health`: the tiered cache's counts per tier (read, never
written, by a scrape) and the embedded Typesense that `joelclaw up` recorded, on real servers."""

from __future__ import annotations

from pathlib import Path

from joelclaw import keys
from joelclaw.cache import Cache
from joelclaw.config import Settings
from joelclaw.embedded import TypesenseServer, free_port
from tests.webhooks.test_health_metrics import make, scrape, stamp_alive, value

LOOKUPS = "joelclaw_cache_lookups_total"


def test_metrics_show_cache_hits_misses_and_fetches_per_tier(settings: Settings,
                                                            tmp_path: Path) -> None:
    app, rt = make(settings)
    one = Cache(rt.redis, tmp_path / "cache")
    assert one.get("ns", "k", tier="warm") is None  # a miss in every tier
    one.set("ns", "k", {"v": 1}, tier="warm")
    assert one.get("ns", "k", tier="warm") == {"v": 1}  # hot hit
    other = Cache(rt.redis, tmp_path / "cache")  # another process: its own hot tier
    assert other.get("ns", "k", tier="shared") == {"v": 1}  # hot miss, Redis hit
    assert one.fetch("ns", "f", lambda: 7, tier="hot") == 7  # a fetch after hot misses
    one.stats.flush()
    other.stats.flush()

    metrics = scrape(app)
    lookups = metrics["joelclaw_cache_lookups"]
    assert value(lookups, LOOKUPS, tier="hot", outcome="hit") == 1
    assert value(lookups, LOOKUPS, tier="hot", outcome="miss") == 4
    assert value(lookups, LOOKUPS, tier="redis", outcome="hit") == 1
    assert value(lookups, LOOKUPS, tier="redis", outcome="miss") == 1
    assert value(lookups, LOOKUPS, tier="file", outcome="miss") == 1
    assert value(lookups, LOOKUPS, tier="file", outcome="error") == 0
    assert value(metrics["joelclaw_cache_fetches"], "joelclaw_cache_fetches_total") == 1

    stored = rt.redis.hgetall(keys.CACHE_STATS)
    assert scrape(app)["joelclaw_cache_lookups"] == lookups, "a second scrape counts nothing"
    assert rt.redis.hgetall(keys.CACHE_STATS) == stored, "a scrape only reads"


def test_a_broken_tier_shows_as_errors(settings: Settings, tmp_path: Path) -> None:
    app, rt = make(settings)
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the warm tier wants a directory")
    cache = Cache(rt.redis, blocked)
    cache.set("ns", "k", [1], tier="warm")  # the file tier fails; the others take it
    assert cache.get("ns", "k", tier="warm") == [1]
    cache.stats.flush()
    lookups = scrape(app)["joelclaw_cache_lookups"]
    assert value(lookups, LOOKUPS, tier="file", outcome="error") >= 1
    assert value(lookups, LOOKUPS, tier="hot", outcome="hit") == 1


def _record(home: Path, url: str, key: str) -> None:
    """What `joelclaw up` writes for its embedded Typesense (the CLI in another shell reads it)."""
    directory = home / "typesense"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "url").write_text(url)
    (directory / "api-key").write_text(key)


def test_health_finds_the_embedded_typesense_up_recorded(settings: Settings,
                                                        typesense: TypesenseServer) -> None:
    assert settings.typesense_url is None
    app, rt = make(settings)
    stamp_alive(rt)
    assert "typesense" not in app.test_client().get("/health").get_json()["components"]
    _record(settings.home_dir, typesense.url, typesense.api_key or "")
    body = app.test_client().get("/health").get_json()
    assert body["components"]["typesense"]["ok"] and body["degraded"] == []
    assert body["components"]["typesense"]["http_status"] == 200


def test_a_recorded_typesense_that_is_gone_is_degraded_not_down(settings: Settings) -> None:
    app, rt = make(settings)
    stamp_alive(rt)
    _record(settings.home_dir, f"http://127.0.0.1:{free_port()}", "some-key")
    response = app.test_client().get("/health")
    body = response.get_json()
    assert response.status_code == 200 and body["degraded"] == ["typesense"]
