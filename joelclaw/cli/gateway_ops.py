"""`joelclaw gateway events|test|restart|diagnose`: what is queued, an end-to-end delivery
test, a warm restart of the gateway worker, and a layered health check with a fix per layer."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import click

from joelclaw import keys
from joelclaw.cli.app import Session, command, quick_redis_import
from joelclaw.cli.gateway import gateway
from joelclaw.cli.output import Failure, Reply, action, table

if TYPE_CHECKING:
    from joelclaw.runtime import Runtime

INSPECT_SECONDS = 1.5
STOPPED_SECONDS = 3.0  # a worker stamps several times a second: this long silent is stopped
TEST_PRIORITY = 1


def control(rt: Runtime) -> Any:
    """Celery's remote control over the broker: the runtime's app when it is built, else an app
    connected to the same broker alone (`broker_app`), since asking the workers needs none of
    what the runtime's app registers (its tasks, the extensions, beat)."""
    if "celery" in rt.__dict__:
        return rt.celery.control
    from joelclaw.bus.celery import broker_app

    with quick_redis_import():  # kombu's Redis transport imports redis-py
        return broker_app(rt, rt.broker_url).control


def gateway_workers(rt: Runtime, attempts: int = 3) -> list[str]:
    """Celery nodes consuming the `gateway` queue right now (asked over the broker; a worker
    that just started may miss the first broadcast, so ask up to `attempts` times)."""
    remote = control(rt)
    for _ in range(attempts):
        replies = remote.inspect(timeout=INSPECT_SECONDS).active_queues() or {}
        nodes = sorted(node for node, queues in replies.items()
                       if any(q.get("name") == keys.GATEWAY_QUEUE for q in queues or []))
        if nodes:
            return nodes
    return []


def _stamps(rt: Runtime, nodes: list[str]) -> dict[str, tuple[float, int | None]]:
    """Each node's last stamp: when its sweeper wrote it (-inf: never) and the process that
    wrote it (None: a worker that does not say)."""
    from joelclaw.bus.records import presence

    return {node: (seen.at, seen.pid) if seen is not None else (float("-inf"), None)
            for node, seen in presence.read(rt.redis, nodes).items()}


@command("events", group=gateway)
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True,
              help="Messages shown per priority tier.")
def events(session: Session, limit: int) -> Reply:
    """What the gateway holds: waiting messages by priority, in flight, dead, batched."""
    from joelclaw.insight.gateway import gateway_view

    view = gateway_view(session.runtime(), peek=limit)
    result = {k: view[k] for k in ("mode", "alive", "depth", "waiting", "inflight", "dead",
                                   "batched", "deliveries", "clock_offset_s")}
    return Reply(result, _render_events, [action("gateway drain", "deliver what is queued"),
                                          action("gateway test", "an end-to-end delivery")])


def _render_events(result: dict[str, Any]) -> str:
    rows = [(tier, m["id"], m["kind"], m.get("type") or "-", f"{m['age_s']:.0f}s",
             _now_tier(m), m["prompt"][:70]) for tier, messages in result["waiting"].items()
            for m in messages if not m.get("missing")]
    head = f"mode {result['mode']} · " + "  ".join(f"{k}={v}" for k, v in
                                                   result["depth"].items())
    if result.get("clock_offset_s"):
        head += f" · gateway clock {result['clock_offset_s']:g}s ahead"
    return head + "\n\n" + table(["tier", "id", "kind", "type", "waiting", "now", "text"],
                                  rows)


def _now_tier(message: dict[str, Any]) -> str:
    """What the queue's time rules make of a waiting message now (aged, or due for auto-ack)."""
    if message.get("auto_ack_due"):
        return "auto-ack due"
    tier = message.get("effective_priority")
    return "-" if tier is None else f"p{tier}" + (" (aged)" if tier != message["priority"]
                                                  else "")


@command("test", group=gateway)
@click.option("--timeout", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="Seconds to wait for the delivery.")
def test(session: Session, timeout: float) -> Reply:
    """Queue a test message for the owner and wait until the gateway delivered it."""
    from joelclaw.gateway.notify import deliver

    rt = session.runtime()
    if not rt.settings.telegram.token or not rt.settings.telegram.owner_id:
        raise Failure("Telegram is not configured: nothing can be delivered",
                      "GATEWAY_NO_TELEGRAM", "Set JOELCLAW_TELEGRAM_TOKEN and "
                      "JOELCLAW_TELEGRAM_OWNER_ID, then restart the gateway.")
    _require_alive(rt)
    sent_at = time.time()
    text = f"🧪 joelclaw gateway test {time.strftime('%H:%M:%S')}"
    queued = deliver(rt, text, type="gateway.test", priority=TEST_PRIORITY, triage="immediate",
                     idem_key=f"gateway-test-{sent_at}")
    message_id = queued.get("id")
    if message_id is None:
        raise Failure(f"the test message was not queued: {queued.get('status')}",
                      "GATEWAY_TEST_FAILED", "Check `joelclaw gateway diagnose`.",
                      result=queued)
    session.out.progress(f"queued test message {message_id}; waiting for its delivery")
    deadline = time.monotonic() + timeout
    while rt.redis.hexists(keys.GW_MSGS, message_id):
        if time.monotonic() >= deadline:
            raise Failure(f"test message {message_id} not delivered after {timeout:g}s",
                          "GATEWAY_TEST_FAILED", "See `joelclaw gateway diagnose` and "
                          "`joelclaw logs gateway`.", result={"id": message_id})
        time.sleep(0.2)
    took = round((time.time() - sent_at) * 1000, 1)
    result = {"id": message_id, "delivered": True, "latency_ms": took, "text": text}
    return Reply(result, lambda r: f"delivered test message {r['id']} in {r['latency_ms']} ms",
                 [action("gateway status", "queue and heartbeat")])


