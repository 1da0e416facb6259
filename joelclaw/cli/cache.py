"""`joelclaw cache stats|clear`: hit and miss counts per tier, and emptying the cache."""

from __future__ import annotations

from typing import Any

import click

from joelclaw import keys
from joelclaw.cli.app import Session, cli, command
from joelclaw.cli.output import Reply, action


@cli.group("cache")
def cache() -> None:
    """The tiered cache: hot (in-process), Redis (shared), file (warm)."""


def _render_stats(result: dict[str, Any]) -> str:
    lines = [f"{'tier':<6} {'hits':>8} {'misses':>8} {'errors':>7} {'hit rate':>9}"]
    for tier in ("hot", "redis", "file"):
        row = result["tiers"][tier]
        lines.append(f"{tier:<6} {row['hit']:>8} {row['miss']:>8} {row['error']:>7} "
                     f"{_rate(row):>9}")
    lines.append(f"fetches: {result['fetches']}   redis entries: {result['redis_entries']}")
    return "\n".join(lines)


def _rate(row: dict[str, int]) -> str:
    total = row["hit"] + row["miss"]
    return f"{100 * row['hit'] / total:.1f}%" if total else "-"


@command("stats", group=cache)
def stats(session: Session) -> Reply:
    """Hits, misses and errors per tier, summed over every process."""
    from joelclaw.cache import read_stats

    rt = session.runtime()
    counts = read_stats(rt.redis)
    entries = sum(1 for _ in rt.redis.scan_iter(match=keys.CACHE + "*", count=500))
    result = {"tiers": {t: counts[t] for t in ("hot", "redis", "file")},
              "fetches": counts["fetch"].get("count", 0), "redis_entries": entries}
    return Reply(result, _render_stats, [action("cache clear", "empty the shared tiers")])


@command("clear", group=cache)
@click.argument("namespace", required=False)
@click.option("--pattern", help="A glob over '<namespace>:<key>', e.g. 'recall:*'.")
@click.option("--reset-stats", is_flag=True, help="Also zero the hit/miss counters.")
def clear(session: Session, namespace: str | None, pattern: str | None,
          reset_stats: bool) -> Reply:
    """Delete cached entries (all, one namespace, or a pattern) from Redis and the file tier.

    Each running process's hot tier expires by its own TTL (at most JOELCLAW_CACHE_HOT_TTL_SECONDS).
    """
    from joelclaw.cache import cache_for
    from joelclaw.cache import reset_stats as zero

    if namespace and pattern:
        raise click.UsageError("give a namespace or --pattern, not both")
    rt = session.runtime()
    target = pattern or (f"{namespace}:*" if namespace else "*")
    removed = cache_for(rt).invalidate_pattern(target)
    if reset_stats:
        zero(rt.redis)
    return Reply({"pattern": target, "removed": removed, "stats_reset": reset_stats},
                 lambda r: f"removed {r['removed']} entr{'y' if r['removed'] == 1 else 'ies'} "
                           f"matching {r['pattern']}", [action("cache stats", "counts per tier")])
