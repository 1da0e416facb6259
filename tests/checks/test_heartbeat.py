"""The heartbeat in real workers: its ten events all have runs that complete (or skip
cleanly), its prune step removes only old session files, the digest is requested once per
date, and the full health check emits `system/network.update` whose snapshot is stored."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from joelclaw.checks import network
from joelclaw.config import Settings
from joelclaw.embedded import TypesenseServer
from joelclaw.events.model import Event
from joelclaw.events.store import list_events
from joelclaw.gateway.service import Gateway
from joelclaw.runtime import Runtime
from tests.checks.conftest import CheckLLM, texts, with_front, with_llm, with_todoist
from tests.fakes.front import FakeFront
from tests.fakes.llm import FakeLLM
from tests.fakes.telegram import FakeTelegram
from tests.fakes.todoist import FakeTodoist
from tests.flow_helpers import finished
from tests.support import wait_for

pytestmark = pytest.mark.timeout(180)

HANDLERS = {  # the heartbeat's ten events and the function handling each
    "tasks/triage.requested": "tasks-triage",
    "sessions/prune.requested": "check-sessions-prune",
    "triggers/audit.requested": "check-trigger-audit",
    "system/health.requested": "check-system-health",
    "memory/review.check": "memory-review-nudge",
    "vault/sync.check": "check-vault-sync",
    "email/triage.requested": "check-email-triage",
    "calendar/daily.check": "check-calendar-today",
    "loops/stale.check": "check-stale-runs",
    "memory/digest.requested": "memory-daily-digest",
}


def old(path: Path, days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}\n")
    stamp = time.time() - days * 86400
    os.utime(path, (stamp, stamp))
    return path


def completed_runs(rt: Runtime, function: str) -> list:
    runs = rt.runs.list(function=function, limit=20)
    return [finished(rt, r.id, 60) for r in runs]


def test_the_heartbeat_fans_out_ten_events_and_every_one_is_handled(
    make: Callable[..., Settings], start: Callable[..., Runtime], tmp_path: Path,
    llm: FakeLLM, check_llm: CheckLLM, todoist: FakeTodoist, front: FakeFront,
    tg: FakeTelegram,
) -> None:
    sessions = tmp_path / "sessions"
    stale = old(sessions / "2026" / "a.jsonl", 40)
    fresh = old(sessions / "b.jsonl", 2)
    ics = tmp_path / "today.ics"
    ics.write_text("BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:Nothing today\n"
                   "DTSTART:20200101T090000Z\nEND:VEVENT\nEND:VCALENDAR\n")
    vault = tmp_path / "vault"
    vault.mkdir()
    todoist.add_task("t1", "Ship the release", "inbox")
    settings = make(sessions_prune_dirs=[sessions], digest_window="00:00-23:59",
                    email_triage_hours="00-24", calendar_command=f"cat {ics}",
                    vault_dir=vault, **with_llm(llm), **with_todoist(todoist),
                    **with_front(front))
    rt = start(settings, gateway=True, beat=True)
    [sent] = rt.send(Event(name="system/heartbeat.wake"))
    beat = finished(rt, sent.runs[0], 60)
    assert beat.status == "completed", beat.error
    assert beat.output == {"checks": 9, "digest_requested": True, "pruned": 1}
    assert not stale.exists() and fresh.exists() and not stale.parent.exists()

    for event, function in HANDLERS.items():
        assert list_events(rt.redis, name=event), f"{event} was emitted"
        runs = wait_for(lambda f=function: completed_runs(rt, f), 60,
                        message=f"a finished run of {function}")
        assert [r.status for r in runs] == ["completed"], (function, runs[0].error)
    outputs = {f: completed_runs(rt, f)[0].output for f in HANDLERS.values()}
    assert outputs["tasks-triage"]["notified"] is True
    assert outputs["check-sessions-prune"]["deleted"] == 0, "the heartbeat pruned first"
    assert outputs["check-email-triage"] == {"unread": 0}
    assert outputs["check-calendar-today"]["events"] == 0
    assert outputs["check-vault-sync"]["status"] == "failed", "not a git work tree"
    assert outputs["memory-daily-digest"]["digest_path"].endswith(".md")
    assert outputs["check-trigger-audit"]["unhandled"] == []
    assert check_llm.calls["digest"] == 1 and check_llm.calls["tasks"] == 1

    notices = wait_for(lambda: len(texts(tg)) == 2 and texts(tg), 30,
                       message="the task triage and the vault notices")
    assert any("Task triage" in t for t in notices)
    assert any("Vault sync failed" in t for t in notices)

    again = finished(rt, rt.send(Event(name="system/heartbeat.wake"))[0].runs[0], 60)
    assert again.output["digest_requested"] is False, "one digest request per date"
    assert len(list_events(rt.redis, name="memory/digest.requested")) == 1
    for function in [f for f in HANDLERS.values() if f != "memory-daily-digest"]:
        runs = wait_for(lambda f=function: len(completed_runs(rt, f)) == 2
                        and completed_runs(rt, f), 60, message=f"a second run of {function}")
        second = max(runs, key=lambda r: r.created_at)
        assert second.status == "completed", (function, second.error)
        assert not [s.key for s in rt.runs.steps(second.id) if s.key.startswith("notify")]
    assert Gateway(rt).queue.ready_count() == 0
    assert len(texts(tg)) == 2, "a second heartbeat inside the cooldowns sends nothing"


def test_the_full_health_check_emits_the_network_update_and_its_snapshot_is_stored(
    make: Callable[..., Settings], start: Callable[..., Runtime], typesense: TypesenseServer,
) -> None:
    rt = start(make(typesense_url=typesense.url, typesense_api_key=typesense.api_key),
               gateway=True, beat=True)
    [sent] = rt.send(Event(name="system/health.check", data={"source": "test"}))
    health = finished(rt, sent.runs[0], 60)
    assert health.status == "completed" and health.output["mode"] == "full", health.error
    assert health.output["status"] == "ok" and health.output["findings"] == []
    run_id = wait_for(lambda: [r.id for r in rt.runs.list(function="network-status-update")],
                      30, message="the network update run")[0]
    assert finished(rt, run_id, 30).status == "completed"
    snapshot = network.last(rt)
    assert snapshot is not None and snapshot["roles"] == {"worker": 1, "gateway": 1}
    assert snapshot["typesense"] == "ok" and snapshot["status"] == "ok"
    assert snapshot["beat"] == "ok" and {n["hostname"].split("@")[0] for n in
                                          snapshot["nodes"]} == {"w0", "w1"}


def test_a_digest_window_across_midnight_fires(make: Callable[..., Settings],
                                               start: Callable[..., Runtime]) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    # From two minutes ahead round to one minute ahead: a window that wraps past midnight and
    # holds every minute of the day, so now is in it whenever the heartbeat runs.
    window = f"{now + timedelta(minutes=2):%H:%M}-{now + timedelta(minutes=1):%H:%M}"
    rt = start(make(digest_window=window, timezone="UTC"))
    beat = finished(rt, rt.send(Event(name="system/heartbeat.wake"))[0].runs[0], 60)
    assert beat.status == "completed", beat.error
    assert beat.output["digest_requested"] is True, window
    [requested] = list_events(rt.redis, name="memory/digest.requested")
    assert requested["event"]["data"]["date"] in {
        (now + timedelta(days=d)).date().isoformat() for d in (-1, 0, 1)}
