"""`joelclaw reload`: load changed function code into the running system.

It imports the function modules from disk (broken code is refused, nothing restarts), records
the reload in Redis (`joelclaw.bus.records.codestate`), fails the live runs of functions the new
code no longer has, then waits until every live worker and beat run the new generation. Workers
finish their current step and restart; sleeping, waiting and queued runs continue on the new
code from their next step; `joelclaw up` also reloads the web app (gunicorn HUP).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import click

from joelclaw import keys
from joelclaw.cli.app import Session, command
from joelclaw.cli.output import Failure, Reply, action, key_values

if TYPE_CHECKING:
    from joelclaw.bus.records import codestate
    from joelclaw.runtime import Runtime

LIVE_NODE_SECONDS = 10.0  # a node stamped within this is running and must restart
BEAT_ALIVE_SECONDS = 60.0


@command("reload")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait until every live worker and beat run the new code.")
@click.option("--timeout", type=click.FloatRange(min=1), default=120.0, show_default=True,
              help="Seconds to wait for the workers and beat.")
def reload(session: Session, wait: bool, timeout: float) -> Reply:
    """Load changed function code: workers finish their current step and restart on it,
    beat rebuilds its crons, runs of removed functions fail with a clear error."""
    from joelclaw.bus.control import removed
    from joelclaw.bus.records import codestate

    rt = session.runtime()
    try:
        registry = rt.registry  # the code on disk, imported by this fresh process
    except Exception as exc:
        raise Failure(f"the function code does not load, nothing was reloaded: "
                      f"{type(exc).__name__}: {exc}", "RELOAD_INVALID_CODE",
                      "Fix the module named above (run `python -c 'import <module>'` to see the "
                      "traceback), then run `joelclaw reload` again.") from None
    functions = sorted(fn.id for fn in registry)
    before = codestate.read(rt.redis)
    gone = _removed(rt, before, set(functions))
    live_nodes = _live_nodes(rt, time.time())
    beat_alive = _beat_alive(rt)
    state = codestate.request(rt.redis, rt.code.version, functions, gone, "joelclaw reload")
    ended = removed.fail_removed(rt, gone, state.version)
    result: dict[str, Any] = {
        **state.to_dict(),
        "added": sorted(set(functions) - set(before.functions)) if before.functions else [],
        "removed": gone, "failed_runs": ended["failed"], "deferred_runs": ended["deferred"],
        "workers": {}, "beat": None, "waited": wait,
    }
    session.out.progress(f"reload {state.generation}: code version {state.version} "
                         f"({len(functions)} functions); {len(live_nodes)} worker(s) restart")
    if wait:
        _wait(session, rt, state.generation, live_nodes, beat_alive, timeout, result)
    next_actions = [action("functions", "the functions now loaded"),
                    action("status", "workers and beat after the restart")]
    if ended["failed"]:
        next_actions.insert(0, action("runs --status failed", "runs of removed functions"))
    return Reply(result, _render, next_actions)


def _removed(rt: Runtime, before: codestate.CodeState, now: set[str]) -> list[str]:
    """Functions the last reload had, or that have live runs, and the new code lacks."""
    from joelclaw.bus.control import removed

    candidates = (set(before.functions) | removed.functions_with_runs(rt.redis)) - now
    gone = set(before.functions) - now
    for function_id in candidates - gone:
        if rt.runs.list(function=function_id, status=removed.LIVE, limit=1):
            gone.add(function_id)
    return sorted(gone)


def _live_nodes(rt: Runtime, now: float) -> list[str]:
    from joelclaw.bus.records import presence

    return sorted(node for node, seen in presence.read_all(rt.redis).items()
                  if now - seen.at <= LIVE_NODE_SECONDS)


def _beat_alive(rt: Runtime) -> bool:
    tick = rt.redis.get(keys.BEAT_TICK)
    return tick is not None and time.time() - float(tick) <= BEAT_ALIVE_SECONDS


def beat_schedule(rt: Runtime) -> dict[str, Any] | None:
    raw = rt.redis.get(keys.BEAT_SCHEDULE)
    return json.loads(raw) if raw else None


def _wait(session: Session, rt: Runtime, generation: int, nodes: list[str], beat: bool,
          timeout: float, result: dict[str, Any]) -> None:
    from joelclaw.bus.records import presence

    deadline = time.monotonic() + timeout
    pending = set(nodes)
    beat_pending = beat
    while True:
        stamps = presence.read_all(rt.redis)
        for node in list(pending):
            seen = stamps.get(node)
            if seen is not None and (seen.generation or 0) >= generation:
                pending.discard(node)
                result["workers"][node] = seen.code_version
        schedule = beat_schedule(rt) if beat_pending else None
        if schedule is not None and int(schedule.get("generation") or 0) >= generation:
            beat_pending = False
            result["beat"] = {"code_version": schedule.get("code_version"),
                              "entries": sorted(schedule.get("entries") or {})}
        if not pending and not beat_pending:
            return
        if time.monotonic() >= deadline:
            waiting = sorted(pending) + (["beat"] if beat_pending else [])
            raise Failure(f"reload {generation} recorded, but {', '.join(waiting)} did not "
                          f"restart within {timeout:g}s", "RELOAD_TIMEOUT",
                          "A worker restarts after its running steps finish: check `joelclaw "
                          "logs worker` for a long step or an import error, and `joelclaw "
                          "status`.", result=result)
        time.sleep(0.2)


def _render(result: dict[str, Any]) -> str:
    workers = ", ".join(f"{node} ({version})" for node, version in result["workers"].items())
    fields = {
        "reload": f"generation {result['generation']}",
        "code": f"{result['previous_version'] or '-'} -> {result['version']}",
        "functions": len(result["functions"]),
        "added": ", ".join(result["added"]) or "-",
        "removed": ", ".join(result["removed"]) or "-",
        "failed runs": len(result["failed_runs"]),
        "workers": workers or ("none alive (the next one starts on this code)"
                               if result["waited"] else "not waited for"),
        "beat": (result["beat"] or {}).get("code_version") or "-",
    }
    return key_values(fields)
