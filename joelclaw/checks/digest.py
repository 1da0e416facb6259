"""The daily digest (reference #44): the day's memory log (`<memory home>/memory/<date>.md`)
and the day's runs, summarized by the LLM into `<digest dir>/<date>.md` — at most one per date
(a claim in Redis, and an existing file is never rewritten)."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from joelclaw import keys
from joelclaw.integrations.llm import LLMClient

if TYPE_CHECKING:
    import redis

    from joelclaw.bus.ports import Bus
    from joelclaw.config import Settings

SOURCE_CHARS = 20000
CLAIM_SECONDS = 2 * 86400
SYSTEM = ("Write the owner's daily digest in markdown: a title line, then at most 12 bullets "
          "covering what happened, decisions made, open threads and anything that failed. "
          "Use only the material given.")


def directory(settings: Settings) -> Path:
    return (settings.checks.digest_dir or settings.memory_home / "digests").expanduser()


def source_path(settings: Settings, date: str) -> Path:
    return settings.memory_home / "memory" / f"{date}.md"


def digest_path(settings: Settings, date: str) -> Path:
    return directory(settings) / f"{date}.md"


def claim(client: redis.Redis, settings: Settings, date: str, run_id: str) -> bool:
    """True for the one run that writes `date`'s digest."""
    if digest_path(settings, date).exists():
        return False
    return bool(client.set(keys.digest_done(date), run_id, nx=True, ex=CLAIM_SECONDS))


def release(client: redis.Redis, date: str, run_id: str) -> None:
    if (client.get(keys.digest_done(date)) or b"").decode() == run_id:
        client.delete(keys.digest_done(date))


def material(rt: Bus, date: str) -> dict[str, Any]:
    s = rt.settings
    try:
        log = source_path(s, date).read_text(encoding="utf-8")
    except FileNotFoundError:
        log = ""
    zone = ZoneInfo(s.timezone)
    start = datetime.fromisoformat(date).replace(tzinfo=zone)
    end = start + timedelta(days=1)
    counts: dict[str, int] = {}
    failed: dict[str, int] = {}
    for run in rt.runs.list(since=start.timestamp(), until=end.timestamp(), limit=5000):
        counts[run.status] = counts.get(run.status, 0) + 1
        if run.status == "failed":
            failed[run.function] = failed.get(run.function, 0) + 1
    return {"log": log[-SOURCE_CHARS:], "runs": counts, "failed": failed}


def write(llm: LLMClient, settings: Settings, date: str, found: dict[str, Any]) -> str:
    runs = ", ".join(f"{k} {v}" for k, v in sorted(found["runs"].items())) or "none"
    failed = ", ".join(f"{k} x{v}" for k, v in sorted(found["failed"].items())) or "none"
    user = (f"Date: {date}\nRuns: {runs}\nFailed functions: {failed}\n\n"
            f"Memory log:\n{found['log'] or '(empty: a quiet day)'}")
    text = llm.complete([{"role": "system", "content": SYSTEM},
                         {"role": "user", "content": user}]).strip()
    path = digest_path(settings, date)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{date}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text + "\n")
    os.replace(tmp, path)
    return str(path)
