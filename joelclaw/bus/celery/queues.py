"""What waits in the broker: messages per Celery queue and priority, computed in one place for
`joelclaw queues`, `joelclaw status`, `/metrics` and the gateway's `/status`.

On Redis, kombu keeps one list per priority step, `<queue>` for step 0 and `<queue><sep><n>` for
step n, plus one `unacked` hash of delivered but unacknowledged messages. The step list, the
separator and a key prefix come from the transport options the Celery app is built with
(`connection.transport_options`, read without building the app: `joelclaw queues` and
`status` load no Celery), so this reads exactly the keys the workers consume. Over AMQP the
depth needs RabbitMQ's management API: reported as not available rather than guessed.

A run's message is not in `unacked` while a worker holds it (joelclaw.bus.celery.broker keeps
it in the worker's memory), so the report adds `executing`: the executions whose lease has not
lapsed (runs and parallel members), on any transport, which is where those messages are.
"""

from __future__ import annotations

import base64
import json
import time
from typing import TYPE_CHECKING, Any

from joelclaw import keys, redisconn
from joelclaw.bus.celery.connection import transport_options
from joelclaw.bus.delivery.publish import target_for
from joelclaw.bus.functions.registry import TASK_PREFIX

if TYPE_CHECKING:
    import redis

    from joelclaw.bus.ports import Bus

KOMBU_SEP = "\x06\x16"  # kombu's Redis default when the transport options set no `sep`
KOMBU_PRIORITY_STEPS = [0, 3, 6, 9]
AMQP_NOTE = ("queue depth over AMQP needs the RabbitMQ management API; use "
             "`rabbitmqctl list_queues name messages messages_unacknowledged`")


def queue_names(rt: Bus) -> list[str]:
    """Every queue the Celery app declares (`make_celery` declares these): the default, the
    gateway's, the canvas steps', each function's."""
    return sorted({keys.FUNCTION_QUEUE, keys.GATEWAY_QUEUE, rt.settings.worker.canvas_queue,
                   *(fn.queue for fn in rt.registry)})


def broker_options(rt: Bus) -> dict[str, Any]:
    """The Celery app's `broker_transport_options`, without building the app (a Sentinel URL
    adds its master's name: only a URL other than redis:// or unix:// adds anything)."""
    plain = rt.broker_url.startswith(("redis://", "unix://"))
    extra = {} if plain else redisconn.broker(rt.broker_url, rt.settings)[1]
    return {**transport_options(rt.settings), **extra}


def depths(rt: Bus) -> dict[str, Any]:
    """`{"transport", "depth_available", "queues": [{"name", "depth", "by_priority"}],
    "unacked", "executing", "checked_at"}`; over AMQP only the names and `executing`, with a
    note."""
    broker = rt.broker_url
    names = queue_names(rt)
    executing = int(rt.redis.zcount(keys.LEASES, time.time(), "+inf"))  # not lapsed
    if broker.startswith("amqp"):
        return {"transport": "amqp", "depth_available": False, "executing": executing,
                "queues": [{"name": n} for n in names], "note": AMQP_NOTE}
    options = broker_options(rt)
    if broker == rt.redis_url:
        return {"transport": "redis", "depth_available": True, "executing": executing,
                **redis_depths(rt.redis, names, options)}
    client = redisconn.connect(broker, rt.settings, socket_connect_timeout=3, socket_timeout=15)
    try:
        return {"transport": "redis", "depth_available": True, "executing": executing,
                **redis_depths(client, names, options)}
    finally:
        client.close()


def redis_depths(client: redis.Redis, names: list[str], options: dict[str, Any]
                 ) -> dict[str, Any]:
    """One pipelined round trip: LLEN of every priority list of every queue, HLEN of unacked."""
    steps = _priority_steps(options)
    pipe = client.pipeline(transaction=False)
    for key in _list_keys(names, options):
        pipe.llen(key)
    pipe.hlen(_unacked_key(options))
    lengths = pipe.execute()
    unacked = int(lengths.pop())
    rows = []
    for index, name in enumerate(names):
        sizes = lengths[index * len(steps):(index + 1) * len(steps)]
        by_priority = {str(step): int(n) for step, n in zip(steps, sizes, strict=True)}
        rows.append({"name": name, "depth": sum(by_priority.values()),
                     "by_priority": by_priority})
    return {"queues": rows, "unacked": unacked, "checked_at": time.time()}


