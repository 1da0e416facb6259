"""Plain Celery tasks and canvas as durable steps, on real workers: a function worker (queue
`joelclaw`: functions and joelclaw's canvas callbacks) and a plain worker (queue `plain`: the
existing tasks of tests.canvas_tasks). No result backend anywhere."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from joelclaw import keys
from joelclaw.bus.delivery import leases
from joelclaw.bus.execution import canvas
from joelclaw.bus.flow import explain_run
from joelclaw.bus.records import TERMINAL, Done, Run
from joelclaw.config import Settings
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.conftest import TEST_MODULES, make_settings
from tests.support import REPO, WorkerProcess, env_for, ready_together, wait_for

pytestmark = pytest.mark.timeout(150)
MODULES = [*TEST_MODULES, "tests.canvas_functions"]
TASK_EVENTS = ["canvas.add", "canvas.bo*", "canvas.echo"]


@pytest.fixture
def settings(tmp_path, redis_url) -> Settings:
    return make_settings(tmp_path / "home", redis_url, function_modules=MODULES,
                         task_events=TASK_EVENTS)


@pytest.fixture
def workers(worker_factory) -> dict[str, WorkerProcess]:
    fn, plain = ready_together(worker_factory(queues="joelclaw", wait=False),
                               worker_factory(queues="plain", wait=False))
    return {"fn": fn, "plain": plain}


def start(rt: Runtime, name: str, **data: object) -> str:
    return rt.send(Event(name=name, data=data))[0].runs[0]


def finished(rt: Runtime, run_id: str, timeout: float = 40) -> Run:
    return wait_for(lambda: (r := rt.runs.get(run_id)) and r.status in TERMINAL and r,
                    timeout, message=f"run {run_id} to finish")


def executions(rt: Runtime, name: str, key: str) -> int:
    return int(rt.redis.get(f"jc:test:exec:{name}:{key}") or 0)


def after_count(rt: Runtime, run_id: str) -> int:
    return int(rt.redis.get(f"jc:test:count:{run_id}:after") or 0)


def test_a_chain_of_two_plain_tasks_is_one_step(runtime, workers):
    run = finished(runtime, start(runtime, "canvas/chain", x=1))
    assert run.status == "completed", run.error
    assert run.output == {"result": 6, "after": 1}  # (1 + 2) * 2
    step = runtime.runs.step(run.id, "chain")
    assert step.type == "canvas" and step.status == "completed"
    assert [t["name"] for t in step.tasks] == ["canvas.add", "canvas.double"]
    base = canvas.base_id(run.id, "chain")
    assert [t["id"] for t in step.tasks] == [f"{base}:r.0", f"{base}:r.1"]
    assert all("queue_delay_ms" in t and "execution_ms" in t for t in step.tasks)
    # the plain tasks ran on the plain worker, under their own names
    assert "canvas.add[" in workers["plain"].output()
    assert "canvas.add[" not in workers["fn"].output()


@pytest.mark.parametrize("fail", [False, True], ids=["succeeded", "failed"])
def test_a_task_step_has_its_tasks_time_though_the_worker_records_it_late(runtime, workers,
                                                                          fail):
    """Celery sends a task's callback before its success/failure and postrun signals, so the
    run the callback wakes can read the task's record first: here those signals wait until the
    run ended, and its trace must still show the task's execution time."""
    run_id = start(runtime, "canvas/task", mode="held-end", value=5, fail=fail)
    try:
        run = finished(runtime, run_id)
    finally:
        runtime.redis.rpush(f"jc:test:released:{run_id}", 1)
    assert run.status == ("failed" if fail else "completed"), run.error
    step = runtime.runs.step(run_id, "held")
    assert step.status == ("failed" if fail else "completed")
    assert [t["name"] for t in step.tasks] == ["canvas.held_end"]
    assert "queue_delay_ms" in step.tasks[0] and "execution_ms" in step.tasks[0]
    assert step.execution_ms is not None and step.execution_ms >= 0


