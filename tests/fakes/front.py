"""FakeFront: `GET /conversations/{id}` of the Front Core API, with its real answer shape."""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.jsonhttp import JsonServer, Request


class FakeFront(JsonServer):
    def __init__(self, token: str = "front-test-token") -> None:
        super().__init__(token=token)
        self.conversations: dict[str, dict[str, Any]] = {}

    @property
    def base_url(self) -> str:
        return self.url

    def add_conversation(self, conversation_id: str, subject: str, *,
                         assignee_email: str | None = None, tags: list[str] = ()) -> dict:  # type: ignore[assignment]
        conv = {"_links": {"self": f"{self.url}/conversations/{conversation_id}"},
                "id": conversation_id, "subject": subject, "status": "unassigned",
                "assignee": ({"id": "tea_1", "email": assignee_email, "first_name": "A"}
                             if assignee_email else None),
                "recipient": {"handle": "someone@example.com", "role": "from"},
                "tags": [{"id": f"tag_{t}", "name": t} for t in tags],
                "is_private": False, "created_at": 1764000000.0}
        self.conversations[conversation_id] = conv
        return conv

    def routes(self) -> list[tuple[str, str, Any]]:
        return [("GET", r"/conversations/([^/]+)", self._conversation)]

    def _conversation(self, match: re.Match[str], request: Request) -> tuple[int, Any]:
        conv = self.conversations.get(match.group(1))
        if conv is None:
            return 404, {"_error": {"status": 404, "title": "Not found",
                                    "message": "Unknown conversation"}}
        return 200, conv
