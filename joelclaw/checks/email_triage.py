"""`check/email-triage` (reference #25): the open, unreplied Front conversations, triaged by the
LLM into archive | unsubscribe | label | reply-needed | decision-needed; the owner hears about
the ones needing a reply or a decision that no open task already tracks. Runs only within
`JOELCLAW_EMAIL_TRIAGE_HOURS` local time, at most once per `JOELCLAW_EMAIL_TRIAGE_COOLDOWN_HOURS`.
With `JOELCLAW_EMAIL_TRIAGE_ARCHIVE` the ones triaged `archive` are archived in Front; the other
suggestions (unsubscribe, label) are reported, not executed."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from joelclaw.checks import tracked
from joelclaw.checks.llm_json import first_json
from joelclaw.integrations.front import FrontClient
from joelclaw.integrations.llm import LLMClient

if TYPE_CHECKING:
    from joelclaw.config import Settings

ACTIONS = ("archive", "unsubscribe", "label", "reply-needed", "decision-needed")
ATTENTION = ("reply-needed", "decision-needed")
SYSTEM = ("You triage an email inbox for its owner. For each conversation choose one action: "
          "archive (no value), unsubscribe (newsletter/marketing), label (reference worth "
          "keeping), reply-needed (someone waits for an answer), decision-needed (the owner "
          "must decide something). Answer with only a JSON array of objects "
          '{"id": "<conversation id>", "action": "<action>", "reason": "<a few words>"}.')


def unread(settings: Settings, client: FrontClient) -> list[dict[str, Any]]:
    """`[{id, subject, from, preview}]` of the conversations the Front query finds."""
    found = client.search_conversations(settings.checks.email_triage_front_query,
                                        settings.checks.email_triage_limit)
    return [{"id": str(c.get("id")), "subject": str(c.get("subject") or "(no subject)"),
             "from": str((c.get("recipient") or {}).get("handle") or "?"),
             "preview": str((c.get("last_message") or {}).get("blurb") or "")[:300]}
            for c in found if c.get("id")]


def triage(llm: LLMClient, conversations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One LLM call; each conversation gets an action (one the LLM skipped or garbled is
    `reply-needed`: when unsure, the owner looks)."""
    answer = llm.complete([{"role": "system", "content": SYSTEM},
                           {"role": "user", "content": json.dumps(conversations)}])
    decided = {}
    for item in first_json(answer, list):
        if isinstance(item, dict) and str(item.get("id")) and item.get("action") in ACTIONS:
            decided[str(item["id"])] = {"action": item["action"],
                                        "reason": str(item.get("reason") or "")[:200]}
    return [{**c, **decided.get(c["id"], {"action": "reply-needed", "reason": "not triaged"})}
            for c in conversations]


def archive(client: FrontClient, triaged: list[dict[str, Any]]) -> list[str]:
    """Archive the conversations triaged `archive`; the ids archived."""
    done = []
    for item in triaged:
        if item["action"] == "archive":
            client.archive_conversation(item["id"])
            done.append(item["id"])
    return done


def needing_attention(triaged: list[dict[str, Any]], tasks: list[dict[str, Any]]
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(attention, already tracked): a task naming the subject or the sender tracks it."""
    attention, known = [], []
    for item in triaged:
        if item["action"] not in ATTENTION:
            continue
        if tracked.matching(tasks, item["subject"], item["from"]):
            known.append(item)
        else:
            attention.append(item)
    return attention, known


def describe(attention: list[dict[str, Any]], triaged: list[dict[str, Any]],
             archived: bool = False) -> str:
    counts: dict[str, int] = {}
    for item in triaged:
        counts[item["action"]] = counts.get(item["action"], 0) + 1
    lines = [f"📧 **{len(attention)} email(s) need you**", ""]
    lines += [f"- {'❓' if i['action'] == 'decision-needed' else '↩️'} {i['subject']} "
              f"({i['from']}): {i['reason']}" for i in attention]
    others = ", ".join(f"{a} {n}" for a, n in sorted(counts.items()) if a not in ATTENTION)
    if others:
        lines += ["", f"{'Done' if archived else 'Suggested'} for the rest: {others}."]
    return "\n".join(lines)