def test_a_group_returns_its_list_and_a_chord_its_callback_result(runtime, workers):
    group_run = start(runtime, "canvas/group", values=[1, 2, 3])
    chord_run = start(runtime, "canvas/chord", values=[1, 2, 3])
    assert finished(runtime, group_run).output == {"values": [2, 4, 6]}
    run = finished(runtime, chord_run)
    assert run.status == "completed" and run.output == {"total": 12}
    assert executions(runtime, "collect", chord_run) == 1


def test_a_chain_through_a_group_into_a_callback(runtime, workers):
    run = finished(runtime, start(runtime, "canvas/nested"))
    assert run.status == "completed", run.error
    assert run.output == {"total": 8}  # add(1, 1) = 2; double each: [4, 4]; collect: 8
    names = [t["name"] for t in runtime.runs.step(run.id, "nested").tasks]
    assert names == ["canvas.add", "canvas.double", "canvas.double", "canvas.collect"]


def test_a_chord_with_a_failing_header_member_fails_the_step(runtime, workers):
    run = finished(runtime, start(runtime, "canvas/chord", values=[1, 2], fail=True))
    assert run.status == "failed"
    assert run.error["name"] == "StepError"
    assert "ValueError: boom 99" in run.error["message"]
    assert "raise ValueError" in run.error["stack"]  # the task's own traceback, chained
    step = runtime.runs.step(run.id, "chord")
    assert step.status == "failed"
    assert step.error["name"] == "ValueError" and step.error["message"] == "boom 99"
    assert step.error["task"] == "canvas.boom"
    assert "raise ValueError" in step.error["stack"]
    assert executions(runtime, "collect", run.id) == 0  # the body never ran


def test_a_failing_task_fails_the_step_with_its_exception(runtime, workers):
    run = finished(runtime, start(runtime, "canvas/task", mode="boom"))
    assert run.status == "failed"
    assert "ValueError: boom 7" in run.error["message"]
    step = runtime.runs.step(run.id, "boom")
    assert step.type == "task" and step.task["name"] == "canvas.boom"
    assert after_count(runtime, run.id) == 0


def test_a_task_retrying_twice_then_succeeding_completes_the_step_once(runtime, workers):
    run_id = start(runtime, "canvas/task", mode="flaky", failures=2)
    run = finished(runtime, run_id)
    assert run.status == "completed", run.error
    assert run.output == {"result": "ok after 2 retries", "after": 1}
    assert executions(runtime, "flaky", run_id) == 3
    step = runtime.runs.step(run_id, "flaky")
    assert step.retries == 2 and step.task["retries"] == 2
    assert step.task["id"] == canvas.task_id(canvas.base_id(run_id, "flaky"), "r")


def test_only_the_final_failure_after_the_tasks_own_retries_fails_the_step(runtime, workers):
    run_id = start(runtime, "canvas/task", mode="flaky", failures=10)  # max_retries=5
    run = finished(runtime, run_id)
    assert run.status == "failed"
    assert "RuntimeError: not yet" in run.error["message"]
    assert executions(runtime, "flaky", run_id) == 6  # the first attempt and five retries
    step = runtime.runs.step(run_id, "flaky")
    assert step.status == "failed" and step.task["retries"] == 5


def test_a_task_by_name(runtime, workers):
    run = finished(runtime, start(runtime, "canvas/task", mode="name"))
    assert run.output == {"result": 42, "after": 1}
    assert runtime.runs.step(run.id, "by-name").task["name"] == "canvas.add"


def test_no_answer_within_the_timeout_fails_the_step_cleanly(runtime, workers):
    run = finished(runtime, start(runtime, "canvas/task", mode="timeout", timeout=1.5))
    assert run.status == "completed"
    assert run.output["result"]["error"] == "TaskTimeout"
    assert run.output["after"] == 1
    step = runtime.runs.step(run.id, "nowhere")
    assert step.status == "failed" and step.error["name"] == "TaskTimeout"


