"""Payloads of the vercel/deploy.* events (deployment webhooks)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from joelclaw.events.payloads.base import Payload


class Deploy(Payload):
    """A deployment changed state; the git fields come from `deployment.meta`."""

    deployment_id: str
    vercel_type: str
    deployment_url: str | None = None
    project_name: str | None = None
    project_id: str | None = None
    target: str | None = None
    dashboard_url: str | None = None
    project_dashboard_url: str | None = None
    git_commit_sha: str | None = None
    git_commit_message: str | None = None
    git_commit_author: str | None = None
    git_branch: str | None = None
    git_repo: str | None = None
    plan: str | None = None
    regions: list[str] = Field(default_factory=list)
    team_id: str | None = None
    user_id: str | None = None
    created_at: int | None = None


DEPLOY_STATES = ("created", "succeeded", "error", "canceled", "ready", "promoted")

MODELS: dict[str, type[BaseModel]] = {f"vercel/deploy.{state}": Deploy for state in DEPLOY_STATES}
