"""GitHub webhooks: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`.

Every delivery becomes one `github/<X-GitHub-Event>.<action>` event (`.received` when the
payload has no action, as for push and ping), identified by `X-GitHub-Delivery` so a redelivery
from the GitHub UI is deduplicated on the bus.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from joelclaw.events.model import Event
from webhooks.providers.common import (
    delivery_id,
    hmac_digest,
    lower_headers,
    provider_event,
    signed,
)

NAME = "github"
SIGNATURE_HEADER = "x-hub-signature-256"
EVENT_HEADER = "x-github-event"
DELIVERY_HEADER = "x-github-delivery"
_TOKEN = re.compile(r"^[a-z0-9_]{1,64}$")


def verify(
    raw: bytes, headers: Mapping[str, str], secret: str, *, now: float | None = None
) -> bool:
    """True only when the header equals `sha256=` + hex HMAC-SHA256(secret, raw)."""
    return signed(headers, SIGNATURE_HEADER, secret, lambda key: [
        b"sha256=" + hmac_digest(key, raw, "sha256").hex().encode("ascii")])


def normalize(payload: dict[str, Any], headers: Mapping[str, str]) -> list[Event]:
    """One event per delivery; ValueError when the event header or a required field is bad."""
    if not isinstance(payload, dict):
        raise ValueError("github payload must be a JSON object")
    lowered = lower_headers(headers)
    kind = lowered.get(EVENT_HEADER, "").strip()
    if not _TOKEN.match(kind):
        raise ValueError(f"missing or invalid X-GitHub-Event header: {kind!r}")
    name = f"{NAME}/{kind}.{_action(payload)}"
    builder = _BUILDERS.get(kind, _generic)
    delivery = _delivery(lowered.get(DELIVERY_HEADER), kind, payload)
    return [provider_event(NAME, name, builder(payload), delivery, kind)]


def _action(payload: dict[str, Any]) -> str:
    action = payload.get("action")
    if action is None:
        return "received"
    if not isinstance(action, str) or not _TOKEN.match(action):
        raise ValueError(f"github payload has an invalid action: {action!r}")
    return action


def _delivery(header: str | None, kind: str, payload: dict[str, Any]) -> str:
    """The delivery GUID, or a hash of the body so a header-less redelivery still dedupes."""
    return delivery_id(header, [kind, payload])


def _obj(value: Any, *keys: str) -> dict[str, Any]:
    """The nested object at `keys`, or {} — shape errors surface in the payload model instead."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def _login(value: Any) -> Any:
    return value.get("login") if isinstance(value, dict) else None


def _repo(payload: dict[str, Any]) -> dict[str, Any]:
    repo = _obj(payload, "repository")
    return {
        "repository": repo.get("full_name"),
        "repository_url": repo.get("html_url"),
        "sender": _login(payload.get("sender")),
    }


def _names(items: Any, key: str) -> list[Any]:
    """`name`/`login` of each object in a list (labels, assignees)."""
    if not isinstance(items, list):
        return []
    return [item.get(key) for item in items if isinstance(item, dict)]


def _workflow_run(payload: dict[str, Any]) -> dict[str, Any]:
    run = _obj(payload, "workflow_run")
    status = run.get("status")
    return {
        **_repo(payload),
        "action": payload.get("action"),
        "run_id": run.get("id"),
        "run_number": run.get("run_number"),
        "run_attempt": run.get("run_attempt"),
        "workflow_id": run.get("workflow_id"),
        "workflow_name": run.get("name") or _obj(payload, "workflow").get("name"),
        "event": run.get("event"),
        "status": status,
        "conclusion": run.get("conclusion"),
        "html_url": run.get("html_url"),
        "jobs_url": run.get("jobs_url"),
        "logs_url": run.get("logs_url"),
        "branch": run.get("head_branch"),
        "head_sha": run.get("head_sha"),
        "actor_login": _login(run.get("actor")),
        "head_repository": _obj(run, "head_repository").get("full_name"),
        "created_at": run.get("created_at"),
        "updated_at": run.get("updated_at"),
        "completed_at": run.get("updated_at") if status == "completed" else None,
    }


def _commit(commit: Any) -> dict[str, Any] | None:
    if not isinstance(commit, dict):
        return None
    author = _obj(commit, "author")
    return {
        "id": commit.get("id"),
        "message": commit.get("message"),
        "author": author.get("username") or author.get("name"),
        "url": commit.get("url"),
    }


def _ref_name(ref: str, prefix: str) -> str | None:
    return ref.removeprefix(prefix) if ref.startswith(prefix) else None


def _push(payload: dict[str, Any]) -> dict[str, Any]:
    ref = payload.get("ref")
    ref_text = ref if isinstance(ref, str) else ""
    listed = payload.get("commits")
    commits: list[Any] = listed if isinstance(listed, list) else []
    return {
        **_repo(payload),
        "ref": ref,
        "branch": _ref_name(ref_text, "refs/heads/"),
        "tag": _ref_name(ref_text, "refs/tags/"),
        "before": payload.get("before"),
        "after": payload.get("after"),
        "created": payload.get("created", False),
        "deleted": payload.get("deleted", False),
        "forced": payload.get("forced", False),
        "compare_url": payload.get("compare"),
        "pusher": _obj(payload, "pusher").get("name"),
        "head_commit": _commit(payload.get("head_commit")),
        "commits": [_commit(c) for c in commits],
        "commit_count": len(commits),
    }


def _pull_request(payload: dict[str, Any]) -> dict[str, Any]:
    pr = _obj(payload, "pull_request")
    return {
        **_repo(payload),
        "action": payload.get("action"),
        "number": payload.get("number", pr.get("number")),
        "title": pr.get("title"),
        "state": pr.get("state"),
        "draft": pr.get("draft", False),
        "merged": pr.get("merged") or False,
        "html_url": pr.get("html_url"),
        "author": _login(pr.get("user")),
        "head_ref": _obj(pr, "head").get("ref"),
        "head_sha": _obj(pr, "head").get("sha"),
        "base_ref": _obj(pr, "base").get("ref"),
        "labels": _names(pr.get("labels"), "name"),
        "body": pr.get("body"),
    }


def _issue(payload: dict[str, Any]) -> dict[str, Any]:
    issue = _obj(payload, "issue")
    return {
        **_repo(payload),
        "action": payload.get("action"),
        "number": issue.get("number"),
        "title": issue.get("title"),
        "state": issue.get("state"),
        "html_url": issue.get("html_url"),
        "author": _login(issue.get("user")),
        "labels": _names(issue.get("labels"), "name"),
        "assignees": _names(issue.get("assignees"), "login"),
        "body": issue.get("body"),
    }


def _package(payload: dict[str, Any]) -> dict[str, Any]:
    package = _obj(payload, "package")
    version = _obj(package, "package_version")
    return {
        **_repo(payload),
        "action": payload.get("action"),
        "package_name": package.get("name"),
        "ecosystem": package.get("ecosystem"),
        "package_type": package.get("package_type"),
        "package_html_url": package.get("html_url"),
        "version_name": version.get("version") or version.get("name"),
        "version_html_url": version.get("html_url"),
    }


def _generic(payload: dict[str, Any]) -> dict[str, Any]:
    """Events without a model keep a small summary; functions refetch details from the API."""
    return {
        **_repo(payload),
        "action": payload.get("action"),
        "installation_id": _obj(payload, "installation").get("id"),
    }


_BUILDERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "workflow_run": _workflow_run,
    "push": _push,
    "pull_request": _pull_request,
    "issues": _issue,
    "package": _package,
}
