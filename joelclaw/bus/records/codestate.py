"""Which code the system runs, and reloading it (`joelclaw reload`).

Redis holds the reload state (`keys.CODE`): a generation that every reload increments, the code
version it loaded and the function ids it found. Each worker and beat reads the generation when
it starts (`CodeWatch.begin`); when the stored one grows past it they restart on the new code:
an execution stops at its next step boundary (the run is queued again, durable), the worker
finishes what its pool runs and restarts, beat rebuilds its schedule. A counter, not the hash,
decides: a worker on another host whose files differ restarts once per reload, never in a loop.

Runs of a function that a reload removed are failed by `joelclaw.bus.control.removed`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import redis

from joelclaw import keys

CHECK_SECONDS = 1.0  # an execution looks at the generation at most this often


@dataclass(frozen=True)
class CodeState:
    """The reload state stored in Redis (generation 0: never reloaded)."""

    generation: int = 0
    version: str | None = None
    previous_version: str | None = None
    functions: tuple[str, ...] = ()
    removed: dict[str, str] = field(default_factory=dict)
    at: float | None = None
    by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"generation": self.generation, "version": self.version,
                "previous_version": self.previous_version, "functions": list(self.functions),
                "removed": dict(self.removed), "at": self.at, "by": self.by}


def read(client: redis.Redis) -> CodeState:
    raw = {k.decode(): v.decode() for k, v in client.hgetall(keys.CODE).items()}
    return CodeState(
        generation=int(raw.get("generation", 0)), version=raw.get("version") or None,
        previous_version=raw.get("previous_version") or None,
        functions=tuple(json.loads(raw.get("functions", "[]"))),
        removed=json.loads(raw.get("removed", "{}")),
        at=float(raw["at"]) if raw.get("at") else None, by=raw.get("by") or None)


def generation(client: redis.Redis) -> int:
    value = client.hget(keys.CODE, "generation")
    return int(value) if value is not None else 0


def request(client: redis.Redis, version: str, functions: Iterable[str], removed: Iterable[str],
            by: str) -> CodeState:
    """Record a reload to `version` with these functions (`removed`: ids that lost their code
    now); every worker and beat restarts when it sees the new generation."""
    functions = sorted(functions)
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(keys.CODE)
                before = read(pipe)
                gone = {f: v for f, v in before.removed.items() if f not in functions}
                gone.update({f: version for f in removed if f not in functions})
                state = CodeState(before.generation + 1, version, before.version,
                                  tuple(functions), gone, time.time(), by)
                pipe.multi()
                pipe.hset(keys.CODE, mapping={
                    "generation": state.generation, "version": version,
                    "previous_version": before.version or "",
                    "functions": json.dumps(functions), "removed": json.dumps(gone),
                    "at": state.at or 0, "by": by})
                pipe.execute()
                return state
            except redis.WatchError:
                continue


def baseline(client: redis.Redis, version: str, functions: Iterable[str]) -> None:
    """The code a worker started with, recorded if no reload recorded any yet, so the first
    reload can say which functions it adds and removes."""
    with client.pipeline(transaction=True) as pipe:
        pipe.hsetnx(keys.CODE, "version", version)
        pipe.hsetnx(keys.CODE, "functions", json.dumps(sorted(functions)))
        pipe.execute()


def ensure_after(client: redis.Redis, started: int, by: str) -> int:
    """Make the generation greater than `started` (one bump for many callers that started at
    the same one, e.g. every worker answering one `pool_restart` broadcast); the generation."""
    script = """
    local g = tonumber(redis.call('HGET', KEYS[1], 'generation') or '0')
    if g <= tonumber(ARGV[1]) then
      g = tonumber(ARGV[1]) + 1
      redis.call('HSET', KEYS[1], 'generation', g, 'at', ARGV[2], 'by', ARGV[3])
    end
    return g
    """
    return int(client.eval(script, 1, keys.CODE, started, time.time(), by))


class CodeWatch:
    """This process's code version (computed once) and whether a reload asked it to restart."""

    def __init__(self, client: Callable[[], redis.Redis], version: Callable[[], str]):
        self._client, self._version = client, version
        self._computed: str | None = None
        self.generation: int | None = None  # the one this process started with (begin)
        self._checked_at = float("-inf")
        self._pending = False

    @property
    def version(self) -> str:
        if self._computed is None:
            self._computed = self._version()
        return self._computed

    def begin(self) -> int:
        """Remember the current generation: later reloads are what this process watches."""
        _ = self.version
        self.generation = generation(self._client())
        self._checked_at, self._pending = time.monotonic(), False
        return self.generation

    def latest(self) -> int:
        return generation(self._client())

    def pending(self, now: float | None = None) -> bool:
        """True once a reload happened after `begin` (Redis asked at most every second; never
        in a process that did not `begin`, such as the CLI or a test's runtime)."""
        if self.generation is None or self._pending:
            return self._pending
        now = time.monotonic() if now is None else now
        if now - self._checked_at < CHECK_SECONDS:
            return False
        self._checked_at = now
        try:
            self._pending = self.latest() > self.generation
        except redis.RedisError:
            return False
        return self._pending

    def presence(self) -> dict[str, Any]:
        """What a worker's health stamp says about its code."""
        return {"code_version": self.version, "generation": self.generation}
