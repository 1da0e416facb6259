"""Todoist REST API v1 (`api.todoist.com/api/v1`): the reads the notifiers use, and the writes
memory review needs (create with labels, complete, comment, list).

Completing a task arms the echo suppression of `joelclaw.integrations.echo` *before* the call,
so the `item:completed` webhook Todoist sends back a moment later is dropped even when it beats
our own answer; a failed call disarms it again. Creates carry an `X-Request-Id` and are not repeated
after a read timeout (Todoist may already have created the task).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from joelclaw.integrations import echo
from joelclaw.integrations.http import ApiClient, RetryPolicy, Sleep, make_client

if TYPE_CHECKING:
    import httpx
    import redis

SERVICE = "todoist"
PAGE_LIMIT = 200


class TodoistClient:
    """Bearer-token client; every method returns the decoded JSON object."""

    def __init__(self, token: str, base_url: str = "https://api.todoist.com/api/v1", *,
                 transport: httpx.BaseTransport | None = None, sleep: Sleep = time.sleep,
                 timeout: float = 10.0, redis_client: redis.Redis | None = None) -> None:
        self._api = ApiClient(
            make_client(base_url.rstrip("/") + "/", timeout=timeout, transport=transport,
                        headers={"Authorization": f"Bearer {token}"}),
            service=SERVICE, policy=RetryPolicy(), sleep=sleep, secrets=(token,), writes=True,
        )
        self._redis = redis_client

    def close(self) -> None:
        self._api.close()

    def get_task(self, task_id: str) -> dict[str, Any]:
        return self._api.request_json("GET", f"tasks/{task_id}")

    def get_project(self, project_id: str) -> dict[str, Any]:
        return self._api.request_json("GET", f"projects/{project_id}")

    def get_comments(self, task_id: str) -> list[dict[str, Any]]:
        """Comments on a task (v1 pages them as {"results": [...], "next_cursor"})."""
        answer = self._api.request_json("GET", "comments", params={"task_id": task_id})
        return answer.get("results", []) if isinstance(answer, dict) else list(answer or [])

    # -- writes (issue 10) ---------------------------------------------------------------

    def create_task(self, content: str, *, description: str = "", labels: Sequence[str] = (),
                    project_id: str | None = None, priority: int | None = None,
                    due_string: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"content": content, "description": description,
                                "labels": list(labels)}
        if project_id:
            body["project_id"] = project_id
        if priority:
            body["priority"] = priority
        if due_string:
            body["due_string"] = due_string
        return self._api.request_json("POST", "tasks", json=body,
                                      headers={"X-Request-Id": str(uuid.uuid4())})

    def complete_task(self, task_id: str) -> None:
        """Close a task; its completion webhook is suppressed for 60 s (see integrations.echo)."""
        if self._redis is not None:
            echo.mark_completed_by_system(self._redis, task_id)
        try:
            self._api.request("POST", f"tasks/{task_id}/close", idempotent=True)
        except Exception:
            if self._redis is not None:
                self._redis.delete(echo.echo_key(str(task_id)))
            raise

    def add_comment(self, task_id: str, content: str) -> dict[str, Any]:
        return self._api.request_json("POST", "comments", json={"task_id": task_id,
                                                                "content": content},
                                      headers={"X-Request-Id": str(uuid.uuid4())})

    def list_tasks(self, *, project_id: str | None = None, label: str | None = None
                   ) -> list[dict[str, Any]]:
        """Open tasks, every page (v1: {"results", "next_cursor"})."""
        params: dict[str, Any] = {"limit": PAGE_LIMIT}
        if project_id:
            params["project_id"] = project_id
        if label:
            params["label"] = label
        found: list[dict[str, Any]] = []
        while True:
            answer = self._api.request_json("GET", "tasks", params=params)
            if not isinstance(answer, dict):
                return found + list(answer or [])
            found.extend(answer.get("results", []))
            cursor = answer.get("next_cursor")
            if not cursor:
                return found
            params["cursor"] = cursor
