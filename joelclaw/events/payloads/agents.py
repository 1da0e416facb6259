"""Payloads of the background-agent and approval events (reference §2.2): `system/agent.*` and
`agent/approval.*`. Fields are snake_case; the old camelCase names (`requestId`, `sessionId`)
are accepted as aliases."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# A request id names the inbox file: no path separators, nothing hidden.
REQUEST_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$"
AgentStatus = Literal["completed", "failed", "timeout"]
Sandbox = Literal["read-only", "workspace-write", "danger-full-access"]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, alias_generator=to_camel)


class AgentRequested(_Payload):
    """Run the configured agent command on `task`; `timeout` in seconds (default: the
    setting); `origin_chat` is the chat that hears the outcome (default: the owner)."""

    request_id: str = Field(pattern=REQUEST_ID)
    task: str = Field(min_length=1)
    tool: str = "codex"
    session_id: str | None = None
    cwd: str | None = None
    timeout: float | None = Field(None, gt=0)
    model: str | None = None
    sandbox: Sandbox | None = None
    origin_chat: int | None = None


class AgentCancelled(_Payload):
    request_id: str = Field(pattern=REQUEST_ID)
    reason: str | None = None


class AgentCompleted(_Payload):
    request_id: str
    status: AgentStatus
    task: str
    tool: str
    duration_ms: int = Field(ge=0)
    session_id: str | None = None
    exit_code: int | None = None
    inbox_path: str | None = None
    output: str = ""  # the head of the tool's output (the inbox file has all of it)
    error: str | None = None
    origin_chat: int | None = None


class ApprovalRequested(_Payload):
    """An agent asks before doing `operation`; the requester waits for
    `agent/approval.resolved` with the same `request_id` (default: this event's id)."""

    agent: str = Field(min_length=1, max_length=100)
    category: str = Field(min_length=1, max_length=100)
    operation: str = Field(min_length=1)
    reasoning: str = ""
    request_id: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,47}$")


class ApprovalResolved(_Payload):
    request_id: str = Field(min_length=1)
    status: Literal["approved", "denied"]
    reviewer: str = "owner"
    learn: bool = False
    reason: str | None = None


MODELS: dict[str, type[BaseModel]] = {
    "system/agent.requested": AgentRequested,
    "system/agent.cancelled": AgentCancelled,
    "system/agent.completed": AgentCompleted,
    "agent/approval.requested": ApprovalRequested,
    "agent/approval.resolved": ApprovalResolved,
}
