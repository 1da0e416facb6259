"""The dead-man's switch: a tiny watcher that tells the owner on Telegram when the whole system
has gone silent, and again when it is back.

Everything else that alerts (the health check, stale runs, the gateway) runs on the system's own
workers through its own Redis, so it falls silent exactly when the system does. This watcher
needs neither: it reads the heartbeat itself and calls the Telegram Bot API directly, and it
keeps its few facts (last heartbeat, silent since, alerted) in a small file under
JOELCLAW_HOME, not in Redis.

What it watches (every source configured must beat):
- **redis** (when a Redis URL is set or recorded by `up`): beat's tick (`jc:beat:tick`) and the
  stamps of the nodes in the `worker` role (`jc:workers`), the same stamps `/health` reads.
  The system's heartbeat is the older of the two (both are needed for crons to run), fresh
  while at most `joelclaw.health.STALE_SECONDS` old. An unreachable Redis is silence.
- **http** (`JOELCLAW_DEADMAN_HEALTH_URL`, e.g. the dashboard's `/health`): a 200 is a beat,
  anything else (503, a refused connection, a timeout) is silence. This is the source for a
  second machine: the server judges freshness with its own clock, so no clock skew matters.

Silence is counted from the last heartbeat seen (or from when this watcher started watching, so
a watcher that was itself off never reports its own absence), and after
`JOELCLAW_DEADMAN_SILENCE_SECONDS` the owner gets one message; the next heartbeat brings one
recovery message. A message that cannot be delivered is tried again at the next check.
Run it as `python -m joelclaw.deadman` (what `joelclaw up` starts), `joelclaw watchdog run`, or
once a minute from cron with `joelclaw watchdog check`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import redis

from joelclaw import keys
from joelclaw.bus.records import presence
from joelclaw.config import Settings, load_settings, resolve_redis_url
from joelclaw.durations import humane
from joelclaw.errors import ConfigError
from joelclaw.health import STALE_SECONDS, WORKER, roles_of
from joelclaw.ownerfiles import owner_only, private_dir, write_secret

log = logging.getLogger("joelclaw.deadman")
STATE_FILE = "deadman.json"
PROBE_TIMEOUT_SECONDS = 5.0
Clock = Callable[[], float]


@dataclass(frozen=True)
class Observation:
    """One look at the system: beating or not, since when it last beat (None: cannot tell,
    e.g. Redis is unreachable), and why it is not beating."""

    beating: bool
    heartbeat_at: float | None
    reasons: tuple[str, ...] = ()


class Source(Protocol):
    name: str

    def observe(self, now: float) -> Observation: ...


class RedisHeartbeat:
    """Beat's tick and the live `worker` nodes' stamps, read directly from Redis."""

    name = "redis"

    def __init__(self, url: str, stale_seconds: float = STALE_SECONDS):
        self.url, self.stale = url, stale_seconds
        self.client = redis.Redis.from_url(url, socket_timeout=PROBE_TIMEOUT_SECONDS,
                                           socket_connect_timeout=PROBE_TIMEOUT_SECONDS)

    def observe(self, now: float) -> Observation:
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.get(keys.BEAT_TICK)
            pipe.hgetall(keys.WORKERS_SEEN)
            tick, stamps = pipe.execute()
        except redis.RedisError as exc:
            return Observation(False, None, (f"Redis unreachable ({type(exc).__name__})",))
        worker_at = _newest_worker_stamp(stamps)
        beat_at = _float(tick)
        reasons = []
        if beat_at is None or now - beat_at > self.stale:
            reasons.append("beat has not ticked" + _ago(beat_at, now))
        if worker_at is None or now - worker_at > self.stale:
            reasons.append("no worker is alive" + _ago(worker_at, now))
        known = [at for at in (beat_at, worker_at) if at is not None]
        heartbeat = min(known) if len(known) == 2 else None
        return Observation(not reasons, heartbeat, tuple(reasons))

    def close(self) -> None:
        self.client.close()


def _newest_worker_stamp(stamps: dict[bytes, bytes]) -> float | None:
    newest = None
    for host, raw in stamps.items():
        try:
            seen = presence.parse(raw)
        except ValueError:
            continue
        if WORKER in roles_of(host.decode(errors="replace"), seen.queues):
            newest = seen.at if newest is None else max(newest, seen.at)
    return newest


def _float(raw: bytes | None) -> float | None:
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def _ago(at: float | None, now: float) -> str:
    return "" if at is None else f" for {humane.duration(now - at)}"


class HttpHealth:
    """The web process's `/health`: 200 (ok or degraded) is a beat, anything else silence."""

    name = "http"

    def __init__(self, url: str, transport: httpx.BaseTransport | None = None):
        self.url = url
        self.client = httpx.Client(timeout=PROBE_TIMEOUT_SECONDS, transport=transport)

    def observe(self, now: float) -> Observation:
        try:
            response = self.client.get(self.url)
        except httpx.HTTPError as exc:
            return Observation(False, None, (f"{self.url} unreachable ({type(exc).__name__})",))
        if response.status_code == 200:
            return Observation(True, now)
        failing = ""
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            names = response.json().get("failing") or []
            failing = f": failing {', '.join(str(n) for n in names)}" if names else ""
        return Observation(False, None, (f"{self.url} answered {response.status_code}{failing}",))

    def close(self) -> None:
        self.client.close()


