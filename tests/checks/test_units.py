"""The checks' library against real Redis, real files and a real git: windows, calendar
parsing, snooze keys, session pruning, vault sync, the trigger audit, stale runs, payloads."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from joelclaw import keys
from joelclaw.checks import calendar, sessions, snooze, stale_runs, tracked, triggers_audit, vault
from joelclaw.checks.llm_json import BadAnswer, first_json
from joelclaw.checks.window import in_hours, in_window, window_day
from joelclaw.config import Settings
from joelclaw.errors import ConfigError
from joelclaw.events.model import Event, EventError
from joelclaw.runtime import Runtime
from tests.conftest import make_settings


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 1, hour, minute, tzinfo=UTC)


def test_hours_and_windows() -> None:
    assert in_hours("08-22", at(8)) and in_hours("08-22", at(21, 59))
    assert not in_hours("08-22", at(22)) and not in_hours("08-22", at(7, 59))
    assert in_hours("22-06", at(23)) and in_hours("22-06", at(5)) and not in_hours("22-06", at(12))
    assert in_window("23:45-23:59", at(23, 45)) and in_window("23:45-23:59", at(23, 59))
    assert not in_window("23:45-23:59", at(23, 44))


def test_a_window_across_midnight_matches_on_both_sides_and_belongs_to_its_first_day() -> None:
    assert in_window("23:50-00:10", at(23, 50)) and in_window("23:50-00:10", at(23, 59))
    assert in_window("23:50-00:10", at(0, 0)) and in_window("23:50-00:10", at(0, 10))
    assert not in_window("23:50-00:10", at(0, 11)) and not in_window("23:50-00:10", at(23, 49))
    assert not in_window("23:50-00:10", at(12))
    assert window_day("23:50-00:10", at(23, 55)).isoformat() == "2026-12-01"
    assert window_day("23:50-00:10", at(0, 5)).isoformat() == "2026-11-30"  # the day that ended
    assert window_day("23:45-23:59", at(23, 50)).isoformat() == "2026-12-01"


def test_bad_window_settings_name_the_variable(tmp_path: Path) -> None:
    from joelclaw.config import load_settings

    with pytest.raises(ConfigError, match="JOELCLAW_EMAIL_TRIAGE_HOURS"):
        load_settings(home=tmp_path, email_triage_hours="8 to 10")
    with pytest.raises(ConfigError, match="JOELCLAW_DIGEST_WINDOW"):
        load_settings(home=tmp_path, digest_window="23:45")


ICS = """BEGIN:VCALENDAR\r
BEGIN:VEVENT\r
SUMMARY:Dentist\\, downtown\r
DTSTART;TZID=America/Los_Angeles:20261201T090000\r
DTEND;TZID=America/Los_Angeles:20261201T100000\r
LOCATION:Main St\r
END:VEVENT\r
BEGIN:VEVENT\r
SUMMARY:Offsite\r
DTSTART;VALUE=DATE:20261201\r
END:VEVENT\r
BEGIN:VEVENT\r
SUMMARY:Standup with a very long title that the feed\r
  folds onto a second line\r
DTSTART:20261201T170000Z\r
END:VEVENT\r
BEGIN:VEVENT\r
SUMMARY:Tomorrow\r
DTSTART:20261202T170000Z\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_calendar_reads_today_in_the_owners_time_zone() -> None:
    events = calendar.events_on(ICS, date(2026, 12, 1), "America/Los_Angeles")
    assert [(e["start"], e["summary"]) for e in events] == [
        ("all day", "Offsite"), ("09:00", "Dentist, downtown"),
        ("09:00", "Standup with a very long title that the feed folds onto a second line")]
    assert events[1]["end"] == "10:00" and events[1]["location"] == "Main St"
    tasks = [{"id": "1", "content": "Prepare the offsite agenda", "description": "",
              "labels": []}]
    assert calendar.annotate(events, tasks)[0]["task"] == "Prepare the offsite agenda"


def test_a_calendar_command_that_fails_is_a_clear_error(tmp_path: Path) -> None:
    s = make_settings(tmp_path, "redis://127.0.0.1:1", calendar_command="false")
    with pytest.raises(calendar.CalendarError, match="exited 1"):
        calendar.fetch(s)
    missing = s.with_overrides(calendar_command="no-such-calendar-tool --today")
    with pytest.raises(calendar.CalendarError, match="not found"):
        calendar.fetch(missing)
    assert calendar.fetch(s.with_overrides(calendar_command=None)) is None


