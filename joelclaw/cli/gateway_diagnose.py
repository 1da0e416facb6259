"""`joelclaw gateway diagnose`: the gateway checked layer by layer (Redis, worker, heartbeat,
Telegram settings and reachability, queue, agent), each with a status and a fix; any failing
layer fails the command (exit 1) with every result in the envelope."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from joelclaw.cli.app import Session, command
from joelclaw.cli.gateway import gateway
from joelclaw.cli.gateway_ops import gateway_workers
from joelclaw.cli.output import Failure, Reply, action, table

if TYPE_CHECKING:
    from joelclaw.runtime import Runtime

Check = dict[str, Any]
STUCK_SECONDS = 300.0  # a message waiting this long while awake means nothing is draining


def _check(name: str, status: str, detail: str, fix: str | None = None) -> Check:
    return {"check": name, "status": status, "detail": detail, **({"fix": fix} if fix else {})}


def _redis(rt: Runtime, view: dict[str, Any]) -> Check:
    started = time.perf_counter()
    rt.redis.ping()
    return _check("redis", "ok", f"answers in {(time.perf_counter() - started) * 1000:.1f} ms")


def _worker(rt: Runtime, view: dict[str, Any]) -> Check:
    nodes = gateway_workers(rt)
    if nodes:
        return _check("worker", "ok", f"{', '.join(nodes)} consuming the gateway queue")
    return _check("worker", "fail", "no worker answers for the gateway queue",
                  "joelclaw up (or celery -A joelclaw.worker worker -Q gateway -c 1 "
                  "-n gateway@%h)")


def _heartbeat(rt: Runtime, view: dict[str, Any]) -> Check:
    age = view["heartbeat_age_s"]
    if not rt.settings.telegram.token:
        return _check("heartbeat", "skip", "not expected without JOELCLAW_TELEGRAM_TOKEN")
    if age is None:
        return _check("heartbeat", "fail", "the Telegram poller never beat",
                      "check `joelclaw logs gateway` for the poller's errors")
    if not view["alive"]:
        return _check("heartbeat", "fail", f"last beat {age:.0f} s ago (stale)",
                      "joelclaw gateway restart")
    return _check("heartbeat", "ok", f"last beat {age:.0f} s ago")


def _telegram(rt: Runtime, view: dict[str, Any]) -> Check:
    settings = rt.settings
    if not settings.telegram.token:
        return _check("telegram", "warn", "JOELCLAW_TELEGRAM_TOKEN is not set: notifications "
                      "stay queued", "set JOELCLAW_TELEGRAM_TOKEN and JOELCLAW_TELEGRAM_OWNER_ID")
    if not settings.telegram.owner_id:
        return _check("telegram", "fail", "JOELCLAW_TELEGRAM_OWNER_ID is not set: there is "
                      "nobody to deliver to", "set JOELCLAW_TELEGRAM_OWNER_ID")
    from joelclaw.integrations.telegram import TelegramClient

    try:
        with TelegramClient(settings.telegram.token, settings.telegram.api_url) as client:
            me = client.call("getMe")
    except Exception as exc:  # any failure to reach the Bot API is this layer's finding
        return _check("telegram", "fail", f"the Bot API did not answer getMe: {exc}",
                      "check the token and JOELCLAW_TELEGRAM_API_URL")
    return _check("telegram", "ok", f"bot @{(me or {}).get('username', '?')} answers")


def _queue(rt: Runtime, view: dict[str, Any]) -> Check:
    depth = view["depth"]
    oldest = max((m.get("age_s", 0) for tier in view["waiting"].values() for m in tier),
                 default=0.0)
    expired = [m for m in view["inflight"] if m.get("lease_expires_in_s", 0) < 0]
    waiting = sum(depth[f"p{p}"] for p in range(4))
    detail = f"{waiting} waiting, {depth['inflight']} in flight, {depth['dead']} dead"
    if view["mode"] == "awake" and oldest > STUCK_SECONDS:
        return _check("queue", "fail", f"{detail}; the oldest has waited {oldest:.0f} s",
                      "joelclaw gateway drain, then joelclaw gateway restart")
    if expired or depth["dead"]:
        return _check("queue", "warn", f"{detail}; {len(expired)} expired claim(s)",
                      "expired claims are retried by the next drain; dead letters need a look")
    return _check("queue", "ok", detail + (" (sleep mode: held)" if view["mode"] == "sleep"
                                           else ""))


def _agent(rt: Runtime, view: dict[str, Any]) -> Check:
    failures = view["agent_failures"]
    if failures >= rt.settings.llm.fallback_after_failures:
        return _check("agent", "warn", f"{failures} failed turns in a row",
                      "check JOELCLAW_LLM_API_URL / the agent command; the fallback model "
                      "is used meanwhile")
    return _check("agent", "ok", f"{failures} failed turns in a row")


CHECKS: list[Callable[[Any, dict[str, Any]], Check]] = [
    _redis, _worker, _heartbeat, _telegram, _queue, _agent]


@command("diagnose", group=gateway, reads=True)
def diagnose(session: Session) -> Reply:
    """Check the gateway layer by layer; each failing layer says how to fix it."""
    from joelclaw.insight.gateway import gateway_view

    rt = session.runtime()
    view = gateway_view(rt)
    checks = [check(rt, view) for check in CHECKS]
    result = {"ok": not any(c["status"] == "fail" for c in checks), "checks": checks}
    if not result["ok"]:
        first = next(c for c in checks if c["status"] == "fail")
        raise Failure(f"gateway check {first['check']} failed: {first['detail']}",
                      "GATEWAY_UNHEALTHY", first.get("fix") or "See the checks in the result.",
                      result=result, next_actions=[action("logs gateway", "its log")])
    return Reply(result, _render, [action("gateway test", "an end-to-end delivery")])


def _render(result: dict[str, Any]) -> str:
    rows = [(c["check"], c["status"], c["detail"], c.get("fix", "")) for c in result["checks"]]
    return table(["check", "status", "detail", "fix"], rows)
