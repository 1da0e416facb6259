"""`tasks/triage` (reference #28): the open Todoist tasks, triaged by the LLM into a short
briefing (what matters today, what is stale, what to drop). Nothing happens while the task
list is unchanged (its hash is kept `JOELCLAW_TASK_TRIAGE_HASH_HOURS`), and the owner hears at
most once per `JOELCLAW_TASK_TRIAGE_COOLDOWN_HOURS`."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.integrations.llm import LLMClient

if TYPE_CHECKING:
    import redis

SYSTEM = ("You are the owner's chief of staff. Given their open tasks (JSON), answer in at most "
          "8 short markdown bullet lines: the 3 that matter most today, any that look stale or "
          "duplicated, any to drop. Name tasks by their content.")
FIELDS = ("id", "content", "description", "labels", "priority", "due", "project_id")


def snapshot(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(({f: t.get(f) for f in FIELDS} for t in tasks), key=lambda t: str(t["id"]))


def digest(tasks: list[dict[str, Any]]) -> str:
    text = json.dumps(snapshot(tasks), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def changed(client: redis.Redis, value: str, hours: float) -> bool:
    """True (and remembered) when the hash differs from the last one seen."""
    previous = client.get(keys.TASKS_TRIAGE_LAST_HASH)
    if previous is not None and previous.decode() == value:
        return False
    client.set(keys.TASKS_TRIAGE_LAST_HASH, value, ex=max(1, int(hours * 3600)))
    return True


def triage(llm: LLMClient, tasks: list[dict[str, Any]]) -> str:
    shown = [{k: v for k, v in t.items() if v not in (None, "", [])} for t in snapshot(tasks)]
    answer = llm.complete([{"role": "system", "content": SYSTEM},
                           {"role": "user", "content": json.dumps(shown[:200], default=str)}])
    return answer.strip()
