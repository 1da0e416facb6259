"""Functions the shadow-replay and cassette tests run in real workers: a triage that reads a
Todoist task, asks the model with `PROMPT`, files a task, comments, and tells the owner on
Telegram, each step declaring its effect (one leaves it undeclared, one declares `read` but
writes). The tests change `PROMPT` in their own process to stand for a prompt change."""

from __future__ import annotations

from typing import Any

from joelclaw import Context, function
from joelclaw.integrations.llm import LLMClient
from joelclaw.integrations.telegram import TelegramClient
from joelclaw.integrations.todoist import TodoistClient

PROMPT = "Summarize this task in one line:"
OWNER_CHAT = 4242


def _todoist(ctx: Context[Any]) -> TodoistClient:
    s = ctx.settings.todoist
    return TodoistClient(s.token or "", s.api_url)


def fetch(ctx: Context[Any], task_id: str) -> dict[str, Any]:
    client = _todoist(ctx)
    try:
        return client.get_task(task_id)
    finally:
        client.close()


def summarize(ctx: Context[Any], content: str) -> str:
    s = ctx.settings.llm
    client = LLMClient(s.api_url or "", s.api_key, s.model or "")
    try:
        return client.complete([{"role": "user", "content": f"{PROMPT} {content}"}])
    finally:
        client.close()


def file_task(ctx: Context[Any], summary: str) -> str:
    client = _todoist(ctx)
    try:
        return str(client.create_task(summary, labels=["triaged"])["id"])
    finally:
        client.close()


def comment(ctx: Context[Any], task_id: str, summary: str) -> str:
    client = _todoist(ctx)
    try:
        return str(client.add_comment(task_id, f"triaged: {summary}")["id"])
    finally:
        client.close()


def tell(ctx: Context[Any], text: str) -> int:
    s = ctx.settings.telegram
    with TelegramClient(s.token or "", s.api_url,
                        min_interval_per_chat=0) as client:
        return int(client.send_message(OWNER_CHAT, text, parse_mode=None)["message_id"])


@function("shadow-triage", trigger="shadow/triage", retries=0)
def triage(ctx: Context[Any]) -> dict[str, Any]:
    task = ctx.step.run("fetch", fetch, ctx, ctx.event.data["task_id"], effect="read")
    summary = ctx.step.run("summarize", summarize, ctx, task["content"], effect="read")
    loud = ctx.step.run("shout", str.upper, summary, effect="pure")
    created = ctx.step.run("file", file_task, ctx, summary, effect="write")
    noted = ctx.step.run("note", comment, ctx, task["id"], summary, effect="read")  # it writes
    ctx.step.run("legacy-comment", comment, ctx, task["id"], loud)  # undeclared: a write
    sent = ctx.step.run("tell", tell, ctx, loud, effect="notify")
    return {"summary": summary, "loud": loud, "task": created, "comment": noted,
            "message": sent}


GREETING = "hello"  # the dashboard's shadow test changes it to stand for a code change


def greet(name: str) -> str:
    return f"{GREETING}, {name}"


@function("shadow-greet", trigger="shadow/greet", retries=0)
def greet_fn(ctx: Context[Any]) -> dict[str, Any]:
    """No client at all: a pure step whose text depends on the code, and a write step."""
    text = ctx.step.run("greet", greet, ctx.event.data["name"], effect="pure")
    kept = ctx.step.run("keep", lambda: len(text))
    return {"text": text, "kept": kept}