def waiting_targets(rt: Bus, names: list[str], *, held_within: float | None = None
                    ) -> set[str] | None:
    """The run targets whose messages are in these queues or held unacknowledged by a worker;
    None when the broker cannot be read that way (AMQP). `held_within`: a message held longer
    than that many seconds is left out. A worker starts what it holds at once (acks late,
    prefetch 1): one held that long by a run that has not begun is held by a worker that died,
    and stays in `unacked` until the visibility timeout (hours) would give it back. A worker of
    this code holds a run's message in its memory, not in `unacked` (joelclaw.bus.celery.broker):
    what is read there is a worker's of older code (during an upgrade) or not a run's."""
    broker = rt.broker_url
    if broker.startswith("amqp"):
        return None
    options = broker_options(rt)
    if broker == rt.redis_url:
        return _redis_targets(rt.redis, names, options, held_within)
    client = redisconn.connect(broker, rt.settings, socket_connect_timeout=3, socket_timeout=15)
    try:
        return _redis_targets(client, names, options, held_within)
    finally:
        client.close()


def _redis_targets(client: redis.Redis, names: list[str], options: dict[str, Any],
                   held_within: float | None = None) -> set[str]:
    return {target for message in messages(client, names, options, held_within)
            if (target := _target_of(message))}


def messages(client: redis.Redis, names: list[str], options: dict[str, Any],
             held_within: float | None = None) -> list[bytes]:
    """Every message (kombu's JSON) waiting in these queues or held unacknowledged by a worker,
    read in one round trip: the broker's contents as `celery purge` would see them. With
    `held_within`, those held for longer than that many seconds are left out."""
    pipe = client.pipeline(transaction=False)
    for key in _list_keys(names, options):
        pipe.lrange(key, 0, -1)
    if held_within is not None:  # tag -> when the worker took it (its clock, as kombu writes)
        pipe.zrange(_unacked_index_key(options), 0, -1, withscores=True)
    pipe.hgetall(_unacked_key(options))
    *lists, unacked = pipe.execute()
    taken: dict[bytes, float] = {}
    if held_within is not None:
        taken, oldest = dict(lists.pop()), time.time() - held_within
    found = [item for items in lists for item in items]
    for tag, raw in unacked.items():
        if held_within is not None and taken.get(tag, oldest) < oldest:
            continue
        try:
            held = json.loads(raw)
        except ValueError:
            continue
        if isinstance(held, list) and held:
            found.append(json.dumps(held[0]).encode())
    return found


def _target_of(raw: bytes | str) -> str | None:
    """The run target a function task's message carries (`args[0]`, `kwargs.member`)."""
    try:
        message = json.loads(raw)
        if not str(message.get("headers", {}).get("task", "")).startswith(TASK_PREFIX):
            return None
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args, kwargs = json.loads(body)[:2]
        run_id = args[0]
        member = (kwargs or {}).get("member")
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None
    return target_for(run_id, tuple(member) if member else None)


def totals(report: dict[str, Any]) -> dict[str, int]:
    """Queue name -> messages waiting (empty when the transport cannot tell)."""
    return {q["name"]: q["depth"] for q in report["queues"] if "depth" in q}


def _priority_steps(options: dict[str, Any]) -> list[int]:
    return sorted(set(options.get("priority_steps") or KOMBU_PRIORITY_STEPS))


def _list_keys(names: list[str], options: dict[str, Any]) -> list[str]:
    """kombu's Redis list for each priority step of each queue, in queue then step order."""
    sep, prefix = options.get("sep", KOMBU_SEP), options.get("global_keyprefix", "")
    return [prefix + (f"{name}{sep}{step}" if step else name)
            for name in names for step in _priority_steps(options)]


def _unacked_key(options: dict[str, Any]) -> str:
    return options.get("global_keyprefix", "") + options.get("unacked_key", "unacked")


def _unacked_index_key(options: dict[str, Any]) -> str:
    return options.get("global_keyprefix", "") + options.get("unacked_index_key",
                                                             "unacked_index")
