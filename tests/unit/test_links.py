"""Telegram alerts link their runs to the dashboard when JOELCLAW_PUBLIC_URL says where it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from joelclaw.checks import stale_runs
from joelclaw.config import Settings
from joelclaw.insight.links import needs_url, run_ref, run_url
from joelclaw.telemetry.triage import escalation_text


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, home=Path("/tmp/none"), **values)  # type: ignore[arg-type]


def test_runs_link_to_the_public_dashboard() -> None:
    public = settings(public_url="https://claw.example.com/")
    assert run_url(public, "run-1") == "https://claw.example.com/runs/run-1"
    assert needs_url(public) == "https://claw.example.com/needs-me"
    assert run_ref(public, "run-1") == "[run-1](https://claw.example.com/runs/run-1)"
    text = stale_runs.describe([{"id": "run-1", "function": "f", "status": "queued",
                                 "age_minutes": 90}], settings=public)
    assert "[run-1](https://claw.example.com/runs/run-1)" in text
    group = {"runs": ["run-2"], "component": "c", "action": "a", "pattern": "p", "count": 3,
             "error": "boom"}
    assert "[run-2](https://claw.example.com/runs/run-2)" in escalation_text(group, public)


def test_without_a_public_url_messages_name_the_run() -> None:
    local = settings()
    assert run_url(local, "run-1") is None and needs_url(local) is None
    assert run_ref(local, "run-1") == "`run-1`"


def test_a_public_url_must_be_an_address() -> None:
    with pytest.raises(ValueError, match="the dashboard's address"):
        settings(public_url="claw.example.com")