def test_snooze_keys_buttons_and_callback_data(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    key = snooze.key_for("typesense|connect|refused")
    assert len(key) == 43 and snooze.parse(f"s4h:{key}") == key
    assert len(snooze.button(key)[1].encode()) <= 64, "Telegram callback data limit"
    assert snooze.parse("s4h:") is None and snooze.parse("memory:approve:p-1") is None
    assert snooze.parse("s4h:" + "x" * 61) is None and snooze.parse("s4h:a b") is None
    with pytest.raises(snooze.BadSnoozeKey):
        snooze.button("has space")
    assert snooze.snoozed(client, key) == 0
    until = snooze.snooze(client, key)
    assert until > time.time() + 3.9 * 3600 and snooze.snoozed(client, key) > 3.9 * 3600
    snooze.remember(client, key, "the text")
    assert snooze.remembered(client, key) == "the text"


def test_tracked_matches_every_word_of_a_term() -> None:
    tasks = [{"id": "1", "content": "Look at the Stale Runs", "description": "", "labels": []}]
    assert tracked.matching(tasks, "stale runs")["id"] == "1"
    assert tracked.matching(tasks, "stale_runs") is not None
    assert tracked.matching(tasks, "typesense", "disk") is None


def test_sessions_prune_only_old_files_and_never_follows_links(tmp_path: Path) -> None:
    root, outside = tmp_path / "sessions", tmp_path / "precious"
    outside.mkdir()
    keep = outside / "keep.jsonl"
    keep.write_text("x")
    files = {"old": root / "a" / "old.jsonl", "new": root / "new.jsonl"}
    for name, path in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x" * 10)
        age = 31 if name == "old" else 1
        os.utime(path, (time.time() - age * 86400,) * 2)
    os.utime(keep, (time.time() - 90 * 86400,) * 2)
    (root / "link").symlink_to(outside)
    s = make_settings(tmp_path, "redis://127.0.0.1:1",
                      sessions_prune_dirs=f"{root},{tmp_path / 'absent'}")
    result = sessions.prune(s)
    assert result["deleted"] == 1 and result["bytes"] == 10 and result["kept"] == 1
    assert result["folders"][str(tmp_path / "absent")] == "missing"
    assert not files["old"].exists() and not (root / "a").exists() and files["new"].exists()
    assert keep.exists(), "a symlinked folder is not pruned"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                          text=True).stdout


def test_vault_sync_commits_pushes_and_sees_divergence(tmp_path: Path) -> None:
    remote, work, other = tmp_path / "remote.git", tmp_path / "vault", tmp_path / "other"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    for clone in (work, other):
        subprocess.run(["git", "clone", "-q", str(remote), str(clone)], check=True,
                       capture_output=True)
        git(clone, "config", "user.email", "t@example.com")
        git(clone, "config", "user.name", "T")
        git(clone, "checkout", "-q", "-b", "main")
    (work / "note.md").write_text("first\n")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "init")
    git(work, "push", "-q", "-u", "origin", "main")
    s = make_settings(tmp_path, "redis://127.0.0.1:1", vault_dir=work, vault_push=True)
    assert vault.sync(s)["status"] == "clean"

    (work / "note.md").write_text("second\n")
    result = vault.sync(s)
    assert result["status"] == "pushed" and result["changes"] == 1
    assert "vault: auto-commit" in git(remote, "log", "-1", "--format=%s")

    git(other, "pull", "-q", "origin", "main")
    (other / "elsewhere.md").write_text("x\n")
    git(other, "add", "-A")
    git(other, "commit", "-qm", "elsewhere")
    git(other, "push", "-q", "origin", "main")
    git(work, "fetch", "-q")
    (work / "note.md").write_text("third\n")
    diverged = vault.sync(s)
    assert diverged["status"] == "diverged" and diverged["ahead"] == 1
    assert diverged["behind"] == 1

    assert vault.sync(s.with_overrides(vault_dir=tmp_path))["status"] == "failed"
    assert vault.sync(s.with_overrides(vault_dir=None))["status"] == "skipped"


def test_trigger_audit_finds_unhandled_events_and_missed_ticks(settings: Settings) -> None:
    rt = Runtime(settings.with_overrides(function_modules=[]))
    now = time.time()
    rt.redis.set(keys.BEAT_TICK, now)  # beat is alive: cron ticks are judged
    rt.redis.set(keys.TRIGGERS_AUDIT_SINCE, now - 7200)
    result = triggers_audit.audit(rt, ["tasks/triage.requested", "nobody/handles.this"], now)
    assert result["unhandled"] == ["nobody/handles.this"]
    missed = {m["function"] for m in result["missed"]}
    assert "system-heartbeat" in missed and "gateway-digest" in missed
    assert triggers_audit.drifted(result)
    assert "nobody/handles.this" in triggers_audit.describe(result)

    rt.redis.delete(keys.BEAT_TICK)
    quiet = triggers_audit.audit(rt, ["tasks/triage.requested"], now)
    assert quiet["missed"] == [] and not quiet["beat_ok"], "beat down: the health check says so"
    rt.redis.set(keys.BEAT_TICK, now)
    back = triggers_audit.audit(rt, ["tasks/triage.requested"], now)
    assert back["missed"] == [], "slots before beat came back are not judged"
    assert not triggers_audit.drifted(back)


def test_stale_runs_are_found_by_status_age(settings: Settings) -> None:
    rt = Runtime(settings.with_overrides(function_modules=[]))
    [sent] = rt.send(Event(name="sessions/prune.requested"))  # no worker: it stays queued
    assert stale_runs.find(rt) == []
    later = time.time() + 31 * 60
    [found] = stale_runs.find(rt, later)
    assert found["id"] == sent.runs[0] and found["status"] == "queued"
    assert found["function"] == "check-sessions-prune"
    assert "check-sessions-prune" in stale_runs.describe([found])


def test_bad_payloads_and_llm_answers_are_clear_errors() -> None:
    with pytest.raises(EventError, match=r"data\.mode"):
        Event(name="system/health.requested", data={"mode": "everything"})
    with pytest.raises(EventError, match=r"data\.date"):
        Event(name="memory/digest.requested", data={"date": "yesterday"})
    with pytest.raises(EventError, match=r"month must be in 1\.\.12"):
        Event(name="memory/digest.requested", data={"date": "2026-13-01"})
    assert first_json('noise ```json\n[{"id": 1}]\n``` more') == [{"id": 1}]
    with pytest.raises(BadAnswer, match="no JSON list"):
        first_json("I cannot help with that")
