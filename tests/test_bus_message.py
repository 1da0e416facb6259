"""A run's broker message written by the dispatch script (joelclaw.bus.delivery.capture) is the
message Celery and kombu publish for it: same queue list, same headers, body and properties,
only the per-message ids differ. So Flower, `celery inspect` and `celery purge` see it as any
other (tests/test_purge.py purges such messages, tests/test_flower.py shows such runs)."""

from __future__ import annotations

import base64
import json
from typing import Any

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
