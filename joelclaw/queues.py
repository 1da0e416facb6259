"""What waits in the broker: messages per Celery queue and priority, computed in one place for
`joelclaw queues`, `joelclaw status`, `/metrics` and the gateway's `/status`.

On Redis, kombu keeps one list per priority step, `<queue>` for step 0 and `<queue><sep><n>` for
step n, plus one `unacked` hash of delivered but unacknowledged messages. The step list, the
separator and a key prefix come from the Celery app's transport options, so this reads exactly
the keys the workers consume. Over AMQP the depth needs RabbitMQ's management API: reported as
not available rather than guessed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import redis

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

KOMBU_SEP = "\x06\x16"  # kombu's Redis default when the transport options set no `sep`
KOMBU_PRIORITY_STEPS = [0, 3, 6, 9]
AMQP_NOTE = ("queue depth over AMQP needs the RabbitMQ management API; use "
             "`rabbitmqctl list_queues name messages messages_unacknowledged`")


def queue_names(rt: Bus) -> list[str]:
    """Every queue the Celery app declares: the default, the gateway's, each function's."""
    return sorted(q.name for q in rt.celery.conf.task_queues)


def depths(rt: Bus) -> dict[str, Any]:
    """`{"transport", "depth_available", "queues": [{"name", "depth", "by_priority"}],
    "unacked", "checked_at"}`; over AMQP only the names, with a note."""
    broker = rt.settings.broker_url or rt.redis_url
    names = queue_names(rt)
    if broker.startswith("amqp"):
        return {"transport": "amqp", "depth_available": False,
                "queues": [{"name": n} for n in names], "note": AMQP_NOTE}
    options = dict(rt.celery.conf.broker_transport_options or {})
    if broker == rt.redis_url:
        return {"transport": "redis", "depth_available": True,
                **redis_depths(rt.redis, names, options)}
    client = redis.Redis.from_url(broker, socket_connect_timeout=3, socket_timeout=15)
    try:
        return {"transport": "redis", "depth_available": True,
                **redis_depths(client, names, options)}
    finally:
        client.close()


def redis_depths(client: redis.Redis, names: list[str], options: dict[str, Any]
                 ) -> dict[str, Any]:
    """One pipelined round trip: LLEN of every priority list of every queue, HLEN of unacked."""
    steps = sorted(set(options.get("priority_steps") or KOMBU_PRIORITY_STEPS))
    sep = options.get("sep", KOMBU_SEP)
    prefix = options.get("global_keyprefix", "")
    pipe = client.pipeline(transaction=False)
    for name in names:
        for step in steps:
            pipe.llen(prefix + (f"{name}{sep}{step}" if step else name))
    pipe.hlen(prefix + options.get("unacked_key", "unacked"))
    lengths = pipe.execute()
    unacked = int(lengths.pop())
    rows = []
    for index, name in enumerate(names):
        sizes = lengths[index * len(steps):(index + 1) * len(steps)]
        by_priority = {str(step): int(n) for step, n in zip(steps, sizes, strict=True)}
        rows.append({"name": name, "depth": sum(by_priority.values()),
                     "by_priority": by_priority})
    return {"queues": rows, "unacked": unacked, "checked_at": time.time()}


def totals(report: dict[str, Any]) -> dict[str, int]:
    """Queue name -> messages waiting (empty when the transport cannot tell)."""
    return {q["name"]: q["depth"] for q in report["queues"] if "depth" in q}
