"""What one forgetting looks for, and how a value that holds it is rewritten.

A `Target` is the text to forget (needles: literal, case-insensitive; a person's name as a
whole word) and the events and runs it came from (their provenance ids). A value is *touched*
when its text holds a needle or when, as JSON, it names one of those events or runs as its
provenance (`event_id`, `run_id`, or a `prov` object). Rewriting keeps JSON valid: every string
leaf holding a needle becomes the stub, so a run's trace still opens and says why it is empty.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

MIN_NEEDLE = 6  # an event's shorter string values ("ok", "high") are not looked for elsewhere
MIN_TEXT = 4  # `--match` / `--person` shorter than this would reach far too much
# An event's machine values (statuses, names, ids, slugs: `completed`, `todoist/task.added`)
# appear in unrelated records: they identify nothing personal, so they are not needles.
MACHINE = re.compile(r"[a-z0-9_.:/#-]+")
PROVENANCE_KEYS = {"event_id": "events", "run_id": "runs"}


@dataclass
class Target:
    patterns: list[re.Pattern[str]]
    events: set[str] = field(default_factory=set)
    runs: set[str] = field(default_factory=set)
    stub: str = "[forgotten]"

    @classmethod
    def of_text(cls, text: str, *, whole_word: bool = False) -> Target:
        body = re.escape(text.strip())
        return cls([re.compile(rf"\b{body}\b" if whole_word else body, re.IGNORECASE)])

    def add_text(self, text: str) -> None:
        """Look for one of an event's values elsewhere too (unless short or a machine value)."""
        if len(text.strip()) >= MIN_NEEDLE and not MACHINE.fullmatch(text.strip()):
            pattern = re.compile(re.escape(text.strip()), re.IGNORECASE)
            if pattern.pattern not in {p.pattern for p in self.patterns}:
                self.patterns.append(pattern)

    def holds(self, text: str) -> bool:
        return any(p.search(text) for p in self.patterns)

    def derived(self, value: Any) -> bool:
        """True when a JSON value names one of the target's events or runs as its source."""
        if isinstance(value, dict):
            for key, kind in PROVENANCE_KEYS.items():
                if value.get(key) in getattr(self, kind):
                    return True
            prov = value.get("prov")
            if isinstance(prov, dict) and (prov.get("event") in self.events
                                           or prov.get("run") in self.runs):
                return True
            return any(self.derived(v) for v in value.values())
        if isinstance(value, list):
            return any(self.derived(v) for v in value)
        return False

    def touches(self, raw: str) -> bool:
        """The text holds a needle, or (as JSON) is derived from the target."""
        if self.holds(raw):
            return True
        if not (self.events or self.runs) or raw[:1] not in "{[":
            return False
        try:
            return self.derived(json.loads(raw))
        except ValueError:
            return False

    def rewrite(self, value: Any) -> Any:
        """`value` with every string leaf that holds a needle replaced by the stub, and every
        object key that holds one too (a record keyed by a name): the stub, numbered when an
        object has several."""
        if isinstance(value, str):
            return self.stub if self.holds(value) else value
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for k, v in value.items():
                key = k if not self.holds(k) else next(
                    name for n in range(1, len(value) + 2)
                    if (name := self.stub if n == 1 else f"{self.stub} ({n})") not in value
                    and name not in out)
                out[key] = self.rewrite(v)
            return out
        if isinstance(value, list):
            return [self.rewrite(v) for v in value]
        return value

    def rewrite_text(self, raw: str) -> str | None:
        """JSON text rewritten leaf by leaf; None when it is not JSON (the caller drops it)."""
        try:
            parsed = json.loads(raw)
        except ValueError:
            return None
        return json.dumps(self.rewrite(parsed))


def string_leaves(value: Any) -> list[str]:
    """Every string inside a JSON value (an event's data), keys excluded."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in string_leaves(v)]
    if isinstance(value, list):
        return [s for v in value for s in string_leaves(v)]
    return []


def blank(value: Any, stub: str) -> Any:
    """Every string leaf replaced by the stub (numbers and flags kept): derived data whose
    text may not hold a needle (an LLM's summary of the event) but came from it."""
    if isinstance(value, str):
        return stub
    if isinstance(value, dict):
        return {k: blank(v, stub) for k, v in value.items()}
    if isinstance(value, list):
        return [blank(v, stub) for v in value]
    return value


def excerpt(text: str, target: Target, width: int = 40) -> str:
    """A short window around the first needle, for the owner's dry run."""
    for pattern in target.patterns:
        found = pattern.search(text)
        if found:
            start = max(0, found.start() - width)
            return ("…" if start else "") + text[start:found.end() + width] + \
                ("…" if found.end() + width < len(text) else "")
    return text[:2 * width]