def test_replaying_the_function_does_not_publish_the_task_again(runtime, workers):
    run = finished(runtime, start(runtime, "canvas/replay"))
    assert run.status == "completed" and run.output == {"value": 42}
    assert runtime.runs.step(run.id, "later").attempts == 3  # replayed three times
    assert executions(runtime, "add", "40+2") == 1
    tid = canvas.task_id(canvas.base_id(run.id, "once"), "r")
    assert runtime.redis.hget(keys.task_info(tid), "deliveries") == b"1"


def test_the_function_worker_killed_while_the_task_runs(runtime, worker_factory):
    fn_worker, _ = ready_together(worker_factory(queues="joelclaw", wait=False),
                                  worker_factory(queues="plain", wait=False))
    run_id = start(runtime, "canvas/task", mode="slow", value={"v": 1})
    wait_for(lambda: executions(runtime, "slow", run_id) == 1, 20, message="the task started")
    wait_for(lambda: runtime.runs.status(run_id) == "waiting", 20, message="the run parked")
    fn_worker.kill_all()  # the run holds no worker: nothing of it runs there
    runtime.redis.set(f"jc:test:release:{run_id}", 1)
    tid = canvas.task_id(canvas.base_id(run_id, "slow"), "r")
    wait_for(lambda: runtime.redis.hget(keys.task_info(tid), "ended_at"), 20,
             message="the task finished")
    # its answer (the callback) waits in the broker for a function worker
    assert runtime.runs.status(run_id) == "waiting"
    assert not isinstance(runtime.runs.memo_record(run_id, "slow"), Done)
    worker_factory(queues="joelclaw")
    run = finished(runtime, run_id, timeout=60)
    assert run.status == "completed", run.error
    assert run.output == {"result": {"v": 1}, "after": 1}
    assert executions(runtime, "slow", run_id) == 1


def test_the_plain_worker_killed_mid_task_redelivers_and_the_step_completes_once(
    runtime, worker_factory
):
    _, plain = ready_together(worker_factory(queues="joelclaw", wait=False),
                              worker_factory(queues="plain", wait=False))
    run_id = start(runtime, "canvas/task", mode="slow", value=7)
    wait_for(lambda: executions(runtime, "slow", run_id) == 1, 20, message="the task started")
    pid = int(wait_for(lambda: runtime.redis.get(f"jc:test:pid:{run_id}"), 10, message="pid"))
    assert pid in [p.pid for p in plain.children()]
    plain.kill_child(pid)  # acks_late + reject_on_worker_lost: the message goes back
    wait_for(lambda: executions(runtime, "slow", run_id) == 2, 40, message="redelivery")
    runtime.redis.set(f"jc:test:release:{run_id}", 1)
    run = finished(runtime, run_id)
    assert run.status == "completed", run.error
    assert run.output == {"result": 7, "after": 1}
    assert executions(runtime, "slow", run_id) == 2
    tid = canvas.task_id(canvas.base_id(run_id, "slow"), "r")
    assert runtime.redis.hget(keys.task_info(tid), "deliveries") == b"2"
    assert runtime.runs.step(run_id, "slow").task["deliveries"] == 2


def test_an_answer_arriving_while_the_run_executes_elsewhere_is_not_lost(runtime, workers):
    run_id = start(runtime, "canvas/task", mode="slow", value="late")
    wait_for(lambda: runtime.runs.status(run_id) == "waiting", 20, message="the run parked")
    wait_for(lambda: executions(runtime, "slow", run_id) == 1, 20, message="the task started")
    why = explain_run(runtime, run_id)
    assert why["reason"].startswith("waiting in step 'slow' for Celery task (canvas.slow)")
    lease, _ = leases.begin(runtime.scripts, run_id, run_id, 60)  # "executing elsewhere"
    assert lease is not None
    runtime.redis.set(f"jc:test:release:{run_id}", 1)
    # the answer is stored first; the wake-up finds the run leased and comes back later
    wait_for(lambda: isinstance(runtime.runs.memo_record(run_id, "slow"), Done), 20,
             message="the answer stored")
    wait_for(lambda: "deferred" in workers["fn"].output(), 20, message="a deferred execution")
    assert runtime.runs.status(run_id) == "waiting"
    lease.release()
    run = finished(runtime, run_id)
    assert run.status == "completed" and run.output == {"result": "late", "after": 1}


