"""Payloads of the github/* events: the fields functions read, snake_case, extra keys kept."""

from __future__ import annotations

from pydantic import BaseModel, Field

from joelclaw.events.payloads.base import Payload


class WorkflowRun(Payload):
    """A workflow run changed state; `conclusion` is set once it is completed."""

    action: str
    run_id: int
    run_number: int | None = None
    run_attempt: int | None = None
    workflow_id: int | None = None
    workflow_name: str
    event: str | None = None
    status: str | None = None
    conclusion: str | None = None
    html_url: str
    jobs_url: str | None = None
    logs_url: str | None = None
    branch: str | None = None
    head_sha: str
    actor_login: str | None = None
    repository: str
    repository_url: str | None = None
    head_repository: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    completed_at: str | None = None


class PushCommit(Payload):
    id: str
    message: str
    author: str | None = None
    url: str | None = None


class Push(Payload):
    """Commits landed on a ref; `branch`/`tag` say which kind of ref it was."""

    ref: str
    branch: str | None = None
    tag: str | None = None
    before: str
    after: str
    created: bool = False
    deleted: bool = False
    forced: bool = False
    compare_url: str | None = None
    pusher: str | None = None
    repository: str
    repository_url: str | None = None
    sender: str | None = None
    head_commit: PushCommit | None = None
    commits: list[PushCommit] = Field(default_factory=list)
    commit_count: int = 0


class PullRequest(Payload):
    action: str
    number: int
    title: str
    state: str
    draft: bool = False
    merged: bool = False
    html_url: str
    author: str | None = None
    head_ref: str | None = None
    head_sha: str | None = None
    base_ref: str | None = None
    labels: list[str] = Field(default_factory=list)
    body: str | None = None
    repository: str
    repository_url: str | None = None
    sender: str | None = None


class Issue(Payload):
    action: str
    number: int
    title: str
    state: str
    html_url: str
    author: str | None = None
    labels: list[str] = Field(default_factory=list)
    assignees: list[str] = Field(default_factory=list)
    body: str | None = None
    repository: str
    repository_url: str | None = None
    sender: str | None = None


class Package(Payload):
    """A package version was published; org packages may have no repository."""

    action: str
    package_name: str
    ecosystem: str | None = None
    package_type: str | None = None
    package_html_url: str | None = None
    version_name: str | None = None
    version_html_url: str | None = None
    repository: str | None = None
    repository_url: str | None = None
    sender: str | None = None


WORKFLOW_RUN_ACTIONS = ("requested", "in_progress", "completed")
PULL_REQUEST_ACTIONS = (
    "opened", "edited", "closed", "reopened", "synchronize", "ready_for_review",
    "converted_to_draft", "labeled", "unlabeled", "assigned", "unassigned",
    "review_requested", "review_request_removed", "locked", "unlocked",
    "auto_merge_enabled", "auto_merge_disabled", "enqueued", "dequeued",
    "milestoned", "demilestoned",
)  # fmt: skip
ISSUE_ACTIONS = (
    "opened", "edited", "deleted", "closed", "reopened", "assigned", "unassigned",
    "labeled", "unlabeled", "locked", "unlocked", "transferred", "milestoned",
    "demilestoned", "pinned", "unpinned", "typed", "untyped",
)  # fmt: skip
PACKAGE_ACTIONS = ("published", "updated")

MODELS: dict[str, type[BaseModel]] = {
    "github/push.received": Push,
    **{f"github/workflow_run.{a}": WorkflowRun for a in WORKFLOW_RUN_ACTIONS},
    **{f"github/pull_request.{a}": PullRequest for a in PULL_REQUEST_ACTIONS},
    **{f"github/issues.{a}": Issue for a in ISSUE_ACTIONS},
    **{f"github/package.{a}": Package for a in PACKAGE_ACTIONS},
}
