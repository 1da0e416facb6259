"""Functions for the webhook end-to-end tests, loaded with
`function_modules=["tests.functions", "tests.webhooks.functions_webhooks"]`.

Each run records the event it saw in Redis, so a test can prove that a signed delivery started
exactly one run and that its redelivery started none."""

from __future__ import annotations

import json

from joelclaw.bus.executor import Context
from joelclaw.bus.functions import function

SEEN_KEY = "jc:test:webhooks:workflow-runs"  # list of JSON {run, event_id, run_id, conclusion}


@function("t-github-workflow-run", trigger="github/workflow_run.completed", retries=0)
def on_workflow_run(ctx: Context) -> dict:
    """Record the finished GitHub workflow run, as a CI-watching function would."""
    data = ctx.event.data

    def record() -> int:
        entry = {"run": ctx.run_id, "event_id": ctx.event.id, "run_id": data.get("run_id"),
                 "conclusion": data.get("conclusion")}
        return int(ctx.runtime.redis.rpush(SEEN_KEY, json.dumps(entry)))

    position = ctx.step.run("record", record)
    return {"position": position, "repository": data.get("repository")}
