"""The Redis keys memory writes (reference §5.4, under our `jc:` prefix), and their lifetimes."""

from __future__ import annotations

from joelclaw.keys import PREFIX

BASE = f"{PREFIX}memory:"
OBSERVE_LOCK_SECONDS = 3600  # a repeat of a session within this is deduplicated by the lock
OBSERVE_DONE_SECONDS = 30 * 86400  # ... and after it, by the done marker
OBSERVATIONS_TTL = 30 * 86400
PROPOSAL_KEEP_SECONDS = 30 * 86400  # a decided proposal is kept this long (duplicate approvals)
NUDGE_COOLDOWN = "memory:review:nudge-sent"

PENDING = f"{BASE}review:pending"  # list of proposal ids awaiting a decision
LLM_PENDING = f"{BASE}review:llm-pending"  # list of ids queued for the batch LLM review


def observe_lock(dedupe_key: str) -> str:
    return f"memory:observe:{dedupe_key}"  # a joelclaw.locks name (stored as jc:lock:<name>)


def observe_done(dedupe_key: str) -> str:
    return f"{BASE}observe:done:{dedupe_key}"


def latest(date: str) -> str:
    return f"{BASE}latest:{date}"


def observations(date: str) -> str:
    return f"{BASE}observations:{date}"  # list of JSON {summary, metadata}, 30 days


def proposal(proposal_id: str) -> str:
    return f"{BASE}review:proposal:{proposal_id}"  # hash


def proposal_seq(date: str) -> str:
    return f"{BASE}review:seq:{date}"  # INCR counter behind p-YYYYMMDD-NNN


def proposal_lock(proposal_id: str) -> str:
    return f"memory:proposal:{proposal_id}"  # a joelclaw.locks name
