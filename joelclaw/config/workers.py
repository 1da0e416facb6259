"""What workers load and run, and how a reload restarts them (lists read as JSON or
comma-separated, by the fields' own validator)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from joelclaw.config.base import Fields, split_list


class WorkerFields(Fields):
    """Workers, hot reload, plain Celery tasks and canvas (`WorkerSettings`)."""

    worker_concurrency: int = Field(2, ge=1, le=256)
    function_modules: list[str] = Field(default_factory=list)
    # ---- hot reload ---
    # `joelclaw up` sets `supervised` for the workers and beat it runs: on a reload they exit
    # (and up starts them again at once) instead of re-executing themselves.
    supervised: bool = False
    reload_poll_seconds: float = Field(1.0, gt=0)  # how often `up --reload` looks at the files
    # ---- plain Celery tasks and canvas as durable steps ---
    # Task names (fnmatch globs) whose completion emits celery/task.succeeded|failed events.
    task_events: list[str] = Field(default_factory=list)
    # The queue of joelclaw's own canvas callbacks (where plain tasks report results).
    canvas_queue: str = "joelclaw"

    @field_validator("function_modules", "task_events", mode="before")
    @classmethod
    def _split_modules(cls, value: Any) -> Any:
        return split_list(value)