@pytest.mark.parametrize("hooks", [True, False])
def test_tasks_of_a_foreign_celery_app_answer_steps(runtime, worker_factory, hooks):
    ready_together(worker_factory(queues="joelclaw", wait=False),
                   worker_factory(queues="foreign", app="tests.foreign_app", wait=False,
                                  extra_env={"FOREIGN_HOOKS": "1" if hooks else "0"}))
    run = finished(runtime, start(runtime, "canvas/foreign"))
    assert run.status == "completed", run.error
    assert run.output["product"] == 42
    if hooks:  # the foreign worker recorded the exception: the step carries it
        assert run.output["error"]["type"] == "KeyError"
        assert "'nope'" in run.output["error"]["message"]
        assert runtime.runs.step(run.id, "mul").task["worker"]
    else:  # Celery sends only the task id to a callback the foreign worker does not know
        assert run.output["error"]["type"] == "TaskFailed"


def parked_canvas(rt: Runtime, workflow, run_id: str, step: str = "s") -> canvas.State:
    """A canvas stored as a step stores it (its claim in the run's pending hash), unlaunched."""
    tree = canvas.spec_of(workflow)
    base = canvas.base_id(run_id, step)
    pipe = rt.redis.pipeline()
    rt.runs.mark_invoking(run_id, step, pipe=pipe)
    canvas.create(pipe, base, run_id, step, tree)
    pipe.execute()
    return canvas.State(base, run_id, step, tree)


def test_a_publish_claim_whose_publisher_died_is_published_again(runtime, workers):
    from tests import canvas_tasks as t

    state = parked_canvas(runtime, t.add.s(30, 3), "run-dead-publisher")
    claim = keys.canvas(state.base)
    runtime.redis.hset(claim, "p:r", 0)  # claimed long ago, never confirmed
    canvas.launch(runtime, state)
    wait_for(lambda: isinstance(runtime.runs.memo_record("run-dead-publisher", "s"), Done), 20,
             message="the answer")
    assert runtime.runs.memo_record("run-dead-publisher", "s") == Done(33)
    assert runtime.redis.hget(claim, "p:r") == b"sent"
    canvas.launch(runtime, state)  # once sent, never again
    young = parked_canvas(runtime, t.add.s(1, 1), "run-publishing-now")
    runtime.redis.hset(keys.canvas(young.base), "p:r", time.time())
    with pytest.raises(canvas.Unconfirmed) as unconfirmed:
        canvas.launch(runtime, young)
    assert 0 < unconfirmed.value.wait <= canvas.CLAIM_GRACE  # when it may be declared dead
    assert executions(runtime, "add", "30+3") == 1 and executions(runtime, "add", "1+1") == 0


def test_a_duplicate_callback_advances_a_chain_once(runtime, workers):
    from tests import canvas_tasks as t

    state = parked_canvas(runtime, t.add.s(5, 5) | t.double.s(), "run-dup")
    canvas.node_done(runtime, state.base, "r.0", 10)  # as if add had answered...
    canvas.node_done(runtime, state.base, "r.0", 10)  # ...twice (a redelivered callback)
    wait_for(lambda: isinstance(runtime.runs.memo_record("run-dup", "s"), Done), 20,
             message="the chain's answer")
    assert runtime.runs.memo_record("run-dup", "s") == Done(20)
    assert executions(runtime, "double", "10") == 1
    assert executions(runtime, "add", "5+5") == 0


