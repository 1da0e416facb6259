"""FakeTodoist: the Todoist REST API v1 with v1 shapes: reads (tasks, projects, comments) and
the writes memory review uses (create, close, delete, comment, list with paging)."""

from __future__ import annotations

import itertools
import re
from typing import Any

from tests.fakes.jsonhttp import JsonServer, Request


class FakeTodoist(JsonServer):
    def __init__(self, token: str = "todoist-test-token") -> None:
        super().__init__(token=token)
        self.tasks: dict[str, dict[str, Any]] = {}
        self.projects: dict[str, dict[str, Any]] = {}
        self.comments: list[dict[str, Any]] = []
        self.page_size = 50
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return self.url + "/api/v1"

    def add_project(self, project_id: str, name: str) -> dict[str, Any]:
        project = {"id": project_id, "name": name, "color": "charcoal", "parent_id": None,
                   "child_order": 1, "is_shared": False, "is_favorite": False,
                   "is_archived": False, "view_style": "list", "inbox_project": False}
        self.projects[project_id] = project
        return project

    def add_task(self, task_id: str, content: str, project_id: str, **extra: Any) -> dict:
        task = {"id": task_id, "content": content, "description": extra.get("description", ""),
                "project_id": project_id, "section_id": None, "parent_id": None,
                "labels": extra.get("labels", []), "priority": extra.get("priority", 1),
                "due": None, "checked": False, "is_deleted": False, "child_order": 1,
                "added_at": "2026-11-24T09:00:00.000000Z", "user_id": "1", "note_count": 1}
        self.tasks[task_id] = task
        return task

    def routes(self) -> list[tuple[str, str, Any]]:
        return [("GET", r"/api/v1/tasks/([^/]+)", self._task),
                ("GET", r"/api/v1/tasks", self._list),
                ("POST", r"/api/v1/tasks", self._create),
                ("POST", r"/api/v1/tasks/([^/]+)/close", self._close),
                ("DELETE", r"/api/v1/tasks/([^/]+)", self._delete),
                ("GET", r"/api/v1/projects/([^/]+)", self._project),
                ("GET", r"/api/v1/comments", self._comments),
                ("POST", r"/api/v1/comments", self._comment)]

    def open_tasks(self) -> list[dict[str, Any]]:
        return [t for t in self.tasks.values() if not t["checked"] and not t["is_deleted"]]

    def _create(self, match: re.Match[str], request: Request) -> tuple[int, Any]:
        body = request.body or {}
        if not isinstance(body.get("content"), str) or not body["content"].strip():
            return 400, "Required argument is missing: content"
        labels = body.get("labels") or []
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            return 400, "Argument labels has an invalid type"
        task_id = f"6X{next(self._ids):014d}"
        task = self.add_task(task_id, body["content"], body.get("project_id") or "inbox",
                             description=body.get("description", ""), labels=labels,
                             priority=body.get("priority", 1))
        if body.get("due_string"):
            task["due"] = {"string": body["due_string"], "date": "2026-12-01",
                           "is_recurring": False, "timezone": None, "lang": "en"}
        task["note_count"] = 0
        return 200, task

    def _close(self, match: re.Match[str], request: Request) -> tuple[int, Any]:
        task = self.tasks.get(match.group(1))
        if task is None:
            return 404, "Task not found"
        task["checked"] = True
        task["completed_at"] = "2026-12-01T10:00:00.000000Z"
        return 204, None

    def _delete(self, match: re.Match[str], request: Request) -> tuple[int, Any]:
        task = self.tasks.get(match.group(1))
        if task is None:
            return 404, "Task not found"
        task["is_deleted"] = True
        return 204, None

    def _list(self, match: re.Match[str], request: Request) -> tuple[int, Any]:
        q = request.query
        found = [t for t in self.open_tasks()
                 if (not q.get("project_id") or t["project_id"] == q["project_id"])
                 and (not q.get("label") or q["label"] in t["labels"])]
        start = int(q.get("cursor") or 0)
        size = min(int(q.get("limit") or 50), self.page_size)
        page = found[start:start + size]
        more = start + size < len(found)
        return 200, {"results": page, "next_cursor": str(start + size) if more else None}

    def _comment(self, match: re.Match[str], request: Request) -> tuple[int, Any]:
        body = request.body or {}
        if not body.get("content") or not (body.get("task_id") or body.get("project_id")):
            return 400, "Required argument is missing: content and task_id or project_id"
        if body.get("task_id") and body["task_id"] not in self.tasks:
            return 404, "Task not found"
        comment = {"id": f"c{next(self._ids)}", "item_id": body.get("task_id"),
                   "content": body["content"], "posted_at": "2026-12-01T10:00:00.000000Z",
                   "posted_uid": "1", "file_attachment": None, "reactions": None}
        self.comments.append(comment)
        if body.get("task_id"):
            self.tasks[body["task_id"]]["note_count"] += 1
        return 200, comment

    def _task(self, match: re.Match[str], request: Request) -> tuple[int, Any]:
        task = self.tasks.get(match.group(1))
        return (200, task) if task else (404, "Task not found")

    def _project(self, match: re.Match[str], request: Request) -> tuple[int, Any]:
        project = self.projects.get(match.group(1))
        return (200, project) if project else (404, "Project not found")

    def _comments(self, match: re.Match[str], request: Request) -> tuple[int, Any]:
        task_id = request.query.get("task_id")
        found = [c for c in self.comments if c.get("item_id") == task_id]
        return 200, {"results": found, "next_cursor": None}
