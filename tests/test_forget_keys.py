"""Forgetting reaches a text that is a JSON object's key, not only its string values: a record
keyed by a person's name (attendees, contacts) keeps no trace of the name once forgotten;
real Redis."""

from __future__ import annotations

import json

from joelclaw.events.model import Event
from joelclaw.forget import execute, plan
from joelclaw.runtime import Runtime
from tests.test_forget import redis_hits

MARKER = "Zqx7731 Okafor"


def test_a_name_that_is_a_json_key_is_forgotten_too(runtime: Runtime) -> None:
    client = runtime.redis
    client.set("test:contacts", json.dumps({"attendees": {MARKER: "accepted", "Bo": "no"}}))
    client.hset("test:people", "day", json.dumps({MARKER: {"role": "doctor"}}))
    [sent] = runtime.send(Event(name="test/forget-keys",
                                data={"rsvp": {MARKER: "yes"}, "text": f"meet {MARKER}"}))
    done = plan(runtime, kind="person", value=MARKER, reason="asked to")
    execute(runtime, done)
    assert redis_hits(client, MARKER) == []
    kept = json.loads(client.get("test:contacts") or b"{}")
    assert kept["attendees"]["Bo"] == "no"  # the rest of the record stays
    assert sent.id in done.target.events