def test_a_callback_that_meets_a_young_dead_claim_waits_it_out_then_publishes(runtime, workers):
    from tests import canvas_tasks as t

    state = parked_canvas(runtime, t.add.s(5, 5) | t.double.s(), "run-twin")
    claim = keys.canvas(state.base)
    runtime.redis.hset(claim, "p:r.1", time.time() - canvas.CLAIM_GRACE + 2)  # a dead twin's
    runtime.celery.send_task(canvas.DONE_TASK, kwargs={"value": 10, "base": state.base,
                                                       "path": "r.0"},
                             queue=runtime.settings.canvas_queue)
    wait_for(lambda: isinstance(runtime.runs.memo_record("run-twin", "s"), Done), 30,
             message="the chain's answer after the claim's grace")
    assert runtime.runs.memo_record("run-twin", "s") == Done(20)
    assert runtime.redis.hget(claim, "p:r.1") == b"sent"
    assert executions(runtime, "double", "10") == 1


def runs_of(rt: Runtime, function: str) -> Callable[[], list[Run]]:
    return lambda: [r for r in rt.runs.list(function=function) if r.status == "completed"]


def test_send_event_from_a_plain_task_triggers_a_function(runtime, workers):
    runtime.celery.send_task("canvas.emit", args=["canvas/emitted", {"path": "a.png"}, "e-1"],
                             queue="plain")
    [run] = wait_for(runs_of(runtime, "c-on-emitted"), 30, message="the triggered run")
    assert run.output == {"got": {"path": "a.png"}}
    assert run.event["id"] == "e-1"


def test_send_event_from_a_plain_python_process(runtime, settings, workers):
    code = ("import json, joelclaw; "
            "print(json.dumps(joelclaw.send_event('canvas/emitted', {'n': 1}, id='e-2')))")
    out = subprocess.run([sys.executable, "-c", code], env=env_for(settings), cwd=REPO,
                         capture_output=True, text=True, timeout=60, check=True)
    sent = json.loads(out.stdout.strip().splitlines()[-1])
    assert sent["status"] == "dispatched" and len(sent["runs"]) == 1
    run = finished(runtime, sent["runs"][0])
    assert run.output == {"got": {"n": 1}}


def test_a_named_plain_task_emits_completion_events(runtime, workers):
    runtime.celery.send_task("canvas.add", args=[2, 3], queue="plain", task_id="plain-add-1")
    runtime.celery.send_task("canvas.boom", args=[5], queue="plain", task_id="plain-boom-1")
    runtime.celery.send_task("canvas.double", args=[5], queue="plain",  # not named: no event
                             task_id="plain-double-1")
    runtime.celery.send_task("canvas.echo", args=["hi"], kwargs={"api_key": "k-123456789"},
                             queue="plain", task_id="plain-echo-1")
    named = {"canvas.add", "canvas.boom", "canvas.echo"}
    done = wait_for(lambda: (runs := runs_of(runtime, "c-on-task")()) and
                    {r.output["data"]["task"] for r in runs} >= named and runs,
                    30, message="an event of each named task")
    assert executions(runtime, "double", "5") == 1
    # one run per task: no event twice, none for the unnamed task
    assert len(done) == 3, [(r.id, r.event.get("id"), r.output["name"]) for r in done]
    by_task = {r.output["data"]["task"]: r.output for r in done}
    assert set(by_task) == named
    echoed = by_task["canvas.echo"]["data"]
    assert echoed["kwargs"]["api_key"] != "k-123456789"  # redacted previews
    assert "k-123456789" not in str(echoed["result"])
    by_name = {r.output["name"]: r.output["data"] for r in done if r.output["data"]["task"]
               != "canvas.echo"}
    ok = by_name["celery/task.succeeded"]
    assert ok["task"] == "canvas.add" and ok["task_id"] == "plain-add-1"
    assert ok["args"] == [2, 3] and ok["result"] == 5 and ok["runtime_ms"] >= 0
    bad = by_name["celery/task.failed"]
    assert bad["task"] == "canvas.boom" and bad["error"]["name"] == "ValueError"
    assert bad["error"]["message"] == "boom 5"