# ---- the state file -------------------------------------------------------------------------

@dataclass
class State:
    """What the watcher remembers between checks (and across its own restarts)."""

    watching_since: float | None = None  # the watcher's own continuity began here
    checked_at: float | None = None
    last_beat: float | None = None  # the last heartbeat seen
    silent_since: float | None = None  # None while beating
    alerted_at: float | None = None  # the silence message went out at; None: nothing owed
    reasons: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    alerts: int = 0  # messages sent, ever: silences and recoveries
    recoveries: int = 0
    last_error: str | None = None  # the last message that could not be delivered, and why

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self, path: Path) -> None:
        write_secret(path, json.dumps(asdict(self), indent=1))


def state_path(settings: Settings) -> Path:
    return settings.home_dir / STATE_FILE


# ---- the watcher ----------------------------------------------------------------------------

Notify = Callable[[str], None]


class Watcher:
    """One `check()` per period: observe every source, then message the owner once when a
    silence passes the limit and once when the heartbeat returns."""

    def __init__(self, sources: list[Source], notify: Notify, state_file: Path, *,
                 silence_seconds: float, interval_seconds: float = 60.0,
                 clock: Clock = time.time, zone: str | None = None):
        if not sources:
            raise ConfigError("the watchdog has nothing to watch: set JOELCLAW_REDIS_URL (or run "
                              "it beside `joelclaw up`) or JOELCLAW_DEADMAN_HEALTH_URL")
        self.sources, self.notify, self.path = sources, notify, state_file
        self.silence, self.clock, self.zone = silence_seconds, clock, zone
        # A gap between two checks longer than this means the watcher itself was off.
        self.off_after = max(silence_seconds, 3 * interval_seconds)

    def check(self) -> State:
        now = self.clock()
        state = State.load(self.path)
        if state.checked_at is None or now - state.checked_at > self.off_after:
            state.watching_since = now  # the watcher itself was off: it cannot vouch for then
        seen = [source.observe(now) for source in self.sources]
        state.sources = [source.name for source in self.sources]
        state.checked_at = now
        heartbeat = min(o.heartbeat_at or now for o in seen)
        # Back means a heartbeat written after the owner was told: stamps a restarted Redis
        # restores from its append-only file are from before the silence, not a recovery.
        if all(o.beating for o in seen) and heartbeat > (state.alerted_at or 0.0):
            self._beating(state, heartbeat, now)
        else:
            self._silent(state, seen, now)
        state.save(self.path)
        return state

    def _beating(self, state: State, heartbeat: float, now: float) -> None:
        if state.alerted_at is not None:
            silent = now - (state.silent_since or state.alerted_at)
            if self._send(state, f"✅ joelclaw is back: its heartbeat returned after "
                                 f"{humane.duration(silent)} of silence."):
                state.alerted_at = None
                state.recoveries += 1
        state.last_beat = heartbeat
        if state.alerted_at is None:
            state.silent_since, state.reasons = None, []

    def _silent(self, state: State, seen: list[Observation], now: float) -> None:
        state.reasons = [r for o in seen for r in o.reasons] or [
            "no heartbeat written since the owner was told"]
        known = [o.heartbeat_at for o in seen if o.heartbeat_at is not None]
        last = min(known) if len(known) == len(seen) else state.last_beat
        since = max(last or 0.0, state.watching_since or now)
        if state.silent_since is None or state.alerted_at is None:
            state.silent_since = since
        if state.alerted_at is None and now - since >= self.silence:
            text = (f"⚠️ joelclaw is silent: no heartbeat for {humane.duration(now - since)} "
                    f"(since {humane.clock(since, self.zone, now)}). "
                    + "; ".join(state.reasons) + ".")
            if self._send(state, text):
                state.alerted_at = now

    def _send(self, state: State, text: str) -> bool:
        try:
            self.notify(text)
        except Exception as exc:  # any failure: keep what is owed, try at the next check
            state.last_error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("watchdog could not message the owner: %s", state.last_error)
            return False
        state.alerts += 1
        state.last_error = None
        return True

    def run(self, interval: float, stop: threading.Event) -> None:
        """Check now and every `interval` seconds until `stop` is set; never dies of a check."""
        while True:
            try:
                state = self.check()
                log.debug("watchdog: %s", "silent" if state.silent_since else "beating")
            except Exception:
                log.exception("watchdog check failed")
            if stop.wait(interval):
                return

    def close(self) -> None:
        for source in self.sources:
            with contextlib.suppress(Exception):
                source.close()  # type: ignore[attr-defined]


