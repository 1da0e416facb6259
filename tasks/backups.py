"""Backups (reference §1.7 #86/#87): `system/backup.typesense` (03:00) and `system/backup.redis`
(03:30) in the owner's time zone, and on demand with `system/backup.requested` (target redis,
typesense or all). Each skips cleanly, saying why, when it cannot back up here; each ends with
`system/backup.completed`. Thin: the logic is in joelclaw.backups."""

from __future__ import annotations

from typing import Any

from joelclaw import Context, cron, function, trigger
from joelclaw.backups import layout


def _on_demand(target: str) -> Any:
    return trigger("system/backup.requested",
                   if_=f'event.data.target == "{target}" || event.data.target == "all"')


def _outcome(ctx: Context[Any], target: str, result: dict[str, Any]) -> dict[str, Any]:
    ctx.step.send_event("emit-completed", {"name": "system/backup.completed",
                                           "data": {"target": target, **result}})
    return result


@function("system-backup-redis", triggers=[cron(lambda s: s.backups.redis_cron,
                                                timezone=lambda s: s.timezone),
                                           _on_demand("redis")],
          concurrency=1, retries=2)
def backup_redis(ctx: Context[Any]) -> dict[str, Any]:
    """BGSAVE, wait for it, copy the RDB into the backup folder (or stream it from a Redis on
    another host), keep the newest N."""
    from joelclaw.backups import steps

    settings = ctx.settings
    kind = layout.REDIS
    where = ctx.step.run("prepare-redis-backup-dir", steps.prepare, settings, kind)
    if "skipped" in where:
        return _outcome(ctx, "redis", {"status": "skipped", "reason": where["skipped"]})
    target = f"{where['folder']}/{layout.name(kind, where['stamp'])}"
    copied: dict[str, Any] = {"not_here": "JOELCLAW_BACKUP_REDIS_MODE=stream"}
    if settings.backups.redis_mode != "stream":
        started = ctx.step.run("trigger-redis-bgsave", steps.trigger_bgsave, settings)
        saved = ctx.step.run("wait-for-bgsave", steps.wait_bgsave, settings, started["before"])
        copied = ctx.step.run("copy-redis-rdb", steps.copy_rdb, settings, saved["last_save"],
                              target)
    if "not_here" in copied:
        if settings.backups.redis_mode == "copy":
            return _outcome(ctx, "redis", {"status": "skipped", "reason": copied["not_here"] +
                                           " (JOELCLAW_BACKUP_REDIS_MODE=auto streams it)"})
        copied = ctx.step.run("stream-redis-rdb", steps.stream_rdb, settings, target)
        if "skipped" in copied:
            return _outcome(ctx, "redis", {"status": "skipped", "reason": copied["skipped"]})
    rotated = ctx.step.run("rotate-redis-backups", steps.rotate, where["folder"], kind,
                           settings.backups.keep)
    return _outcome(ctx, "redis", {"status": "completed", "path": copied["path"],
                                   "bytes": copied["bytes"], "via": copied["via"], **rotated})


@function("system-backup-typesense",
          triggers=[cron(lambda s: s.backups.typesense_cron, timezone=lambda s: s.timezone),
                    _on_demand("typesense")],
          concurrency=1, retries=2)
def backup_typesense(ctx: Context[Any]) -> dict[str, Any]:
    """Typesense's snapshot API into the backup folder, then keep the newest N."""
    from joelclaw.backups import steps

    settings = ctx.settings
    kind = layout.TYPESENSE
    where = ctx.step.run("prepare-directories", steps.prepare, settings, kind)
    if "skipped" in where:
        return _outcome(ctx, "typesense", {"status": "skipped", "reason": where["skipped"]})
    target = f"{where['folder']}/{layout.name(kind, where['stamp'])}"
    taken = ctx.step.run("trigger-snapshot", steps.snapshot_typesense, settings, target)
    if "skipped" in taken:
        return _outcome(ctx, "typesense", {"status": "skipped", "reason": taken["skipped"]})
    result: dict[str, Any] = {"status": "completed", "path": target, "bytes": taken["bytes"]}
    if not taken["local"]:
        result["reason"] = (f"Typesense wrote the snapshot on its own host at {target}; "
                            "it is not on this machine, so it was not rotated here")
        return _outcome(ctx, "typesense", result)
    rotated = ctx.step.run("rotate-typesense-snapshots", steps.rotate, where["folder"], kind,
                           settings.backups.keep)
    return _outcome(ctx, "typesense", {**result, **rotated})
