"""Plain Celery tasks and canvas (chain, group, chord) as one durable step.

The step stores a tree of the canvas (`spec`) in `jc:canvas:<base>` and publishes its first
tasks itself, each with a deterministic id (`<base>:<path>`, the base derived from the run and
the step) and two links to joelclaw's own small tasks: `joelclaw.canvas.done` (the task's
result) and `joelclaw.canvas.failed` (its final failure, after its own Celery retries). Those
callbacks advance the tree: the next task of a chain gets the previous result, a group's
members are counted here (never by a chord's error callback or a result backend, neither of
which is reliable or present), a chord's body starts once every header member is in. When the
root finishes, its result is stored as the step's memo record first, then the run is woken
(`RunStore.resolve_invoke`: a claim taken once, in one script), so a result that arrives while
the run executes elsewhere is found by its next execution.

Every write is idempotent: a node's result is stored once (HSETNX), a node is published at most
once (its `p:<path>` claim), and the step is resolved once (its claim in the run's pending hash).
A duplicate callback (a redelivered task) therefore changes nothing.
"""

from __future__ import annotations

import json
import time
import traceback as tb
from typing import TYPE_CHECKING, Any

from celery.canvas import Signature, _chain, chord, group

from joelclaw import keys
from joelclaw.bus.delivery.publish import broker_priority, publish_now
from joelclaw.bus.records.memo import Done, Failed
from joelclaw.errors import JoelclawError, NonRetriable

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

DONE_TASK = "joelclaw.canvas.done"
FAILED_TASK = "joelclaw.canvas.failed"
ROOT = "r"


SENT = b"sent"
CLAIM_GRACE = 10.0  # seconds after which an unconfirmed publish claim is published again


class Unconfirmed(JoelclawError):
    """A node's publish claim is young and unconfirmed: someone may be publishing it now.
    `wait` is how long until the claim may be declared dead and published again."""

    def __init__(self, path: str, wait: float = CLAIM_GRACE):
        super().__init__(path)
        self.wait = wait


class RemoteTaskError(JoelclawError):
    """The traceback of a plain task's failure, chained under the step's StepError."""



def base_id(run_id: str, step_key: str) -> str:
    return f"{keys.CANVAS_TASK_PREFIX}{run_id}-{step_key}"


def task_id(base: str, path: str) -> str:
    return f"{base}:{path}"


# ---- the tree ---------------------------------------------------------------------------------

def spec_of(obj: Any, path: str = ROOT) -> dict[str, Any]:
    """A JSON tree of a signature, chain, group or chord (NonRetriable if it is none)."""
    if isinstance(obj, chord):
        header = list(obj.tasks.tasks if isinstance(obj.tasks, group) else obj.tasks)
        return {"t": "chord", "path": path,
                "items": [spec_of(s, f"{path}.{i}") for i, s in enumerate(header)],
                "body": spec_of(obj.body, f"{path}.b")}
    if isinstance(obj, group):
        return {"t": "group", "path": path,
                "items": [spec_of(s, f"{path}.{i}") for i, s in enumerate(list(obj.tasks))]}
    if isinstance(obj, _chain):
        tasks = list(obj.tasks)
        if not tasks:
            raise NonRetriable("step.canvas: an empty chain")
        return {"t": "chain", "path": path,
                "items": [spec_of(s, f"{path}.{i}") for i, s in enumerate(tasks)]}
    if isinstance(obj, Signature):
        sig = dict(obj)
        options = {k: v for k, v in (sig.get("options") or {}).items()
                   if k not in {"task_id", "link", "link_error", "chord", "group_id"}}
        node = {"t": "task", "path": path, "task": sig["task"], "args": list(sig.get("args") or ()),
                "kwargs": dict(sig.get("kwargs") or {}), "options": options,
                "immutable": bool(sig.get("immutable"))}
        try:
            json.dumps(node)
        except (TypeError, ValueError) as exc:
            raise NonRetriable(f"task {sig['task']}: arguments are not JSON: {exc}") from None
        return node
    raise NonRetriable(f"step.canvas takes a signature, chain, group or chord, not "
                       f"{type(obj).__name__}")


