"""`check/calendar-today` (reference #26): today's events from an ICS feed
(`JOELCLAW_CALENDAR_ICS_URL`) or a command printing ICS (`JOELCLAW_CALENDAR_COMMAND`, e.g. an
exporter CLI); neither set, the check skips. Events are read from VEVENT blocks (SUMMARY,
DTSTART, DTEND, LOCATION; all-day dates and UTC/local/TZID times), annotated with the open task
that names them, and the owner hears about the day at most once per
`JOELCLAW_CALENDAR_COOLDOWN_HOURS`. The feed is read through the HTTP client (`ApiClient`, a
`read` call) and the command through `commands.run`, so both are recorded and a shadow run
replays them instead of calling out."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from joelclaw.checks import commands, tracked
from joelclaw.errors import JoelclawError
from joelclaw.integrations.errors import HTTPStatusError, IntegrationError, NotSent
from joelclaw.integrations.http import ApiClient, RetryPolicy, make_client

if TYPE_CHECKING:
    from joelclaw.config import Settings

SERVICE = "calendar"


class CalendarError(JoelclawError):
    pass


def fetch(settings: Settings) -> str | None:
    """The ICS text, or None when no calendar is configured."""
    if settings.checks.calendar_ics_url:
        return _feed(settings.checks.calendar_ics_url, settings.checks.command_timeout_seconds)
    if settings.checks.calendar_command:
        try:
            done = commands.run(settings.checks.calendar_command,
                                timeout=settings.checks.command_timeout_seconds, effect="read")
        except commands.CommandError as exc:
            raise CalendarError(str(exc)) from None
        if not done.ok:
            raise CalendarError(f"calendar command exited {done.code}: {done.stderr[:300]}")
        return done.stdout
    return None


def _feed(url: str, timeout: float) -> str:
    """GET the feed (redirects followed). A private feed's URL is its secret: it is scrubbed
    from the recording and from every message."""
    client = make_client("", timeout=timeout)
    client.follow_redirects = True
    api = ApiClient(client, service=SERVICE, secrets=(url,), policy=RetryPolicy(max_attempts=1))
    try:
        response = api.request("GET", url, effect="read")
    except NotSent:
        raise
    except HTTPStatusError as exc:
        raise CalendarError(f"calendar feed answered HTTP {exc.status}") from None
    except IntegrationError as exc:
        raise CalendarError(f"calendar feed unreachable: {api.scrub(str(exc))}") from None
    finally:
        api.close()
    return response.text


def _unfold(text: str) -> list[str]:
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw:
            lines.append(raw)
    return lines


def _when(name_params: str, value: str, tz: ZoneInfo) -> datetime | date | None:
    params = dict(p.split("=", 1) for p in name_params.split(";")[1:] if "=" in p)
    value = value.strip()
    try:
        if params.get("VALUE") == "DATE" or len(value) == 8:
            return datetime.strptime(value, "%Y%m%d").date()
        if value.endswith("Z"):
            return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=ZoneInfo("UTC")).astimezone(tz)
        zone = tz
        if "TZID" in params:
            try:
                zone = ZoneInfo(params["TZID"])
            except (ZoneInfoNotFoundError, ValueError):
                zone = tz
        return datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=zone).astimezone(tz)
    except ValueError:
        return None


def events_on(ics: str, day: date, tz: str) -> list[dict[str, Any]]:
    """`[{summary, start, end, all_day, location}]` of the events starting on `day`, by time."""
    zone = ZoneInfo(tz)
    found: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for line in _unfold(ics):
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT" and current is not None:
            start = current.get("start")
            start_day = start.date() if isinstance(start, datetime) else start
            if start_day == day:
                found.append(current)
            current = None
        elif current is not None and ":" in line:
            head, _, value = line.partition(":")
            name = head.split(";", 1)[0].upper()
            if name == "SUMMARY":
                current["summary"] = value.replace("\\,", ",").replace("\\n", " ").strip()
            elif name == "LOCATION":
                current["location"] = value.replace("\\,", ",").strip()
            elif name in ("DTSTART", "DTEND"):
                current["start" if name == "DTSTART" else "end"] = _when(head, value, zone)
    out = []
    for event in found:
        start, end = event.get("start"), event.get("end")
        all_day = not isinstance(start, datetime)
        out.append({"summary": event.get("summary") or "(untitled)",
                    "start": start.strftime("%H:%M") if isinstance(start, datetime) else "all day",
                    "end": end.strftime("%H:%M") if isinstance(end, datetime) else None,
                    "all_day": all_day, "location": event.get("location")})
    return sorted(out, key=lambda e: (not e["all_day"], e["start"]))


def annotate(events: list[dict[str, Any]], tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for event in events:
        task = tracked.matching(tasks, event["summary"])
        out.append({**event, "task": task["content"] if task else None})
    return out


def describe(events: list[dict[str, Any]], day: date) -> str:
    lines = [f"📅 **Today, {day.isoformat()}**: {len(events)} event(s)", ""]
    for e in events:
        when = e["start"] + (f"-{e['end']}" if e.get("end") else "")
        where = f" @ {e['location']}" if e.get("location") else ""
        task = f" (task: {e['task']})" if e.get("task") else ""
        lines.append(f"- {when} {e['summary']}{where}{task}")
    return "\n".join(lines)
