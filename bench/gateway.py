"""Gateway benchmark: with 10,000 P3 notifications queued, how long until the owner's P0 message
gets its reply (agent = an instant fake LLM), and the gateway worker's RSS.

    python bench/gateway.py [--probes 10000] [--samples 5] [--chat-interval 1.0]

Starts its own Redis, a fake Telegram and a fake LLM (real sockets), and a real gateway worker
(`celery worker -Q gateway -c 1`). Prints the figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from joelclaw.config import Settings  # noqa: E402
from joelclaw.embedded import RedisServer  # noqa: E402
from joelclaw.gateway.queue import P3, MessageQueue  # noqa: E402
from tests.fakes.llm import FakeLLM  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.support import WorkerProcess  # noqa: E402

OWNER = 4242


def rss_mb(worker: WorkerProcess) -> float:
    procs = [psutil.Process(worker.process.pid), *worker.children()]
    return sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20


def wait_reply(tg: FakeTelegram, prefix: str, timeout: float = 60.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(m.get("text", "").startswith(prefix) for m in tg.sent_messages(OWNER)):
            return time.monotonic()
        time.sleep(0.002)
    raise SystemExit(f"no reply starting {prefix!r} within {timeout}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--probes", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--chat-interval", type=float, default=1.0,
                        help="JOELCLAW_GATEWAY_CHAT_INTERVAL_SECONDS (Telegram pacing)")
    parser.add_argument("--merge-window", type=float, default=0.3,
                        help="JOELCLAW_GATEWAY_MERGE_WINDOW_SECONDS (rapid-message merging)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="jc-bench-gw-"))
    server = RedisServer(tmp / "redis")
    server.start()
    tg, llm = FakeTelegram(poll_cap=1.0).start(), FakeLLM().start()
    settings = Settings(_env_file=None, home=tmp / "home", redis_url=server.url,  # type: ignore[call-arg]
                        telegram_token=tg.token, telegram_api_url=tg.base_url,
                        telegram_owner_id=OWNER, llm_api_url=llm.base_url, llm_api_key="sk-test",
                        llm_model="instant", gateway_poll_timeout_seconds=1,
                        gateway_chat_interval_seconds=args.chat_interval,
                        gateway_merge_window_seconds=args.merge_window)
    worker = WorkerProcess(settings, tmp / "gateway.log", name="gateway", queues="gateway",
                           concurrency=1).wait_ready()
    try:
        run(args, settings, worker, tg)
    finally:
        worker.stop()
        tg.stop()
        llm.stop()
        server.stop()


def run(args: argparse.Namespace, settings: Settings, worker: WorkerProcess,
        tg: FakeTelegram) -> None:
    import redis

    queue = MessageQueue(redis.Redis.from_url(settings.redis_url or ""))
    time.sleep(1.5)
    idle_rss = rss_mb(worker)
    started = time.perf_counter()
    for i in range(args.probes):
        queue.enqueue("gateway", f"probe {i}", priority=P3, meta={"type": "test.probe"})
    enqueue_s = time.perf_counter() - started
    latencies = []
    for n in range(args.samples):
        sent = time.monotonic()
        tg.push_message(OWNER, OWNER, f"ping {n}")
        latencies.append((wait_reply(tg, f"echo: ping {n}") - sent) * 1000)
        time.sleep(0.5)  # separate turns (no merging)
    busy_rss = rss_mb(worker)
    coalesced = [m["text"] for m in tg.sent_messages(OWNER) if "suppressed" in m.get("text", "")]
    print(f"probes queued: {args.probes} in {enqueue_s:.2f} s "
          f"({args.probes / enqueue_s:.0f}/s)")
    print(f"owner P0 reply latency with the probes queued (chat pacing "
          f"{args.chat_interval:g} s, merge window {args.merge_window:g} s): "
          f"first {latencies[0]:.0f} ms, "
          f"median {statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms "
          f"over {len(latencies)} messages")
    print(f"coalesced probe messages sent: {len(coalesced)} "
          f"({coalesced[0][:60] if coalesced else '-'}...)")
    print(f"gateway worker RSS (main + pool): idle {idle_rss:.1f} MB, after {busy_rss:.1f} MB")


if __name__ == "__main__":
    main()
