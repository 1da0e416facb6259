"""Functions for the webhook end-to-end tests, loaded with
`function_modules=["tests.functions", "tests.webhooks.functions_webhooks"]`.

Each run records the event it saw in Redis, so a test can prove that a signed delivery started
exactly one run and that its redelivery started none."""

from __future__ import annotations

import json

from joelclaw.bus.execution import Context, engine
from joelclaw.bus.functions import function
from joelclaw.events.payloads.github import WorkflowRun
from tests.support import wait_at_gate

SEEN_KEY = "jc:test:webhooks:workflow-runs"  # list of JSON {run, event_id, run_id, conclusion}
GATED_KEY = "jc:test:webhooks:gated"  # set: each run holds at this gate name until opened


@function("t-github-workflow-run", trigger="github/workflow_run.completed", retries=0)
def on_workflow_run(ctx: Context[WorkflowRun]) -> dict:
    """Record the finished GitHub workflow run, as a CI-watching function would."""
    data = ctx.event.data  # the payload model: attribute access

    def record() -> int:
        gate = engine(ctx).redis.get(GATED_KEY)
        if gate:
            wait_at_gate(engine(ctx).redis, gate.decode())
        entry = {"run": ctx.run_id, "event_id": ctx.event.id, "run_id": data.run_id,
                 "conclusion": data.conclusion}
        return int(engine(ctx).redis.rpush(SEEN_KEY, json.dumps(entry)))

    position = ctx.step.run("record", record)
    return {"position": position, "repository": data.repository}
