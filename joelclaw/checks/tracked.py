""""Already tracked": the open Todoist tasks a check consults before notifying (the old
`hasTaskMatching`), so something that already has a task is not announced again. The list is
cached (`JOELCLAW_CHECKS_TASKS_CACHE_SECONDS`, 5 min) in the shared cache; without a Todoist
token nothing is tracked."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from joelclaw.cache import cache_for
from joelclaw.checks import clients

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

NAMESPACE = "checks-tasks"


def open_tasks(rt: Bus) -> list[dict[str, Any]]:
    """`[{id, content, description, labels}]` of the open tasks; [] without Todoist."""
    client = clients.todoist(rt.settings)
    if client is None:
        return []

    def fetch() -> list[dict[str, Any]]:
        try:
            return [{"id": str(t.get("id")), "content": str(t.get("content") or ""),
                     "description": str(t.get("description") or ""),
                     "labels": list(t.get("labels") or [])} for t in client.list_tasks()]
        finally:
            client.close()

    ttl = rt.settings.checks.tasks_cache_seconds
    if ttl <= 0:
        return fetch()
    return cache_for(rt).fetch(NAMESPACE, "open", fetch, ttl=ttl)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def matching(tasks: list[dict[str, Any]], *terms: str) -> dict[str, Any] | None:
    """The first task naming every word of any one term (`"typesense"`, `"stale runs"`)."""
    for task in tasks:
        words = _words(f"{task['content']} {task['description']} {' '.join(task['labels'])}")
        for term in terms:
            wanted = _words(term)
            if wanted and wanted <= words:
                return task
    return None
