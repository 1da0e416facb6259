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
        return [("GET", r"/conversations/search/([^/]+)", self._search),
                ("PATCH", r"/conversations/([^/]+)", self._update),
                ("GET", r"/conversations/([^/]+)", self._conversation)]

    def add_unreplied(self, conversation_id: str, subject: str, sender: str,
                      blurb: str = "") -> dict:
        """An open conversation nobody answered yet (found by `is:open is:unreplied`)."""
        conv = self.add_conversation(conversation_id, subject)
        conv["recipient"] = {"handle": sender, "role": "from"}
        conv["last_message"] = {"id": f"msg_{conversation_id}", "blurb": blurb,
                                "is_inbound": True}
        conv["unreplied"] = True
        return conv

    def _update(self, match: re.Match[str], request: Request) -> tuple[int, Any]:
        conv = self.conversations.get(match.group(1))
        if conv is None:
            return 404, {"_error": {"status": 404, "title": "Not found",
                                    "message": "Unknown conversation"}}
        status = (request.body or {}).get("status")
        if status is not None and status not in ("archived", "open", "deleted", "spam"):
            return 400, {"_error": {"status": 400, "title": "Bad request",
                                    "message": f"Invalid status {status}"}}
        if status:
            conv["status"] = status
        return 204, None

    def _search(self, match: re.Match[str], request: Request) -> tuple[int, Any]:
        from urllib.parse import unquote

        query = unquote(match.group(1))
        found = [c for c in self.conversations.values()
                 if ("is:unreplied" not in query or c.get("unreplied"))
                 and ("is:open" not in query or c["status"] != "archived")]
        limit = int(request.query.get("limit") or 50)
        return 200, {"_pagination": {"next": None}, "_links": {"self": self.url},
                     "_total": len(found), "_results": found[:limit]}

    def _conversation(self, match: re.Match[str], request: Request) -> tuple[int, Any]:
        conv = self.conversations.get(match.group(1))
        if conv is None:
            return 404, {"_error": {"status": 404, "title": "Not found",
                                    "message": "Unknown conversation"}}
        return 200, conv
