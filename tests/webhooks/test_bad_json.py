"""Non-standard JSON is refused with 400 wherever JSON enters the web app (a stored NaN would
make every later view of the event invalid JSON), and one event size limit holds for the API
and the CLI alike (the CLI side is in tests/test_cli_input.py)."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from joelclaw.events.limits import MAX_EVENT_BYTES
from joelclaw.runtime import Runtime
from tests.support import stored_events
from tests.webhooks.webhook_support import bearer, fixture, sign

NON_STANDARD = ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"]


@pytest.mark.parametrize("value", NON_STANDARD)
def test_the_api_refuses_non_standard_json(client: FlaskClient, rt: Runtime,
                                           value: str) -> None:
    body = f'{{"name": "app/thing.happened", "data": {{"x": {value}}}}}'
    response = client.post("/api/events", data=body, headers={**bearer(),
                           "Content-Type": "application/json"})
    assert response.status_code == 400
    assert "JSON" in response.get_json()["error"]["message"]
    assert stored_events(rt.redis) == 0
    listed = client.get("/api/events", headers=bearer())
    assert json.loads(listed.get_data(as_text=True))["events"] == []


@pytest.mark.parametrize("value", NON_STANDARD)
def test_a_signed_webhook_with_non_standard_json_is_400(client: FlaskClient, rt: Runtime,
                                                        value: str) -> None:
    good, headers = fixture("github", "push")
    accepted = client.post("/webhooks/github", data=good, headers=headers)
    assert accepted.status_code == 200  # the same delivery, standard JSON, goes through
    rt.redis.flushall()
    payload = {**json.loads(good), "extra": "__value__"}
    raw = json.dumps(payload).replace('"__value__"', value).encode()
    response = client.post("/webhooks/github", data=raw, headers=sign("github", raw, headers))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "BAD_REQUEST"
    assert "not JSON" in response.get_json()["error"]["message"] or "range" in \
        response.get_json()["error"]["message"]
    assert stored_events(rt.redis) == 0


def test_a_cancel_reason_with_nan_is_400(client: FlaskClient) -> None:
    response = client.post("/api/runs/run-x/cancel", data='{"reason": NaN}',
                           headers=bearer())
    assert response.status_code == 400


def test_standard_json_still_goes_through(client: FlaskClient) -> None:
    body = '{"name": "app/thing.happened", "data": {"x": 1.5e300, "y": "NaN"}}'
    response = client.post("/api/events", data=body, headers=bearer())
    assert response.status_code == 200, response.get_json()


def test_the_api_body_limit_is_the_event_limit(client: FlaskClient, rt: Runtime) -> None:
    raw = json.dumps({"name": "app/big.thing", "data": {"pad": "x" * (5 * 1024 * 1024)}})
    response = client.post("/api/events", data=raw, headers=bearer())
    assert response.status_code == 413
    assert f"{MAX_EVENT_BYTES:,} bytes (1 MiB)" in response.get_json()["error"]["message"]
    assert stored_events(rt.redis) == 0
