"""Helpers shared by the flow-control tests (tests/test_flow_*.py)."""

from __future__ import annotations

import json
from typing import Any

from joelclaw.bus.records import TERMINAL, Run
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.support import wait_for


def send(rt: Runtime, name: str, **data: Any) -> list[str]:
    return rt.send(Event(name=name, data=data))[0].runs


def start(rt: Runtime, name: str, **data: Any) -> str:
    return send(rt, name, **data)[0]


def finished(rt: Runtime, run_id: str, timeout: float = 30) -> Run:
    return wait_for(lambda: (r := rt.runs.get(run_id)) and r.status in TERMINAL and r,
                    timeout, message=f"run {run_id} to finish")


def all_finished(rt: Runtime, run_ids: list[str], timeout: float = 60) -> list[Run]:
    return [finished(rt, run_id, timeout) for run_id in run_ids]


def spans(rt: Runtime, name: str) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in rt.redis.lrange(f"jc:test:spans:{name}", 0, -1)]


def max_overlap(records: list[dict[str, Any]]) -> int:
    """The most spans running at one moment."""
    edges = sorted([(r["start"], 1) for r in records] + [(r["end"], -1) for r in records],
                   key=lambda e: (e[0], e[1]))
    current = best = 0
    for _, delta in edges:
        current += delta
        best = max(best, current)
    return best


def status_is(rt: Runtime, run_id: str, status: str, timeout: float = 20) -> Run:
    return wait_for(lambda: (r := rt.runs.get(run_id)) and r.status == status and r, timeout,
                    message=f"run {run_id} to be {status}")
