"""Payloads of the background-agent and approval events (reference §2.2): `system/agent.*` and
`agent/approval.*`. Fields are snake_case; the old camelCase names (`requestId`, `sessionId`)
are accepted as aliases."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from joelclaw.events.payloads.base import CamelPayload

# A request id names the inbox file: no path separators, nothing hidden.
REQUEST_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$"
# Tool and model names fill command arguments: never an option (no leading "-"), no spaces.
NAME = r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,99}$"
OWNER = "owner"
AgentStatus = Literal["completed", "failed", "timeout"]
Sandbox = Literal["read-only", "workspace-write", "danger-full-access"]


class AgentRequested(CamelPayload):
    """Run the configured agent command on `task`; `timeout` in seconds (default: the
    setting); `origin_chat` is the chat that hears the outcome (default: the owner).

    `origin` says on whose behalf: "owner" (the default: the API, the CLI, the owner's own
    functions) or what relayed someone else's doing (`vercel`, `o11y`, ...); anything but the
    owner waits for the owner's approval first and may not ask for full access. `context` is
    text from someone other than the owner (a commit message, an error): the agent gets it
    quoted as data, never as its instructions. The sandbox defaults to read-only."""

    request_id: str = Field(pattern=REQUEST_ID)
    task: str = Field(min_length=1)
    tool: str = Field("codex", pattern=NAME)
    session_id: str | None = None
    cwd: str | None = None
    timeout: float | None = Field(None, gt=0)
    model: str | None = Field(None, pattern=NAME)
    sandbox: Sandbox = "read-only"
    origin: str = Field(OWNER, pattern=r"^[a-z0-9][a-z0-9._-]{0,39}$")
    context: str | None = Field(None, max_length=20000)
    origin_chat: int | None = None

    @model_validator(mode="after")
    def _no_full_access_for_others(self) -> AgentRequested:
        if self.origin != OWNER and self.sandbox == "danger-full-access":
            raise ValueError(f"a request on behalf of {self.origin!r} may not ask for "
                             "danger-full-access: only the owner's own requests may")
        return self

    @property
    def needs_approval(self) -> bool:
        """Agent work the owner did not ask for runs only once they approve it."""
        return self.origin != OWNER


class AgentCancelled(CamelPayload):
    request_id: str = Field(pattern=REQUEST_ID)
    reason: str | None = None


class AgentCompleted(CamelPayload):
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


class ApprovalRequested(CamelPayload):
    """An agent asks before doing `operation`; the requester waits for
    `agent/approval.resolved` with the same `request_id` (default: this event's id)."""

    agent: str = Field(min_length=1, max_length=100)
    category: str = Field(min_length=1, max_length=100)
    operation: str = Field(min_length=1)
    reasoning: str = ""
    request_id: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,47}$")


class ApprovalResolved(CamelPayload):
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
