"""Backups (reference §1.7 #86/#87): `system/backup.typesense` (03:00) and `system/backup.redis`
(03:30) in the owner's time zone, and on demand with `system/backup.requested` (target redis,
typesense or all). Each skips cleanly, saying why, when it cannot back up here; each ends with
`system/backup.completed`. Thin: the logic is in joelclaw.backups."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import redis

from joelclaw import redisconn
from joelclaw.backups import layout, redis_dump, redis_stream, rotation, snapshot
from joelclaw.bus.context import Context
from joelclaw.bus.functions import cron, function, trigger
from joelclaw.config import Settings, declaration_settings, resolve_redis_url
from joelclaw.errors import RetryAfter
from joelclaw.integrations.typesense import SearchClient, resolve_endpoint

_S = declaration_settings()  # crons and limits, read when the functions are declared


def _on_demand(target: str) -> Any:
    return trigger("system/backup.requested",
                   if_=f'event.data.target == "{target}" || event.data.target == "all"')


def _prepare(settings: Settings, kind: tuple[str, str, str]) -> dict[str, Any]:
    try:
        return {"folder": str(layout.folder(settings, kind)),
                "stamp": layout.stamp(settings.timezone)}
    except layout.Skip as skip:
        return {"skipped": skip.reason}


def _outcome(ctx: Context[Any], target: str, result: dict[str, Any]) -> dict[str, Any]:
    ctx.step.send_event("emit-completed", {"name": "system/backup.completed",
                                           "data": {"target": target, **result}})
    return result


def _client(settings: Settings) -> redis.Redis:
    return redisconn.connect(resolve_redis_url(settings), settings, socket_timeout=30)


def _trigger_bgsave(settings: Settings) -> dict[str, Any]:
    with _client(settings) as client:
        return redis_dump.trigger(client)


def _wait_bgsave(settings: Settings, before: int) -> dict[str, Any]:
    with _client(settings) as client:
        try:
            return redis_dump.wait(client, before, settings.backup_bgsave_timeout_seconds)
        except redis_dump.BgsaveFailed as exc:
            raise RetryAfter(10, str(exc)) from None


def _copy_rdb(settings: Settings, last_save: int, target: str) -> dict[str, Any]:
    with _client(settings) as client:
        found = redis_dump.locate(client, last_save)
    if isinstance(found, str):
        return {"not_here": found}
    return {"path": target, "bytes": redis_dump.copy(found, Path(target)), "via": "copy",
            "source": str(found)}


def _stream_rdb(settings: Settings, target: str) -> dict[str, Any]:
    try:
        cli = redis_stream.find_cli(settings.backup_redis_cli)
        size = redis_stream.stream(cli, resolve_redis_url(settings), Path(target),
                                   settings.backup_bgsave_timeout_seconds)
    except layout.Skip as skip:
        return {"skipped": skip.reason}
    return {"path": target, "bytes": size, "via": "redis-cli --rdb"}


def _rotate(folder: str, kind: tuple[str, str, str], keep: int) -> dict[str, Any]:
    return asdict(rotation.rotate(Path(folder), kind[1], kind[2], keep))


@function("system-backup-redis", triggers=[cron(_S.backup_redis_cron, timezone=_S.timezone),
                                           _on_demand("redis")],
          concurrency=1, retries=2)
def backup_redis(ctx: Context[Any]) -> dict[str, Any]:
    """BGSAVE, wait for it, copy the RDB into the backup folder (or stream it from a Redis on
    another host), keep the newest N."""
    settings = ctx.runtime.settings
    kind = layout.REDIS
    where = ctx.step.run("prepare-redis-backup-dir", _prepare, settings, kind)
    if "skipped" in where:
        return _outcome(ctx, "redis", {"status": "skipped", "reason": where["skipped"]})
    target = f"{where['folder']}/{layout.name(kind, where['stamp'])}"
    copied: dict[str, Any] = {"not_here": "JOELCLAW_BACKUP_REDIS_MODE=stream"}
    if settings.backup_redis_mode != "stream":
        started = ctx.step.run("trigger-redis-bgsave", _trigger_bgsave, settings)
        saved = ctx.step.run("wait-for-bgsave", _wait_bgsave, settings, started["before"])
        copied = ctx.step.run("copy-redis-rdb", _copy_rdb, settings, saved["last_save"], target)
    if "not_here" in copied:
        if settings.backup_redis_mode == "copy":
            return _outcome(ctx, "redis", {"status": "skipped", "reason": copied["not_here"] +
                                           " (JOELCLAW_BACKUP_REDIS_MODE=auto streams it)"})
        copied = ctx.step.run("stream-redis-rdb", _stream_rdb, settings, target)
        if "skipped" in copied:
            return _outcome(ctx, "redis", {"status": "skipped", "reason": copied["skipped"]})
    rotated = ctx.step.run("rotate-redis-backups", _rotate, where["folder"], kind,
                           settings.backup_keep)
    return _outcome(ctx, "redis", {"status": "completed", "path": copied["path"],
                                   "bytes": copied["bytes"], "via": copied["via"], **rotated})


def _snapshot(settings: Settings, target: str) -> dict[str, Any]:
    if resolve_endpoint(settings) is None:
        return {"skipped": "no Typesense configured: run `joelclaw up` (embedded) or set "
                           "JOELCLAW_TYPESENSE_URL and JOELCLAW_TYPESENSE_API_KEY"}
    return snapshot.take(SearchClient.from_settings(settings), Path(target))


@function("system-backup-typesense",
          triggers=[cron(_S.backup_typesense_cron, timezone=_S.timezone),
                    _on_demand("typesense")],
          concurrency=1, retries=2)
def backup_typesense(ctx: Context[Any]) -> dict[str, Any]:
    """Typesense's snapshot API into the backup folder, then keep the newest N."""
    settings = ctx.runtime.settings
    kind = layout.TYPESENSE
    where = ctx.step.run("prepare-directories", _prepare, settings, kind)
    if "skipped" in where:
        return _outcome(ctx, "typesense", {"status": "skipped", "reason": where["skipped"]})
    target = f"{where['folder']}/{layout.name(kind, where['stamp'])}"
    taken = ctx.step.run("trigger-snapshot", _snapshot, settings, target)
    if "skipped" in taken:
        return _outcome(ctx, "typesense", {"status": "skipped", "reason": taken["skipped"]})
    result: dict[str, Any] = {"status": "completed", "path": target, "bytes": taken["bytes"]}
    if not taken["local"]:
        result["reason"] = (f"Typesense wrote the snapshot on its own host at {target}; "
                            "it is not on this machine, so it was not rotated here")
        return _outcome(ctx, "typesense", result)
    rotated = ctx.step.run("rotate-typesense-snapshots", _rotate, where["folder"], kind,
                           settings.backup_keep)
    return _outcome(ctx, "typesense", {**result, **rotated})
