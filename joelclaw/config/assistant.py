"""The assistant's settings: the owner's conversation (the gateway), the agents it dispatches
with their approvals, and media (transcription, images, the archive)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from joelclaw.config.base import Fields


class GatewayFields(Fields):
    """The gateway (issue 5): the agent, its limits, the Telegram conversation's pacing
    (`GatewaySettings`)."""

    agent_command: str | None = None
    gateway_turn_timeout_seconds: float = Field(600.0, gt=0)
    gateway_history_chars: int = Field(24000, ge=0)
    gateway_merge_window_seconds: float = Field(0.3, ge=0)
    gateway_claim_lease_seconds: float = Field(30.0, gt=0)
    gateway_poll_timeout_seconds: int = Field(25, ge=0, le=50)
    gateway_chat_interval_seconds: float = Field(1.0, ge=0)
    gateway_heartbeat_stale_seconds: float = Field(180.0, gt=0)
    gateway_heartbeat_grace_seconds: float = Field(30.0, ge=0)


class AgentFields(Fields):
    """Agents and approvals (`AgentSettings`)."""

    # `system/agent.requested` runs this command (shlex-split; `{prompt}`, `{tool}`, `{model}`,
    # `{request_id}` in an argument are replaced; without `{prompt}` the task is on stdin), in
    # its own process group, with JOELCLAW_AGENT_REQUEST_ID/_TOOL/_MODEL/_SANDBOX/_TIMEOUT set.
    agent_dispatch_command: str | None = None
    agent_dispatch_timeout_seconds: float = Field(600.0, gt=0)  # when the request names none
    agent_dispatch_max_timeout_seconds: float = Field(3600.0, gt=0)  # a request's upper bound
    agent_inbox_dir: Path | None = None  # the agents' results; default <home>/workspace/inbox
    approval_timeout_seconds: float = Field(86400.0, gt=0)  # then the request is denied


class MediaFields(Fields):
    """Media (`MediaSettings`)."""

    # Media: audio through an OpenAI-compatible `POST {url}/audio/transcriptions` (multipart),
    # images through the LLM client when its model accepts images (`llm_vision`).
    transcription_api_url: str | None = None
    transcription_api_key: str | None = None
    transcription_model: str = "whisper-1"
    transcription_timeout_seconds: float = Field(120.0, gt=0)
    media_vision_model: str | None = None  # default: JOELCLAW_LLM_MODEL
    media_max_bytes: int = Field(25 * 1024 * 1024, ge=1)  # the transcription APIs' limit
    media_archive_dir: Path | None = None  # default <home>/media/archive/<year>/<source>