def _require_alive(rt: Runtime) -> list[str]:
    nodes = gateway_workers(rt)
    if not nodes:
        raise Failure("no gateway worker is alive (none answers for the gateway queue)",
                      "GATEWAY_NOT_RUNNING",
                      "Start the system with `joelclaw up` (it runs the gateway worker), or "
                      "`celery -A joelclaw.worker worker -Q gateway -c 1 -n gateway@%h`.",
                      next_actions=[action("up", "start the system"),
                                    action("gateway diagnose", "check each layer")])
    return nodes


@command("restart", group=gateway)
@click.option("--timeout", type=click.FloatRange(min=1), default=90.0, show_default=True,
              help="Seconds to wait for the worker to stop and come back.")
def restart(session: Session, timeout: float) -> Reply:
    """Warm-restart the gateway worker: it finishes its current message, exits, and its
    supervisor (`joelclaw up`) starts it again; unacknowledged messages are not lost."""
    rt = session.runtime()
    nodes = _require_alive(rt)
    before = _stamps(rt, nodes)
    asked = time.time()
    control(rt).shutdown(destination=nodes)
    session.out.progress(f"asked {', '.join(nodes)} to stop after its current message")
    watch = _Restarts(before, asked)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not watch.all_back():
        watch.look(_stamps(rt, nodes), time.time())
        if not watch.all_back():
            time.sleep(0.25)
    if not watch.all_stopped():
        raise Failure(f"{', '.join(nodes)} did not stop within {timeout:g}s",
                      "GATEWAY_RESTART_FAILED", "It may be in a long agent turn; see "
                      "`joelclaw logs gateway` and try again.")
    if not watch.all_back():
        raise Failure(f"{', '.join(nodes)} stopped but did not come back within {timeout:g}s",
                      "GATEWAY_RESTART_FAILED", "`joelclaw up` restarts the processes it "
                      "runs; a gateway started another way must be started again by hand.",
                      next_actions=[action("logs gateway", "why it did not come back")])
    result = {"nodes": nodes, "stopped_after_s": round(max(watch.stopped.values()) - asked, 1),
              "back_after_s": round(max(watch.back.values()) - asked, 1)}
    return Reply(result, lambda r: f"restarted {', '.join(r['nodes'])}: back after "
                 f"{r['back_after_s']} s", [action("gateway status", "alive again")])


class _Restarts:
    """What the stamps say of each node since the shutdown was asked: it stopped when its
    process stamps no more (silent `STOPPED_SECONDS`, or a new process stamps instead: a
    supervisor may restart it quicker than that), and it is back when a new process stamps
    (or, for a worker that does not say its pid, when it stamps again after the silence)."""

    def __init__(self, before: dict[str, tuple[float, int | None]], asked: float):
        self.before, self.asked = before, asked
        self.last_old = {node: at for node, (at, _) in before.items()}
        self.stopped: dict[str, float] = {}
        self.back: dict[str, float] = {}

    def look(self, stamps: dict[str, tuple[float, int | None]], now: float) -> None:
        for node, (at, pid) in stamps.items():
            if node in self.back:
                continue
            old_pid = self.before[node][1]
            new_process = pid is not None and old_pid is not None and pid != old_pid
            if not new_process and node not in self.stopped:
                self.last_old[node] = max(self.last_old[node], at)
                if now - at >= STOPPED_SECONDS:
                    self.stopped[node] = now
            if new_process and node not in self.stopped:
                # it stopped after its last stamp (and the request) and before the new
                # process's first
                self.stopped[node] = min(now, max(self.last_old[node], self.asked) + 0.25)
            if node in self.stopped and now - at < 1.0 and (new_process or old_pid is None
                                                            or pid is None):
                self.back[node] = now

    def all_stopped(self) -> bool:
        return len(self.stopped) == len(self.before)

    def all_back(self) -> bool:
        return len(self.back) == len(self.before)
