"""A Redis backup: BGSAVE, wait for it (LASTSAVE moves on and INFO persistence says it is done
and ok), locate the RDB file (CONFIG GET dir/dbfilename) and copy it, checking its REDIS header.

A Redis whose file is not on this machine (another host, a managed service with CONFIG
disabled) is a clear BackupSkipped naming why: the dump stays on the server's side. Streaming
it over the replication protocol (what `redis-cli --rdb` does) is not done here.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from joelclaw.errors import JoelclawError

if TYPE_CHECKING:
    import redis

MAGIC = b"REDIS"


class BgsaveFailed(JoelclawError):
    """Redis reported its background save failed, or it did not finish in time (retried)."""


def persistence(client: redis.Redis) -> dict[str, Any]:
    return dict(client.info("persistence"))


def trigger(client: redis.Redis) -> dict[str, Any]:
    """Start a BGSAVE that begins after this call; returns the LASTSAVE it must pass."""
    import redis

    before = int(client.lastsave().timestamp())
    while int(time.time()) <= before:  # LASTSAVE has one-second resolution
        time.sleep(0.05)
    try:
        client.bgsave(schedule=True)  # after a running AOF rewrite, instead of an error
    except redis.ResponseError as exc:
        if "already in progress" not in str(exc):
            raise
    return {"before": before, "requested_at": time.time()}


def wait(client: redis.Redis, before: int, timeout: float, poll: float = 0.1) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        info = persistence(client)
        saved = max(int(info.get("rdb_last_save_time", 0)), int(client.lastsave().timestamp()))
        if saved > before and not int(info.get("rdb_bgsave_in_progress", 0)):
            if info.get("rdb_last_bgsave_status", "ok") != "ok":
                raise BgsaveFailed(f"Redis says its last BGSAVE failed "
                                   f"(rdb_last_bgsave_status={info['rdb_last_bgsave_status']})")
            return {"last_save": saved}
        if time.monotonic() > deadline:
            raise BgsaveFailed(f"BGSAVE did not finish within {timeout:g}s "
                               "(JOELCLAW_BACKUP_BGSAVE_TIMEOUT_SECONDS)")
        time.sleep(poll)


def locate(client: redis.Redis, last_save: int) -> Path | str:
    """The dump file on this machine, or a sentence saying why it cannot be read here."""
    import redis

    try:
        directory = client.config_get("dir").get("dir")
        filename = client.config_get("dbfilename").get("dbfilename")
    except redis.ResponseError as exc:
        return (f"CONFIG GET is refused by this Redis ({exc}): a managed Redis keeps its dump "
                "on its side; back it up with its provider's snapshots")
    if not directory or not filename:
        return "CONFIG GET dir/dbfilename gave nothing: the dump cannot be located"
    path = Path(directory) / filename
    try:
        modified = path.stat().st_mtime
    except OSError:
        return (f"the dump {path} is not on this machine (Redis runs elsewhere): copy it on "
                "the Redis host, or run this worker there")
    if modified + 2 < last_save or not os.access(path, os.R_OK):
        return (f"{path} here is not the dump Redis just wrote (older than its LASTSAVE, or "
                "unreadable): Redis runs elsewhere")
    return path


def copy(source: Path, target: Path) -> int:
    """Copy atomically (a temporary name, then rename); check the RDB magic."""
    tmp = target.with_name(target.name + ".part")
    shutil.copyfile(source, tmp)
    with tmp.open("rb") as handle:
        header = handle.read(len(MAGIC))
    if header != MAGIC:
        tmp.unlink(missing_ok=True)
        raise BgsaveFailed(f"{source} does not start with the RDB magic {MAGIC!r}")
    tmp.replace(target)
    return target.stat().st_size
