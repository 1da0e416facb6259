"""Front Core API (`api2.frontapp.com`): conversation lookups for the email notifiers."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from joelclaw.integrations.http import ApiClient, RetryPolicy, Sleep, make_client

if TYPE_CHECKING:
    import httpx

SERVICE = "front"


class FrontClient:
    """Bearer-token client for the few reads the gateway needs."""

    def __init__(self, token: str, base_url: str = "https://api2.frontapp.com", *,
                 transport: httpx.BaseTransport | None = None, sleep: Sleep = time.sleep,
                 timeout: float = 10.0) -> None:
        self._api = ApiClient(
            make_client(base_url.rstrip("/") + "/", timeout=timeout, transport=transport,
                        headers={"Authorization": f"Bearer {token}",
                                 "Accept": "application/json"}),
            service=SERVICE, policy=RetryPolicy(), sleep=sleep, secrets=(token,), writes=True,
        )

    def close(self) -> None:
        self._api.close()

    def get_conversation(self, conversation_id: str) -> dict[str, Any]:
        return self._api.request_json("GET", f"conversations/{conversation_id}")

    def archive_conversation(self, conversation_id: str) -> None:
        """`PATCH /conversations/{id}` `{"status": "archived"}` (the same answer twice: safe)."""
        self._api.request("PATCH", f"conversations/{conversation_id}",
                          json={"status": "archived"}, idempotent=True)

    def search_conversations(self, query: str, limit: int = 25) -> list[dict[str, Any]]:
        """`GET /conversations/search/{query}` (Front's search syntax, e.g. `is:open
        is:unreplied`): the first `limit` conversations, following `_pagination.next`."""
        from urllib.parse import quote

        found: list[dict[str, Any]] = []
        path: str | None = f"conversations/search/{quote(query, safe='')}"
        params: dict[str, Any] | None = {"limit": min(limit, 100)}
        while path and len(found) < limit:
            answer = self._api.request_json("GET", path, params=params)
            found.extend(answer.get("_results") or [])
            following = (answer.get("_pagination") or {}).get("next")
            path, params = (following, None) if following else (None, None)
        return found[:limit]
