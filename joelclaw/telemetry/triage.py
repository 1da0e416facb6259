"""o11y triage (reference §1.2 #31): failed telemetry events grouped by a dedup key and
classified into tiers by patterns; unknowns are tier 2 until the LLM says otherwise.

- tier 1: expected noise (transient, rate limits, cancellations): counted, nothing else.
- tier 2: known, degraded but self-healing (a service down for a while): recorded.
- tier 3: needs someone (a bug, bad credentials, a worker dying): a Todoist task, an agent
  request and a Telegram escalation with an `s4h:<key>` snooze button, at most
  `JOELCLAW_O11Y_ESCALATIONS_PER_HOUR` per hour.

The dedup key is the SHA-256 (first 32 hex digits: it fits Telegram's 64-byte callback data)
of the normalized component, action and error (numbers, ids and hex strings removed), so the
same failure of another run is the same key; a key is handled once per `o11y_dedup_hours` and
not escalated while snoozed.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.checks import snooze
from joelclaw.coordination.cooldown import cooldown
from joelclaw.insight.links import run_ref
from joelclaw.telemetry import query

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus
    from joelclaw.config import Settings
    from joelclaw.integrations.typesense import SearchClient

SCAN_LIMIT = 250
FIRST_WINDOW_HOURS = 1.0

PATTERNS: tuple[tuple[int, str, re.Pattern[str]], ...] = tuple(
    (tier, label, re.compile(rx, re.I)) for tier, label, rx in (
        (1, "cancelled", r"\bCancelled\b|was cancelled"),
        (1, "rate-limited", r"\b429\b|rate.?limit|too many requests|RetryAfter"),
        (1, "transient-timeout", r"\bReadTimeout\b|timed out|TimeoutError"),
        (2, "service-unavailable", r"\b50[234]\b|ServiceUnavailable|SearchUnavailable|"
                                   r"ConnectionError|ConnectionRefused|TransportError"),
        (3, "auth", r"\b40[13]\b|AuthError|unauthori[sz]ed|forbidden|invalid api key"),
        (3, "worker-died", r"worker died|out of memory|MemoryError|No space left"),
        (3, "code-bug", r"\b(TypeError|AttributeError|KeyError|NameError|ImportError|"
                        r"ModuleNotFoundError|AssertionError|IndexError|ZeroDivisionError)\b"),
        (3, "non-retriable", r"\bNonRetriable\b"),
    ))

# What differs between two occurrences of the same failure, each replaced by "#": UUIDs (whole,
# before anything else can cut them into pieces), hex addresses and digests, tokens mixing
# letters and digits (run ids, request ids, `user123`), and numbers.
_NOISE = re.compile(
    r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b"
    r"|0x[0-9a-f]+|\b[0-9a-f]{8,}\b"
    r"|\b(?=[a-z_-]*\d)(?=[0-9_-]*[a-z])[a-z0-9_-]{4,}\b"
    r"|\d+(\.\d+)?", re.I)


def normalize(text: str) -> str:
    """The text without its volatile parts, so one failure is one key whatever the run."""
    return re.sub(r"\s+", " ", _NOISE.sub("#", text.lower())).strip()[:500]


def dedup_key(component: str, action: str, error: str) -> str:
    raw = f"{normalize(component)}|{normalize(action)}|{normalize(error)}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def classify(error: str) -> tuple[int, str]:
    for tier, label, pattern in PATTERNS:
        if pattern.search(error or ""):
            return tier, label
    return 2, "unknown"


def scan(bus: Bus, search: SearchClient, now: float | None = None) -> dict[str, Any]:
    """The failed events since the last scan, grouped by dedup key; moves the cursor."""
    query.flushed(bus, search)
    now = now or time.time()
    since, seen = _cursor(bus.redis.get(keys.O11Y_CURSOR),
                          int((now - FIRST_WINDOW_HOURS * 3600) * 1000))
    # Oldest first, from the cursor's millisecond on (an event of that millisecond may be
    # stored after the scan that set it): past SCAN_LIMIT new failures, the next scan continues
    # where this one ended. Those of the cursor's millisecond already scanned are skipped.
    found = query.events(search, "*", limit=SCAN_LIMIT, from_ms=since, hours=None,
                         success=False, oldest_first=True)
    groups: dict[str, dict[str, Any]] = {}
    newest, scanned = since, 0
    for event in found["events"]:
        stamp = int(event["timestamp"])
        if stamp == since and event["id"] in seen:
            continue
        if stamp > newest:
            newest, seen = stamp, set()
        seen.add(event["id"])
        scanned += 1
        if event.get("source") == "o11y":
            continue
        error = event.get("error") or ""
        key = dedup_key(event["component"], event["action"], error)
        group = groups.setdefault(key, {"key": key, "component": event["component"],
                                        "action": event["action"], "error": error[:500],
                                        "count": 0, "runs": []})
        group["count"] += 1
        if event.get("run_id") and event["run_id"] not in group["runs"][:10]:
            group["runs"].append(event["run_id"])
    bus.redis.set(keys.O11Y_CURSOR, json.dumps({"ms": newest, "ids": sorted(seen)}))
    return {"since": since, "cursor": newest, "scanned": scanned,
            "groups": list(groups.values())}


def _cursor(raw: bytes | None, default: int) -> tuple[int, set[str]]:
    """The newest millisecond scanned and the ids scanned in it (a bare number before)."""
    if not raw:
        return default, set()
    value = json.loads(raw)
    if isinstance(value, int):
        return value, set()
    return int(value["ms"]), set(value.get("ids") or ())


def classify_groups(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for group in groups:
        tier, label = classify(f"{group['action']} {group['error']}")
        out.append({**group, "tier": tier, "pattern": label})
    return out


LLM_SYSTEM = ("You triage failures of a personal automation system. For each failure say its "
              "tier: 1 = expected noise, ignore; 2 = degraded but self-healing, record it; "
              "3 = needs a human or a coding agent. Answer only JSON: {\"<key>\": <tier>, ...}.")


def llm_prompt(unknown: list[dict[str, Any]]) -> str:
    return "\n".join(f"{g['key']}: component={g['component']} action={g['action']} "
                     f"error={g['error'][:300]}" for g in unknown)


def llm_configured(settings: Settings) -> bool:
    """Whether an LLM can classify (JOELCLAW_LLM_API_URL and a model, the o11y's own first)."""
    return bool(settings.llm.api_url and (settings.o11y.model or settings.llm.model))


def llm_tiers(settings: Settings, unknown: list[dict[str, Any]]) -> dict[str, int]:
    """Ask the LLM for the tier of each unknown failure group (JOELCLAW_O11Y_MODEL, else the
    shared model; one short call, two attempts)."""
    from joelclaw.integrations.llm import LLMClient

    model = settings.o11y.model or settings.llm.model
    if not settings.llm.api_url or not model:
        return {}
    client = LLMClient(settings.llm.api_url, settings.llm.api_key, model, timeout=60,
                       max_attempts=2)
    try:
        reply = client.complete([{"role": "system", "content": LLM_SYSTEM},
                                 {"role": "user", "content": llm_prompt(unknown)}])
    finally:
        client.close()
    return parse_tiers(reply)


def parse_tiers(reply: str) -> dict[str, int]:
    start, end = reply.find("{"), reply.rfind("}")
    if start < 0 or end < start:
        return {}
    try:
        data = json.loads(reply[start:end + 1])
    except ValueError:
        return {}
    return {str(k): int(v) for k, v in data.items()
            if isinstance(v, int | float) and int(v) in (1, 2, 3)}


def fresh(bus: Bus, key: str) -> bool:
    """True once per dedup window for a key; a snoozed key is never fresh."""
    if snooze.snoozed(bus.redis, key):
        return False
    return cooldown(bus.redis, keys.o11y_seen(key), bus.settings.o11y.dedup_hours * 3600)


def escalation_slot(bus: Bus, key: str, now: float | None = None) -> bool:
    """At most `o11y_escalations_per_hour` Telegram escalations in any hour (the triage
    function runs one at a time, so read-then-add does not race)."""
    now = now or time.time()
    r = bus.redis
    r.zremrangebyscore(keys.O11Y_ESCALATIONS, 0, now - 3600)
    if r.zcard(keys.O11Y_ESCALATIONS) >= bus.settings.o11y.escalations_per_hour:
        return False
    r.zadd(keys.O11Y_ESCALATIONS, {key: now})
    return True


def escalation_text(group: dict[str, Any], settings: Settings | None = None) -> str:
    """The Telegram escalation; its runs link to their dashboard pages when
    `JOELCLAW_PUBLIC_URL` is set."""
    runs = ", ".join(run_ref(settings, r) if settings is not None else r
                     for r in group["runs"][:3]) or "-"
    return (f"o11y tier 3: **{group['component']}** {group['action']} ({group['pattern']}), "
            f"{group['count']}x\n{group['error'][:600]}\nruns: {runs}\n"
            f"A task was filed and an agent asked to investigate.")
