"""Functions for the secrets tests: they see event data with secrets in it, keep a copy (to prove
the stored event reaches them intact), log it, return it, and fail with a secret in the error."""

from __future__ import annotations

import json
import logging

from joelclaw.bus.execution import Context, engine
from joelclaw.bus.functions import function
from joelclaw.errors import NonRetriable

SEEN_KEY = "jc:test:secrets:seen"
log = logging.getLogger("tests.secrets")


@function("t-secrets", trigger="test/secrets", retries=0)
def handle(ctx: Context) -> dict:
    data = ctx.event.data
    ctx.step.run("keep", lambda: bool(engine(ctx).redis.rpush(SEEN_KEY, json.dumps(data))))
    log.warning("handling event data %s", data)
    return {"echo": data}


@function("t-secrets-fail", trigger="test/secrets-fail", retries=0)
def fail(ctx: Context) -> None:
    def call() -> None:
        raise NonRetriable(f"upstream refused token {ctx.event.data['token']} for "
                           f"{ctx.event.data['note']}")

    ctx.step.run("call-upstream", call)