def leaves(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every task node of the tree, in order."""
    if node["t"] == "task":
        return [node]
    found = [leaf for item in node["items"] for leaf in leaves(item)]
    return found + (leaves(node["body"]) if node["t"] == "chord" else [])


def _index(node: dict[str, Any], parent: dict[str, Any] | None,
           out: dict[str, tuple[dict[str, Any], dict[str, Any] | None]]) -> None:
    out[node["path"]] = (node, parent)
    for item in node.get("items", ()):
        _index(item, node, out)
    if node["t"] == "chord":
        _index(node["body"], node, out)


class State:
    """One canvas as stored: its tree, its run and step, looked up by path."""

    def __init__(self, base: str, run_id: str, step: str, tree: dict[str, Any]):
        self.base, self.run_id, self.step, self.tree = base, run_id, step, tree
        self.nodes: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}
        _index(self.tree, None, self.nodes)


def load(bus: Bus, base: str) -> State | None:
    raw = bus.redis.hgetall(keys.canvas(base))
    if not raw or b"spec" not in raw:
        return None
    return State(base, raw[b"run"].decode(), raw[b"step"].decode(), json.loads(raw[b"spec"]))


def launched(bus: Bus, base: str) -> bool:
    return bool(bus.redis.hexists(keys.canvas(base), "launched"))


def mark_launched(bus: Bus, base: str) -> None:
    bus.redis.hset(keys.canvas(base), "launched", "1")


def create(pipe: Any, base: str, run_id: str, step_key: str, tree: dict[str, Any]) -> None:
    """Store the tree (in the caller's transaction, with the step's pending record)."""
    key = keys.canvas(base)
    pipe.hset(key, mapping={"spec": json.dumps(tree), "run": run_id, "step": step_key})
    pipe.expire(key, keys.CANVAS_TTL)


# ---- publishing -------------------------------------------------------------------------------

def launch(bus: Bus, state: State, path: str = ROOT, prepend: list[Any] | None = None) -> None:
    """Start the node at `path`: a task is published, a chain starts its first item, a group
    and a chord's header start every member."""
    node, _ = state.nodes[path]
    kind = node["t"]
    if kind == "task":
        _publish(bus, state, node, prepend or [])
    elif kind == "chain":
        launch(bus, state, node["items"][0]["path"], prepend)
    else:
        if not node["items"]:  # an empty group is done at once; an empty header runs the body
            if kind == "group":
                _finished(bus, state, path, [])
            else:
                launch(bus, state, node["body"]["path"], [[]])
            return
        for item in node["items"]:
            launch(bus, state, item["path"], prepend)


def _publish(bus: Bus, state: State, node: dict[str, Any], prepend: list[Any]) -> None:
    """Publish a task node once: its `p:<path>` claim holds the claim time, then "sent".

    A claim never confirmed (its publisher died between the claim and the broker) is published
    again, with the same task id, once it is CLAIM_GRACE old; a younger one raises Unconfirmed
    (the caller comes back later: a callback retries, a step's safety wake-up replays it).
    """
    path, key = node["path"], keys.canvas(state.base)
    claim, now = f"p:{path}", time.time()
    tid = task_id(state.base, path)
    info = keys.task_info(tid)
    pipe = bus.redis.pipeline(transaction=False)
    pipe.hexists(keys.run_pending(state.run_id), state.step)
    pipe.hsetnx(key, claim, now)
    pipe.hget(key, claim)
    pipe.hsetnx(info, "published_at", now)  # the first publish: queue delay counts from it
    pipe.hset(info, "name", node["task"])
    pipe.expire(info, keys.CANVAS_TTL)
    pending, claimed, held = pipe.execute()[:3]
    if not pending:
        return  # the step is resolved already (failed, timed out): start nothing more
    if not claimed:
        if held is None or held == SENT:
            return  # published before: once per node
        if now - float(held) < CLAIM_GRACE:
            raise Unconfirmed(path, CLAIM_GRACE - (now - float(held)))
        bus.redis.hset(key, claim, now)
    celery, settings = bus.celery, bus.settings
    callback = {"base": state.base, "path": path}
    priority = broker_priority(bus)
    options = dict(node["options"])
    options.setdefault("priority", priority)
    sig = celery.signature(node["task"], args=node["args"], kwargs=node["kwargs"],
                           options=options, immutable=node["immutable"])
    link = celery.signature(DONE_TASK, kwargs=callback, queue=settings.worker.canvas_queue,
                            priority=priority)
    link_error = celery.signature(FAILED_TASK, kwargs=callback, queue=settings.worker.canvas_queue,
                                  priority=priority)
    sig.clone(args=tuple(prepend)).apply_async(task_id=tid, link=link, link_error=link_error)
    bus.redis.hset(key, claim, SENT)


# ---- callbacks: a node finished ---------------------------------------------------------------

def node_done(bus: Bus, base: str, path: str, value: Any) -> None:
    """A task reported its result (the `link` callback); advance the tree."""
    state = load(bus, base)
    if state is not None and path in state.nodes:
        _finished(bus, state, path, value)


def node_failed(bus: Bus, base: str, path: str, error: dict[str, Any]) -> None:
    """A task failed for good (after its own retries): the whole step fails with its error."""
    state = load(bus, base)
    if state is None:
        return
    node, _ = state.nodes.get(path, ({"task": "?"}, None))
    error = {**error, "task": node.get("task"), "task_id": task_id(base, path)}
    if bus.redis.hsetnx(keys.canvas(base), "error", json.dumps(error)):
        _resolve(bus, state, Failed(error["name"], error["message"]))


def time_out(bus: Bus, base: str, run_id: str, step_key: str, message: str) -> None:
    """No answer in time: the step fails (unless an answer won the claim just now)."""
    error = {"name": "TaskTimeout", "message": message, "stack": ""}
    if bus.runs.resolve_invoke(run_id, step_key, Failed(error["name"], message), wake=False):
        bus.redis.hsetnx(keys.canvas(base), "error", json.dumps(error))


def _finished(bus: Bus, state: State, path: str, value: Any) -> None:
    parent = state.nodes[path][1]
    counter = ""
    if parent is not None and (parent["t"] == "group" or (
            parent["t"] == "chord" and path != parent["body"]["path"])):
        counter = f"n:{parent['path']}"
    encoded = json.dumps({"v": value})
    _fresh, count = bus.scripts.canvas_part(keys=[keys.canvas(state.base)],
                                            args=[f"r:{path}", encoded, counter])
    if parent is None:
        _resolve(bus, state, Done(value))
        return
    kind = parent["t"]
    if kind == "chain":
        index = [item["path"] for item in parent["items"]].index(path)
        if index + 1 < len(parent["items"]):
            launch(bus, state, parent["items"][index + 1]["path"], [value])
        else:
            _finished(bus, state, parent["path"], value)
    elif counter:
        if int(count) >= len(parent["items"]):
            values = _results(bus, state, parent["items"])
            if kind == "group":
                _finished(bus, state, parent["path"], values)
            else:
                launch(bus, state, parent["body"]["path"], [values])
    else:  # a chord's body: its result is the chord's
        _finished(bus, state, parent["path"], value)


def _results(bus: Bus, state: State, items: list[dict[str, Any]]) -> list[Any]:
    raw = bus.redis.hmget(keys.canvas(state.base), [f"r:{item['path']}" for item in items])
    return [json.loads(r)["v"] for r in raw]


def _resolve(bus: Bus, state: State, record: Done | Failed) -> None:
    """Store the step's result first, then wake the run (exactly once)."""
    if bus.runs.resolve_invoke(state.run_id, state.step, record, wake=True):
        publish_now(bus, state.run_id)


# ---- what the trace shows ---------------------------------------------------------------------

def error_of(bus: Bus, base: str) -> dict[str, Any] | None:
    raw = bus.redis.hget(keys.canvas(base), "error")
    return json.loads(raw) if raw else None


def tasks_of(bus: Bus, base: str) -> list[dict[str, Any]]:
    """Per task of the canvas: name, id, queue delay vs execution, retries, deliveries."""
    state = load(bus, base)
    if state is None:
        return []
    ids = [task_id(base, leaf["path"]) for leaf in leaves(state.tree)]
    pipe = bus.redis.pipeline(transaction=False)
    for tid in ids:
        pipe.hgetall(keys.task_info(tid))
    out = []
    for tid, raw in zip(ids, pipe.execute(), strict=True):
        if not raw:
            continue
        info = {k.decode(): v.decode() for k, v in raw.items()}
        out.append(_timing(tid, info))
    return out


def _timing(tid: str, info: dict[str, str]) -> dict[str, Any]:
    def number(name: str) -> float | None:
        return float(info[name]) if name in info else None

    published, started = number("published_at"), number("started_at")
    last, ended = number("last_started_at"), number("ended_at")
    row: dict[str, Any] = {"name": info.get("name"), "id": tid,
                           "retries": int(info.get("retries", 0)),
                           "deliveries": int(info.get("deliveries", 0)),
                           "worker": info.get("worker")}
    if published is not None and started is not None:
        row["queue_delay_ms"] = round(max(0.0, started - published) * 1000, 1)
    if last is not None and ended is not None:
        row["execution_ms"] = round(max(0.0, ended - last) * 1000, 1)
    return row


def error_from_exception(exc: BaseException | None, traceback: Any = None) -> dict[str, Any]:
    """The step error of a task's exception: its type, message and traceback."""
    if exc is None:
        return {"name": "TaskFailed", "message": "the task failed", "stack": ""}
    if isinstance(traceback, str):
        stack = traceback
    else:
        stack = "".join(tb.format_exception(type(exc), exc, exc.__traceback__))
    return {"name": type(exc).__name__, "message": str(exc), "stack": stack[-8000:]}
