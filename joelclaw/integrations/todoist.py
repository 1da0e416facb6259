"""Todoist REST API v1 (`api.todoist.com/api/v1`): the reads the notifiers use to enrich events."""

from __future__ import annotations

import time
from typing import Any

import httpx

from joelclaw.integrations.http import ApiClient, RetryPolicy, Sleep, make_client

SERVICE = "todoist"


class TodoistClient:
    """Bearer-token client; every method returns the decoded JSON object."""

    def __init__(self, token: str, base_url: str = "https://api.todoist.com/api/v1", *,
                 transport: httpx.BaseTransport | None = None, sleep: Sleep = time.sleep,
                 timeout: float = 10.0) -> None:
        self._api = ApiClient(
            make_client(base_url.rstrip("/") + "/", timeout=timeout, transport=transport,
                        headers={"Authorization": f"Bearer {token}"}),
            service=SERVICE, policy=RetryPolicy(), sleep=sleep, secrets=(token,),
        )

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
