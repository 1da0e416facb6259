"""Todoist echo suppression: a task the system closed itself must not come back as an event.

When a joelclaw function completes a Todoist task, Todoist answers with an `item:completed`
webhook a moment later; reacting to it would loop (or at least double-handle) the completion.
`TodoistClient.complete_task` calls `mark_completed_by_system` right before its API call (so
a webhook that beats the API's answer is still caught) and clears the mark if the call fails;
the webhook route drops `todoist/task.completed` for that task while the 60 s key lives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from joelclaw import keys

if TYPE_CHECKING:
    import redis

ECHO_TTL_SECONDS = keys.ECHO_TTL


def echo_key(task_id: str) -> str:
    return keys.todoist_echo(task_id)


def mark_completed_by_system(client: redis.Redis, task_id: str) -> None:
    """Remember for 60 s that the system itself completed `task_id`."""
    client.set(echo_key(str(task_id)), 1, ex=ECHO_TTL_SECONDS)


def completed_by_system(client: redis.Redis, task_id: str | None) -> bool:
    """True while the system's own completion of `task_id` is still fresh."""
    return bool(task_id) and bool(client.exists(echo_key(str(task_id))))
