"""The backup functions' steps (tasks/backups.py): settings in, plain JSON out, so each can be
a memoized step; a skip (nothing to back up here) is a result, not an error."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from joelclaw import redisconn
from joelclaw.backups import layout, redis_dump, redis_stream, rotation
from joelclaw.backups import snapshot as typesense_snapshot
from joelclaw.config import resolve_redis_url
from joelclaw.errors import RetryAfter
from joelclaw.integrations.typesense import SearchClient, resolve_endpoint

if TYPE_CHECKING:
    import redis

    from joelclaw.config import Settings


def prepare(settings: Settings, kind: tuple[str, str, str]) -> dict[str, Any]:
    try:
        return {"folder": str(layout.folder(settings, kind)),
                "stamp": layout.stamp(settings.timezone)}
    except layout.BackupSkipped as skip:
        return {"skipped": skip.reason}


def _client(settings: Settings) -> redis.Redis:
    return redisconn.connect(resolve_redis_url(settings), settings, socket_timeout=30)


def trigger_bgsave(settings: Settings) -> dict[str, Any]:
    with _client(settings) as client:
        return redis_dump.trigger(client)


def wait_bgsave(settings: Settings, before: int) -> dict[str, Any]:
    with _client(settings) as client:
        try:
            return redis_dump.wait(client, before, settings.backups.bgsave_timeout_seconds)
        except redis_dump.BgsaveFailed as exc:
            raise RetryAfter(10, str(exc)) from None


def copy_rdb(settings: Settings, last_save: int, target: str) -> dict[str, Any]:
    with _client(settings) as client:
        found = redis_dump.locate(client, last_save)
    if isinstance(found, str):
        return {"not_here": found}
    return {"path": target, "bytes": redis_dump.copy(found, Path(target)), "via": "copy",
            "source": str(found)}


def stream_rdb(settings: Settings, target: str) -> dict[str, Any]:
    try:
        cli = redis_stream.find_cli(settings.backups.redis_cli)
        size = redis_stream.stream(cli, resolve_redis_url(settings), Path(target),
                                   settings.backups.bgsave_timeout_seconds)
    except layout.BackupSkipped as skip:
        return {"skipped": skip.reason}
    return {"path": target, "bytes": size, "via": "redis-cli --rdb"}


def rotate(folder: str, kind: tuple[str, str, str], keep: int) -> dict[str, Any]:
    return asdict(rotation.rotate(Path(folder), kind[1], kind[2], keep))


def snapshot_typesense(settings: Settings, target: str) -> dict[str, Any]:
    if resolve_endpoint(settings) is None:
        return {"skipped": "no Typesense configured: run `joelclaw up` (embedded) or set "
                           "JOELCLAW_TYPESENSE_URL and JOELCLAW_TYPESENSE_API_KEY"}
    return typesense_snapshot.take(SearchClient.from_settings(settings), Path(target))
