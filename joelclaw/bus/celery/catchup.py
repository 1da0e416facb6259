"""Catch-up after downtime: what a cron does about the fires that came due while nothing ran.

Beat remembers, per cron entry, the newest slot it has handled (`keys.CRON_LAST`, in Redis so a
lost schedule file or a second beat agree). Whenever it fires an entry, and once for every entry
when it starts, it plans the slots between that one and now:

- a slot at most `GRACE_SECONDS` old is **on time** and runs as usual (a beat restarting for a
  reload, a slow tick);
- older ones were **missed**, and the trigger's policy says what they get: `skip` (none),
  `latest` (one run for the most recent; none of its own when an on-time slot runs anyway), or
  `all` (each of the newest `cap`, oldest first).

A run that a catch-up started (or that ran with missed fires behind it) carries
`data.catch_up = {policy, missed, dropped, since, late_s}` on its tick event, and the last
catch-up of each entry is kept in `keys.CRON_CATCHUP` for `joelclaw schedule`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from croniter import croniter

GRACE_SECONDS = 60.0
COUNT_LIMIT = 10_000  # missed fires counted at most (a minutely cron asleep a week: 10 080)


@dataclass(frozen=True)
class Fire:
    """One slot to dispatch, with the catch-up it belongs to (None: an ordinary fire)."""

    slot: datetime
    catch_up: dict[str, Any] | None = None


@dataclass(frozen=True)
class Plan:
    fires: list[Fire] = field(default_factory=list)
    missed: int = 0  # slots more than the grace late
    dropped: int = 0  # missed slots that get no run of their own
    latest: datetime | None = None  # the newest due slot: handled from now on

    def summary(self, policy: str, now: datetime) -> dict[str, Any]:
        return {"at": now.timestamp(), "policy": policy, "missed": self.missed,
                "dropped": self.dropped,
                "dispatched": [f.slot.isoformat() for f in self.fires if f.catch_up]}


def plan(expression: str, timezone: str, last: datetime, now: datetime, policy: str,
         cap: int = 10, grace: float = GRACE_SECONDS) -> Plan:
    """The fires owed for the slots in (last, now], newest counted first (backwards from now,
    so even a week of a minutely cron costs at most COUNT_LIMIT steps)."""
    from zoneinfo import ZoneInfo

    keep = max(cap, 1) + 1
    newest: list[datetime] = []
    count = 0
    walker = croniter(expression, now.astimezone(ZoneInfo(timezone)) + timedelta(milliseconds=1))
    while count < COUNT_LIMIT:
        slot = walker.get_prev(datetime)
        if slot <= last:
            break
        count += 1
        if len(newest) < keep:
            newest.append(slot)
    if not count:
        return Plan()
    latest = newest[0]
    on_time = (now - latest).total_seconds() <= grace
    missed_slots = newest[1:] if on_time else newest  # newest first
    missed = count - 1 if on_time else count

    def info(slot: datetime, dropped: int) -> dict[str, Any]:
        return {"policy": policy, "missed": missed, "dropped": dropped,
                "since": last.isoformat(), "late_s": round((now - slot).total_seconds(), 1)}

    if not missed:
        return Plan([Fire(latest)], 0, 0, latest)
    if policy == "all":
        chosen = list(reversed(missed_slots[:cap]))
        dropped = missed - len(chosen)
        fires = [Fire(slot, info(slot, dropped)) for slot in chosen]
        if on_time:
            fires.append(Fire(latest, info(latest, dropped)))
        return Plan(fires, missed, dropped, latest)
    if policy == "latest" and not on_time:
        return Plan([Fire(latest, info(latest, missed - 1))], missed, missed - 1, latest)
    # skip, or latest with an on-time slot that runs anyway: the missed ones get nothing
    fires = [Fire(latest, info(latest, missed))] if on_time else []
    return Plan(fires, missed, missed, latest)