# ---- wiring from settings -------------------------------------------------------------------

def telegram_notify(settings: Settings) -> Notify:
    """Send straight to the owner's chat through the Bot API (no gateway, no queue)."""
    telegram = settings.telegram
    if not telegram.token or telegram.owner_id is None:
        raise ConfigError("the watchdog messages the owner on Telegram: set "
                          "JOELCLAW_TELEGRAM_TOKEN and JOELCLAW_TELEGRAM_OWNER_ID")
    from joelclaw.integrations.telegram import TelegramClient

    client = TelegramClient(telegram.token, telegram.api_url,
                            min_interval_per_chat=0.0, max_attempts=2)
    owner = telegram.owner_id

    def notify(text: str) -> None:
        client.send_message(owner, text)

    return notify


def sources_for(settings: Settings) -> list[Source]:
    found: list[Source] = []
    with contextlib.suppress(ConfigError):  # none known here (a second machine): the URL says
        found.append(RedisHeartbeat(resolve_redis_url(settings)))
    if settings.deadman.health_url:
        found.append(HttpHealth(settings.deadman.health_url))
    return found


def watcher_for(settings: Settings, *, clock: Clock = time.time) -> Watcher:
    private_dir(settings.home_dir)
    return Watcher(sources_for(settings), telegram_notify(settings), state_path(settings),
                   silence_seconds=settings.deadman.silence_seconds,
                   interval_seconds=settings.deadman.interval_seconds, clock=clock,
                   zone=settings.timezone)


def run_forever(settings: Settings) -> int:
    """The watcher process: check every interval until SIGTERM/SIGINT; 2 on bad settings."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        watcher = watcher_for(settings)
    except ConfigError as exc:
        print(f"joelclaw watchdog: {exc}", file=sys.stderr)
        return 2
    names = ", ".join(s.name for s in watcher.sources)
    print(f"joelclaw watchdog: watching {names}; the owner is told after "
          f"{humane.duration(settings.deadman.silence_seconds)} of silence", flush=True)
    try:
        watcher.run(settings.deadman.interval_seconds, stop)
    finally:
        watcher.close()
    return 0


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    owner_only()
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"joelclaw watchdog: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    raise SystemExit(run_forever(settings))


def describe(state: State, settings: Settings, now: float | None = None) -> dict[str, Any]:
    """The state file for `joelclaw watchdog status`, with the settings that judge it."""
    now = time.time() if now is None else now
    return {**asdict(state), "state_file": str(state_path(settings)),
            "status": ("never ran" if state.checked_at is None
                       else "alerted" if state.alerted_at is not None
                       else "silent" if state.silent_since is not None else "beating"),
            "checked_ago_s": None if state.checked_at is None else round(now - state.checked_at, 1),
            "silence_seconds": settings.deadman.silence_seconds,
            "interval_seconds": settings.deadman.interval_seconds,
            "health_url": settings.deadman.health_url}


if __name__ == "__main__":
    main()
