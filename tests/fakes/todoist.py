"""FakeTodoist: the Todoist REST API v1 reads (tasks, projects, comments) with v1 shapes."""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.jsonhttp import JsonServer, Request


class FakeTodoist(JsonServer):
    def __init__(self, token: str = "todoist-test-token") -> None:
        super().__init__(token=token)
        self.tasks: dict[str, dict[str, Any]] = {}
        self.projects: dict[str, dict[str, Any]] = {}
        self.comments: list[dict[str, Any]] = []

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
                ("GET", r"/api/v1/projects/([^/]+)", self._project),
                ("GET", r"/api/v1/comments", self._comments)]

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
