"""Payloads of the events plain Celery tasks emit when they finish (`JOELCLAW_TASK_EVENTS`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from joelclaw.events.payloads.base import Payload

SUCCEEDED = "celery/task.succeeded"
FAILED = "celery/task.failed"


class TaskFinished(Payload):  # type: ignore[no-redef]  # the field `kwargs` looks like **kwargs to the pydantic plugin
    """One finished execution of a plain Celery task: previews are redacted and size-capped."""

    task: str  # the task's registered name
    task_id: str
    args: Any = None  # a redacted preview of the arguments
    kwargs: Any = None
    runtime_ms: float | None = None  # this execution, from prerun to postrun
    retries: int = 0
    worker: str | None = None


class TaskSucceeded(TaskFinished):  # type: ignore[no-redef]  # the field `kwargs` looks like **kwargs to the pydantic plugin
    result: Any = None  # a redacted preview of the return value


class TaskFailed(TaskFinished):  # type: ignore[no-redef]  # the field `kwargs` looks like **kwargs to the pydantic plugin
    error: dict[str, Any]  # name, message, stack


MODELS: dict[str, type[BaseModel]] = {SUCCEEDED: TaskSucceeded, FAILED: TaskFailed}
