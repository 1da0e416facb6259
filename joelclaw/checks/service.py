"""`ctx.checks` and `ctx.snooze`: what the heartbeat's check functions ask of the system, bound
to the runtime, so a check function passes no runtime and builds no Redis key.

Each method is plain JSON in, JSON out: a function calls it inside a step
(`ctx.step.run("check", ctx.checks.health, mode)`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from joelclaw import keys
from joelclaw.checks import (
    clients,
    digest,
    network,
    snooze,
    stale_runs,
    system_health,
    task_triage,
    tracked,
    triggers_audit,
)
from joelclaw.coordination import cooldown
from joelclaw.errors import NonRetriable

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus
    from joelclaw.integrations.llm import LLMClient
    from joelclaw.integrations.todoist import TodoistClient

T = TypeVar("T")
NO_LLM = "no LLM configured (JOELCLAW_LLM_API_URL, JOELCLAW_LLM_MODEL)"


class Checks:
    """`ctx.checks`: the checks' reads and claims against the running system."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus

    def health(self, mode: str) -> dict[str, Any]:
        """The health findings for `mode` (core, signals or full)."""
        return system_health.check(self._bus, mode)

    def open_tasks(self) -> list[dict[str, Any]]:
        """The open Todoist tasks ("already tracked"), cached; [] without Todoist."""
        return tracked.open_tasks(self._bus)

    def stale_runs(self) -> list[dict[str, Any]]:
        """Runs stuck queued or running for too long."""
        return stale_runs.find(self._bus)

    def describe_stale(self, stale: list[dict[str, Any]]) -> str:
        return stale_runs.describe(stale, settings=self._bus.settings)

    def audit_triggers(self, expected: list[str]) -> dict[str, Any]:
        """Heartbeat events without a function and cron ticks beat never sent."""
        return triggers_audit.audit(self._bus, expected)

    def network(self) -> dict[str, Any]:
        """A snapshot of the nodes, beat, gateway, Typesense, queues and runs."""
        return network.collect(self._bus)

    def store_network(self, snapshot: dict[str, Any]) -> None:
        network.store(self._bus, snapshot)

    def task_list_changed(self, value: str, hours: float) -> bool:
        """True (and remembered for `hours`) when the task list's hash differs from the last."""
        return task_triage.changed(self._bus.redis, value, hours)

    def claim_digest_request(self, date: str) -> bool:
        """True once per local date: the heartbeat requests that day's digest."""
        return cooldown.cooldown(self._bus.redis, keys.digest_claimed(date), 86400)

    def claim_digest(self, date: str, run_id: str) -> bool:
        """True for the one run that writes `date`'s digest."""
        return digest.claim(self._bus.redis, self._bus.settings, date, run_id)

    def release_digest(self, date: str, run_id: str) -> None:
        """A failed digest run gives its date back (only its own claim)."""
        digest.release(self._bus.redis, date, run_id)

    def digest_material(self, date: str) -> dict[str, Any]:
        """The day's memory log and runs, what the digest is written from."""
        return digest.material(self._bus, date)

    def with_llm(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """Background LLM work `fn(client, *args)` with the one LLM client; it waits for the
        next day (Defer) once the daily budget is spent."""
        from joelclaw.telemetry import spend

        spend.allow_background(self._bus, what)
        client: LLMClient | None = clients.llm(self._bus.settings)
        if client is None:
            raise NonRetriable(NO_LLM)
        try:
            return fn(client, *args)
        finally:
            client.close()

    def todoist(self) -> TodoistClient | None:
        """A Todoist client (its rate limits shared across processes); None without a token."""
        return clients.todoist(self._bus.settings, self._bus.redis)


class Snoozes:
    """`ctx.snooze`: the `s4h:<key>` buttons on notices (see `joelclaw.checks.snooze`)."""

    SECONDS = keys.SNOOZE_SECONDS

    def __init__(self, bus: Bus) -> None:
        self._bus = bus

    def button(self, key: str, label: str = snooze.LABEL) -> list[str]:
        """One inline button that snoozes `key` for 4 hours."""
        return snooze.button(key, label)

    def remember(self, key: str, text: str) -> bool:
        """Keep the text of the message carrying the button, so the press can edit it."""
        snooze.remember(self._bus.redis, key, text)
        return True

    def remembered(self, key: str) -> str | None:
        return snooze.remembered(self._bus.redis, key)

    def snooze(self, key: str) -> float:
        """Snooze `key` from now (a second press restarts it); returns when it ends."""
        return snooze.snooze(self._bus.redis, key)

    def snoozed(self, key: str) -> float:
        """Seconds left of the snooze of `key` (0: not snoozed)."""
        return snooze.snoozed(self._bus.redis, key)

    @staticmethod
    def parse(raw_data: str) -> str | None:
        """The key of `s4h:<key>` callback data; None for anything else."""
        return snooze.parse(raw_data)
