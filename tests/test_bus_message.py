"""A run's broker message written by the dispatch script (joelclaw.bus.delivery.capture) is the
message Celery and kombu publish for it: same queue list, same headers, body and properties,
only the per-message ids differ. So Flower, `celery inspect` and `celery purge` see it as any
other (tests/test_purge.py purges such messages, tests/test_flower.py shows such runs)."""

from __future__ import annotations

import base64
import json
from typing import Any

from joelclaw.bus.delivery import capture
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime

PER_MESSAGE = {"id", "root_id", "delivery_tag", "correlation_id"}  # fresh for every publish


def _queued(rt: Runtime) -> list[tuple[bytes, dict[str, Any]]]:
    found = []
    for key in rt.redis.scan_iter(match="joelclaw*"):
        if rt.redis.type(key) == b"list":
            found += [(key, json.loads(raw)) for raw in rt.redis.lrange(key, 0, -1)]
    return found


def _comparable(message: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(message))
    for part in ("headers", "properties"):
        for name in PER_MESSAGE:
            out[part].pop(name, None)
    out["properties"]["delivery_info"] = dict(out["properties"]["delivery_info"])
    return out


def test_the_scripts_message_is_the_one_celery_publishes(runtime: Runtime) -> None:
    [sent] = runtime.send(Event(name="test/steps"))
    [(key, scripted)] = _queued(runtime)
    run_id = sent.runs[0]
    ready_at = json.loads(base64.b64decode(scripted["body"]))[1]["ready_at"]
    runtime.redis.delete(key)
    assert runtime.publish(run_id, ready_at=ready_at)  # what the sweeper and the waits publish
    [(key_again, published)] = _queued(runtime)
    assert key_again == key == b"joelclaw:5"  # the list of the explicit default priority
    assert scripted["headers"]["task"] == published["headers"]["task"]
    assert scripted["headers"]["task"].startswith("joelclaw.fn.")  # a function's own task
    assert scripted["headers"]["id"] != published["headers"]["id"]
    assert _comparable(scripted) == _comparable(published)


def test_later_runs_messages_are_still_the_ones_celery_publishes(runtime: Runtime) -> None:
    """After the first run of a function, its messages are filled in from the one Celery built
    (capture's template): each still equals Celery's own publish of that run, ids aside, and
    each has ids of its own."""
    runtime.send(Event(name="test/steps"))  # the first: Celery builds it, the template is kept
    for key, _ in _queued(runtime):
        runtime.redis.delete(key)
    # The template is kept though the app's task hooks listen to one task's publish signal
    # (the canvas callback's): each later message is filled in, not built by Celery again.
    templates = [t for t in capture._TEMPLATES.get(runtime.celery, {}).values()]
    assert len(templates) == 1 and templates[0] is not None
    sent = runtime.send([Event(name="test/steps", data={"n": n}) for n in range(3)])
    scripted = [message for _, message in _queued(runtime)]
    assert len(scripted) == 3
    assert len({m["headers"]["id"] for m in scripted}) == 3
    assert len({m["properties"]["delivery_tag"] for m in scripted}) == 3
    for message in scripted:
        assert message["headers"]["root_id"] == message["headers"]["id"] \
            == message["properties"]["correlation_id"]
    by_run = {json.loads(base64.b64decode(m["body"]))[0][0]: m for m in scripted}
    assert set(by_run) == {result.runs[0] for result in sent}
    for key, _ in _queued(runtime):
        runtime.redis.delete(key)
    for run_id, message in by_run.items():
        ready_at = json.loads(base64.b64decode(message["body"]))[1]["ready_at"]
        assert runtime.publish(run_id, ready_at=ready_at)
        [(_, published)] = _queued(runtime)
        assert published["headers"]["argsrepr"] == message["headers"]["argsrepr"]
        assert _comparable(message) == _comparable(published)
        for key, _ in _queued(runtime):
            runtime.redis.delete(key)
