"""Vercel webhooks: `x-vercel-signature` = hex HMAC-SHA1 of the raw body.

Deployment events become `vercel/deploy.<state>`; the legacy dash-spelled types
(`deployment-error`, …) still arrive from old integrations and map the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from joelclaw.events.model import Event
from webhooks.providers.common import (
    DELIVERY_ID,
    delivery_id,
    hmac_digest,
    provider_event,
    signed,
)

NAME = "vercel"
SIGNATURE_HEADER = "x-vercel-signature"
STATES = ("created", "succeeded", "error", "canceled", "ready", "promoted")
EVENT_NAMES: dict[str, str] = {
    **{f"deployment.{state}": f"vercel/deploy.{state}" for state in STATES},
    "deployment-ready": "vercel/deploy.ready",
    "deployment-error": "vercel/deploy.error",
    "deployment-canceled": "vercel/deploy.canceled",
}


def verify(
    raw: bytes, headers: Mapping[str, str], secret: str, *, now: float | None = None
) -> bool:
    """True only when the header equals hex HMAC-SHA1(secret, raw body)."""
    return signed(headers, SIGNATURE_HEADER, secret,
                  lambda key: [hmac_digest(key, raw, "sha1").hex().encode("ascii")])


def normalize(payload: dict[str, Any], headers: Mapping[str, str]) -> list[Event]:
    """One event per deployment webhook; [] for project, domain and other event types."""
    if not isinstance(payload, dict):
        raise ValueError("vercel payload must be a JSON object")
    kind = payload.get("type")
    if not isinstance(kind, str) or kind not in EVENT_NAMES:
        return []
    name = EVENT_NAMES[kind]
    body = payload.get("payload")
    if not isinstance(body, dict):
        raise ValueError(f"vercel {kind}: 'payload' must be an object")
    fields = _fields(kind, payload, body)  # a missing deployment id fails in the model: 400
    delivery = _delivery(payload, kind, str(fields["deployment_id"]))
    return [provider_event(NAME, name, fields, delivery, kind)]


def _delivery(payload: dict[str, Any], kind: str, deployment_id: str) -> str:
    """The webhook delivery id; without one, one event per deployment and type."""
    webhook_id = payload.get("id")
    if isinstance(webhook_id, str) and DELIVERY_ID.match(webhook_id):
        return webhook_id
    return delivery_id(f"{kind}-{deployment_id}", payload)


def _obj(value: Any, *keys: str) -> dict[str, Any]:
    """The nested object at `keys`, or {} — shape errors surface in the payload model instead."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def _fields(kind: str, payload: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    deployment = _obj(body, "deployment")
    meta = _obj(deployment, "meta")
    links = _obj(body, "links")
    url = deployment.get("url") or body.get("url")
    author = meta.get("githubCommitAuthorName") or meta.get("githubCommitAuthorLogin")
    return {
        "deployment_id": deployment.get("id") or body.get("deploymentId"),
        "vercel_type": kind,
        "deployment_url": _https(url),
        "project_name": deployment.get("name") or body.get("name"),
        "project_id": _obj(body, "project").get("id") or body.get("projectId"),
        "target": body.get("target"),
        "dashboard_url": links.get("deployment"),
        "project_dashboard_url": links.get("project"),
        "git_commit_sha": meta.get("githubCommitSha"),
        "git_commit_message": meta.get("githubCommitMessage"),
        "git_commit_author": author,
        "git_branch": meta.get("githubCommitRef"),
        "git_repo": _repo(meta),
        "plan": body.get("plan"),
        "regions": body.get("regions") or [],
        "team_id": _obj(body, "team").get("id"),
        "user_id": _obj(body, "user").get("id"),
        "created_at": payload.get("createdAt"),
    }


def _https(url: Any) -> Any:
    """Vercel sends deployment urls without a scheme; links are friendlier with one."""
    if isinstance(url, str) and url and "://" not in url:
        return f"https://{url}"
    return url


def _repo(meta: dict[str, Any]) -> str | None:
    org, repo = meta.get("githubOrg") or meta.get("githubRepoOwner"), meta.get("githubRepo")
    if isinstance(org, str) and isinstance(repo, str) and org and repo:
        return f"{org}/{repo}"
    return repo if isinstance(repo, str) else None
