"""Payloads of the events plain Celery tasks emit when they finish (`JOELCLAW_TASK_EVENTS`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

SUCCEEDED = "celery/task.succeeded"
FAILED = "celery/task.failed"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow")


class TaskFinished(_Payload):
    """One finished execution of a plain Celery task: previews are redacted and size-capped."""

    task: str  # the task's registered name
    task_id: str
    args: Any = None  # a redacted preview of the arguments
    kwargs: Any = None
    runtime_ms: float | None = None  # this execution, from prerun to postrun
    retries: int = 0
    worker: str | None = None


class TaskSucceeded(TaskFinished):
    result: Any = None  # a redacted preview of the return value


class TaskFailed(TaskFinished):
    error: dict[str, Any]  # name, message, stack


MODELS: dict[str, type[BaseModel]] = {SUCCEEDED: TaskSucceeded, FAILED: TaskFailed}
