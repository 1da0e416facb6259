"""Property-based: random bodies, headers and lengths at every provider route.

The only answers are 200/400/401/404/413/429, never a 500, and nothing reaches the event log
without a valid signature. A second property signs random bodies correctly: those may only be
accepted (200) or rejected as bad input (400)."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from joelclaw.runtime import Runtime
from tests.support import stored_events
from tests.webhooks.webhook_support import PROVIDER_NAMES, sign
from webhooks.routes import MAX_BODY_BYTES

ALLOWED = {200, 400, 401, 404, 413, 429}
HEADER_NAMES = ["X-Hub-Signature-256", "X-GitHub-Event", "X-GitHub-Delivery",
                "X-Todoist-Hmac-SHA256", "X-Todoist-Delivery-ID", "X-Front-Signature",
                "X-Front-Request-Timestamp", "X-Front-Challenge", "x-vercel-signature",
                "X-Telegram-Bot-Api-Secret-Token", "Content-Type", "X-Forwarded-For",
                "Content-Length", "Transfer-Encoding", "X-Random"]
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                    blacklist_characters="\x7f"), max_size=80)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
SHAPED = st.fixed_dictionaries({}, optional={
    "action": st.sampled_from(["completed", "published", "opened", "Bad Action", 5]),
    "event_name": st.sampled_from(["item:added", "item:completed", "note:added", "x"]),
    "event_data": JSON_VALUES, "type": st.sampled_from(["inbound", "deployment.created",
                                                        "assign", "sync", 3]),
    "payload": JSON_VALUES, "workflow_run": JSON_VALUES, "message": JSON_VALUES,
    "update_id": st.integers(), "callback_query": JSON_VALUES, "id": JSON_VALUES,
    "created_at": JSON_VALUES, "target": JSON_VALUES, "conversation": JSON_VALUES,
})
BODIES = st.one_of(
    st.binary(max_size=2048),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    SHAPED.map(lambda v: json.dumps(v).encode()),
    st.integers(MAX_BODY_BYTES - 2, MAX_BODY_BYTES + 64).map(lambda n: b"1" * n),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
)
ROUTES = st.sampled_from([*PROVIDER_NAMES, "unknown", "GitHub", "x" * 300, "..", "%00"])
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])


def _post(app: Flask, route: str, body: bytes, headers: dict[str, str], ip: str) -> Any:
    return app.test_client().post(f"/webhooks/{route}", data=body, headers=headers,
                                  environ_base={"REMOTE_ADDR": ip})


@FUZZ
@given(route=ROUTES, body=BODIES,
       headers=st.dictionaries(st.sampled_from(HEADER_NAMES), HEADER_TEXT, max_size=6),
       ip=st.integers(1, 254).map(lambda n: f"203.0.113.{n}"))
def test_random_requests_get_only_the_allowed_statuses_and_emit_nothing(
    app: Flask, route: str, body: bytes, headers: dict[str, str], ip: str
) -> None:
    headers = {k: v for k, v in headers.items() if k not in ("Content-Length",)
               or v.isdigit()}
    response = _post(app, route, body, headers, ip)
    event(f"status {response.status_code}")
    assert response.status_code in ALLOWED, response.get_data(as_text=True)
    assert response.is_json and response.get_json() is not None
    if response.status_code != 200:
        assert response.get_json()["ok"] is False
    rt: Runtime = app.extensions["joelclaw"]
    assert stored_events(rt.redis) == 0  # random signatures never verify


@FUZZ
@given(provider=st.sampled_from(PROVIDER_NAMES), body=BODIES,
       extra=st.dictionaries(st.sampled_from(["X-GitHub-Event", "X-GitHub-Delivery",
                                              "X-Todoist-Delivery-ID", "X-Front-Challenge"]),
                             st.from_regex(r"[a-z0-9_]{0,12}", fullmatch=True), max_size=3))
def test_correctly_signed_random_bodies_are_accepted_or_rejected_as_bad_input(
    app: Flask, provider: str, body: bytes, extra: dict[str, str]
) -> None:
    response = _post(app, provider, body, sign(provider, body, extra), "198.51.100.1")
    event(f"status {response.status_code}")
    allowed = {200, 400, 413} if len(body) > MAX_BODY_BYTES else {200, 400}
    assert response.status_code in allowed, response.get_data(as_text=True)
    if response.status_code == 200 and "challenge" not in response.get_json():
        assert response.get_json()["events"] == len(response.get_json()["ids"])
