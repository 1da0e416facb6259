"""Forgetting outside Redis: the Typesense collections, the cache's file tier, the daily logs and
MEMORY.md (through its own atomic write, the one promotions use)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from joelclaw import provenance
from joelclaw.forget.model import Finding
from joelclaw.forget.needles import Target, excerpt
from joelclaw.memory.dailylog import DailyLog, split_entries
from joelclaw.memory.memoryfile import MemoryFile

if TYPE_CHECKING:
    from joelclaw.integrations.typesense import SearchClient


def search_documents(search: SearchClient, target: Target) -> list[Finding]:
    """Every document of every collection holding a needle or derived from the target."""
    found: list[Finding] = []
    for name in search.collection_names():
        for doc in search.export(name):
            text = json.dumps(doc, ensure_ascii=False)
            if target.holds(text) or target.derived(doc):
                found.append(Finding(f"typesense:{name}", str(doc["id"]), "document deleted",
                                     excerpt(text, target),
                                     partial(search.delete, name, str(doc["id"]))))
    return found


def cache_files(directory: Path, target: Target) -> list[Finding]:
    found: list[Finding] = []
    if not directory.exists():
        return found
    for path in sorted(directory.rglob("*.json")):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if target.touches(text):
            found.append(Finding("cache", str(path.relative_to(directory)), "file deleted",
                                 excerpt(text, target),
                                 partial(path.unlink, missing_ok=True)))
    return found


def _line_touched(line: str, target: Target) -> bool:
    prov = provenance.parse_comment(line)
    return target.holds(line) or prov.get("event") in target.events or \
        prov.get("run") in target.runs


def daily_logs(log: DailyLog, target: Target) -> list[Finding]:
    """Whole entries (from one marker to the next) go; the rest of the day stays."""
    found: list[Finding] = []
    if not log.directory.exists():
        return found
    for path in sorted(log.directory.glob("*.md")):
        date = path.stem
        chunks = split_entries(log.read(date))
        doomed = [c for c in chunks if any(_line_touched(line, target)
                                           for line in c.splitlines())]
        if not doomed:
            continue
        kept = "".join(c for c in chunks if c not in doomed)
        found.append(Finding("daily-log", path.name, f"{len(doomed)} entr(y/ies) removed",
                             excerpt("".join(doomed), target),
                             partial(log.rewrite, date, kept)))
    return found


def memory_file(memory: MemoryFile, target: Target) -> list[Finding]:
    found: list[Finding] = []
    lines = [line for line in memory.read().splitlines() if _line_touched(line, target)] \
        if memory.path.exists() else []
    if lines:
        found.append(Finding("memory-file", memory.path.name,
                             f"{len(lines)} line(s) removed (atomic write)",
                             excerpt("\n".join(lines), target),
                             partial(memory.remove_lines, partial(_line_touched, target=target))))
    if memory.backup.exists() and target.holds(memory.backup.read_text(errors="replace")):
        found.append(Finding("memory-file", memory.backup.name, "rollback copy deleted", "",
                             lambda: memory.backup.unlink(missing_ok=True)))
    return found
