"""Webhook-fed notifiers (reference §1.1 #1-12): enrich the event, build the prompt, notify the
owner with the right triage class. Thin on purpose; the gateway does the delivery rules."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from joelclaw import Context, IntegrationError, function

if TYPE_CHECKING:
    from joelclaw.events.payloads import front, github, todoist, vercel

PREVIEW = 500


def _todoist_context(ctx: Context, task_id: str | None, project_id: str | None) -> dict:
    """Task and project names; a failed lookup only makes the prompt plainer."""
    client = ctx.checks.todoist()
    if client is None:
        return {}
    out: dict[str, Any] = {}
    try:
        if task_id:
            task = client.get_task(task_id)
            out["task"] = {k: task.get(k) for k in ("content", "description", "labels", "due")}
            project_id = project_id or task.get("project_id")
        if project_id:
            out["project"] = client.get_project(project_id).get("name")
    except IntegrationError as exc:
        out["error"] = str(exc)
    finally:
        client.close()
    return out


def _front_context(ctx: Context, conversation_id: str) -> dict:
    from joelclaw.checks import clients

    client = clients.front(ctx.settings)
    if client is None:
        return {}
    try:
        conv = client.get_conversation(conversation_id)
        return {"subject": conv.get("subject"), "status": conv.get("status"),
                "assignee": (conv.get("assignee") or {}).get("email"),
                "tags": [t.get("name") for t in conv.get("tags") or []]}
    except IntegrationError as exc:
        return {"error": str(exc)}
    finally:
        client.close()


# -- Todoist --------------------------------------------------------------------------------

@function("todoist-comment-notify", trigger="todoist/comment.added", retries=3)
def todoist_comment(ctx: Context[todoist.CommentAdded]) -> dict:
    """The owner's comment on a task is an instruction for the agent (ADR-0047); anyone
    else's (a collaborator in a shared project) is shown to the owner as a quote, never
    handed to the agent."""
    d = ctx.event.data
    info = ctx.step.run("enrich-context", _todoist_context, ctx, d.task_id, d.project_id)
    task = (info.get("task") or {}).get("content") or d.task_content or d.task_id
    project = info.get("project") or "?"
    if not d.by_owner:
        quoted = "\n".join(f"> {line}" for line in d.comment_content[:2000].splitlines())
        return ctx.gateway.notify("\n".join([
            f"💬 Comment by someone else (Todoist user {d.initiator_id or 'unknown'}) on "
            f"{task} (project {project}): not an instruction, the agent was not asked.", "",
            quoted]), type="todoist.comment.added", step_id="notify-gateway")
    prompt = ctx.step.run("build-prompt", lambda: "\n".join([
        "📋 **Todoist Instruction**", "",
        f"Task: {task} (project {project}, id {d.task_id})", "",
        "The comment is the instruction:", "", f"> {d.comment_content[:2000]}"]))
    return ctx.gateway.notify(prompt, type="todoist.comment.added", agent=True,
                              step_id="notify-gateway")


@function("todoist-task-completed-notify", trigger="todoist/task.completed")
def todoist_completed(ctx: Context[todoist.Task]) -> dict:
    d = ctx.event.data
    info = ctx.step.run("enrich-context", _todoist_context, ctx, None, d.project_id)
    prompt = f"✅ Completed: {d.task_content} ({info.get('project') or 'no project'})"
    return ctx.gateway.notify(prompt, type="todoist.task.completed", step_id="notify-gateway")


@function("todoist-task-created-notify", trigger="todoist/task.created")
def todoist_created(ctx: Context[todoist.Task]) -> dict:
    d = ctx.event.data
    info = ctx.step.run("enrich-context", _todoist_context, ctx, None, d.project_id)
    labels = f" [{', '.join(d.labels)}]" if d.labels else ""
    prompt = f"🆕 New task: {d.task_content}{labels} ({info.get('project') or 'no project'})"
    return ctx.gateway.notify(prompt, type="todoist.task.created", step_id="notify-gateway")


# -- Front ----------------------------------------------------------------------------------

def _front_notify(ctx: Context[Any], kind: str, title: str) -> dict:
    """Any Front event with a conversation (a message, an assignment): its fields are read
    by name, as each kind has its own."""
    d = ctx.event.data
    info = ctx.step.run("enrich-context", _front_context, ctx, d.conversation_id)
    body = (getattr(d, "body_plain", "") or getattr(d, "preview", "")
            or getattr(d, "body", "") or "")[:PREVIEW]
    who = (getattr(d, "from_name", None) or getattr(d, "from_email", None)
           or getattr(d, "assignee_email", None) or "?")
    subject = getattr(d, "subject", "") or info.get("subject") or "(no subject)"
    prompt = "\n".join(filter(None, [f"{title}: **{subject}**", f"From/assignee: {who}",
                                     body and f"> {body}"]))
    return ctx.gateway.notify(prompt, type=kind, step_id="notify-gateway")


@function("front-message-received-notify", trigger="front/message.received")
def front_received(ctx: Context[front.MessageReceived]) -> dict:
    """Inbound email (batched); a VIP sender also gets `vip/email.received`."""
    result = _front_notify(ctx, "front.message.received", "📧 Inbound Email")
    d = ctx.event.data
    vips = {v.strip().lower() for v in (getattr(d, "vip_senders", None) or [])}
    sender = (d.from_email or "").lower()
    if sender and sender in vips:
        ctx.step.send_event("vip", {"name": "vip/email.received",
                                    "data": d.model_dump(mode="json")})
    return result


@function("front-message-sent-notify", trigger="front/message.sent")
def front_sent(ctx: Context[front.Message]) -> dict:
    return _front_notify(ctx, "front.message.sent", "📤 Email sent")


@function("front-assignee-changed-notify", trigger="front/assignee.changed")
def front_assignee(ctx: Context[front.AssigneeChanged]) -> dict:
    return _front_notify(ctx, "front.assignee.changed", "👤 Assignee changed")


# -- Vercel ---------------------------------------------------------------------------------

def _deploy_line(d: vercel.Deploy) -> str:
    commit = (d.git_commit_message or "").splitlines()[0:1]
    parts = [d.project_name or d.deployment_id, d.target or "",
             d.git_branch and f"on {d.git_branch}", commit and f"— {commit[0]}"]
    return " ".join(p for p in parts if p)


def _vercel(ctx: Context[vercel.Deploy], state: str, icon: str) -> dict:
    d = ctx.event.data
    prompt = f"{icon} Deploy {state}: {_deploy_line(d)}"
    if d.deployment_url:
        prompt += f"\nhttps://{d.deployment_url.removeprefix('https://')}"
    return ctx.gateway.notify(prompt, type=f"vercel.deploy.{state}", step_id="notify-gateway")


@function("vercel-deploy-succeeded-notify", trigger="vercel/deploy.succeeded")
def vercel_succeeded(ctx: Context[vercel.Deploy]) -> dict:
    return _vercel(ctx, "succeeded", "🚀")


@function("vercel-deploy-created-notify", trigger="vercel/deploy.created")
def vercel_created(ctx: Context[vercel.Deploy]) -> dict:
    return _vercel(ctx, "created", "🛠")


@function("vercel-deploy-canceled-notify", trigger="vercel/deploy.canceled")
def vercel_canceled(ctx: Context[vercel.Deploy]) -> dict:
    return _vercel(ctx, "canceled", "⏹")


@function("vercel-deploy-error-notify", trigger="vercel/deploy.error")
def vercel_error(ctx: Context[vercel.Deploy]) -> dict:
    """Immediate, and a fix agent is requested (`system/agent.requested`) on Vercel's behalf:
    it runs once the owner approves, sandboxed to the workspace, and the commit message,
    branch and project (a stranger's, for a preview of their pull request) reach it only as
    quoted data."""
    d = ctx.event.data
    result = ctx.gateway.notify(f"❌ **Deploy Failed**: {_deploy_line(d)}\n"
                                f"{d.dashboard_url or ''}\nA fix agent waits for your "
                                "approval.", type="vercel.deploy.error", priority=1,
                                step_id="notify-gateway")
    facts = {"deployment_id": d.deployment_id, "project": d.project_name, "target": d.target,
             "branch": d.git_branch, "commit_message": d.git_commit_message,
             "url": d.deployment_url}
    ctx.step.send_event("dispatch-fix-agent", {"name": "system/agent.requested", "data": {
        "tool": "codex", "timeout": 300, "sandbox": "workspace-write", "origin": "vercel",
        "request_id": f"vercel-fix-{d.deployment_id}-{ctx.event.ts}",
        "task": f"Diagnose and fix the failed Vercel deploy {d.deployment_id}: read its build "
                "log and the repository; the deploy's own details are quoted below.",
        "context": json.dumps({k: v for k, v in facts.items() if v}, ensure_ascii=False)}})
    return result


# -- GitHub ---------------------------------------------------------------------------------

@function("github-workflow-run-completed-notify", trigger="github/workflow_run.completed")
def github_workflow(ctx: Context[github.WorkflowRun]) -> dict:
    d = ctx.event.data
    icon = "✅" if d.conclusion == "success" else "❌"
    prompt = (f"{icon} {d.repository}: workflow **{d.workflow_name}** "
              f"{d.conclusion or d.status or 'completed'} on "
              f"{d.branch or d.head_sha[:7]}\n{d.html_url}")
    return ctx.gateway.notify(prompt, type="github.workflow_run.completed",
                              step_id="notify-gateway")


@function("github-package-published-notify", trigger="github/package.published")
def github_package(ctx: Context[github.Package]) -> dict:
    d = ctx.event.data
    version = d.version_name or ""
    prompt = f"📦 Published {d.package_name} {version}".strip()
    if d.package_html_url:
        prompt += f"\n{d.package_html_url}"
    return ctx.gateway.notify(prompt, type="github.package.published", step_id="notify-gateway")
