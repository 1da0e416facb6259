"""The bearer-token JSON API (SPEC §12) through the Flask test client against a real Redis."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from joelclaw.config import Settings
from joelclaw.runtime import Runtime
from tests.support import stored_events
from tests.webhooks.webhook_support import API_TOKEN, bearer, configured
from webhooks import create_app

ROUTES = [("post", "/api/events"), ("get", "/api/events"), ("get", "/api/events/x"),
          ("get", "/api/functions"), ("get", "/api/runs"), ("get", "/api/runs/x"),
          ("post", "/api/runs/x/cancel"), ("post", "/api/runs/x/replay")]


def call(client: FlaskClient, method: str, path: str, **kwargs: Any) -> Any:
    return getattr(client, method)(path, headers=bearer(), **kwargs)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_without_a_configured_token_every_route_is_refused_with_the_fix(
    settings: Settings, method: str, path: str
) -> None:
    client = create_app(configured(settings, api_token=None)).test_client()
    response = getattr(client, method)(path, headers=bearer())
    assert response.status_code == 403
    error = response.get_json()["error"]
    assert error["code"] == "TOKEN_REQUIRED" and "JOELCLAW_API_TOKEN" in error["message"]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {API_TOKEN}", "Bearer ",
                                    f"Bearer {API_TOKEN}x", "Bearer \u00e9\u00e9"])
def test_a_missing_or_wrong_token_is_401(
    client: FlaskClient, method: str, path: str, header: str | None
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = getattr(client, method)(path, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "UNAUTHORIZED"


def test_the_openapi_document_needs_no_token(client: FlaskClient) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.get_json()["openapi"].startswith("3.")


def test_post_one_event_returns_its_send_result_and_starts_its_runs(
    client: FlaskClient, rt: Runtime
) -> None:
    response = call(client, "post", "/api/events",
                    json={"name": "test/steps", "data": {}, "id": "api-one"})
    assert response.status_code == 200
    [result] = response.get_json()["results"]
    assert result["id"] == "api-one" and result["status"] == "dispatched"
    assert len(result["runs"]) == 1
    assert rt.runs.get(result["runs"][0]).function == "t-steps"
    again = call(client, "post", "/api/events", json={"name": "test/steps", "id": "api-one"})
    assert again.get_json()["results"][0]["status"] == "deduplicated"


def test_post_a_list_of_events(client: FlaskClient) -> None:
    batch = [{"name": "test/steps", "id": f"batch-{i}"} for i in range(3)]
    results = call(client, "post", "/api/events", json=batch).get_json()["results"]
    assert [r["id"] for r in results] == ["batch-0", "batch-1", "batch-2"]


@pytest.mark.parametrize(("body", "reason"), [
    ({"data": {}}, "name"),
    ({"name": "NoSlash"}, "invalid event name"),
    ({"name": "a/b", "surprise": 1}, "surprise"),
    ({"name": "a/b", "data": []}, "data"),
    ({"name": "system/log.written", "data": {"action": "x"}}, "data.tool"),
    ([], "no events"),
    ("a string", "JSON object"),
    ([{"name": "a/b"}] * 101, "at most 100"),
])
def test_invalid_events_are_400_with_the_reason_and_nothing_is_sent(
    client: FlaskClient, rt: Runtime, body: Any, reason: str
) -> None:
    response = call(client, "post", "/api/events", json=body)
    assert response.status_code == 400
    assert reason in response.get_json()["error"]["message"]
    assert stored_events(rt.redis) == 0


def test_one_bad_event_in_a_list_rejects_the_whole_batch(
    client: FlaskClient, rt: Runtime
) -> None:
    response = call(client, "post", "/api/events",
                    json=[{"name": "test/steps", "id": "good"}, {"name": "Bad"}])
    assert response.status_code == 400
    assert response.get_json()["error"]["message"].startswith("event 1:")
    assert stored_events(rt.redis) == 0


@pytest.mark.parametrize("raw", [b"{", b"\xff", b"[" * 50_000 + b"]" * 50_000, b""])
def test_malformed_bodies_are_400(client: FlaskClient, raw: bytes) -> None:
    response = call(client, "post", "/api/events", data=raw,
                    content_type="application/json")
    assert response.status_code == 400


def test_list_and_get_events(client: FlaskClient) -> None:
    call(client, "post", "/api/events", json=[{"name": "test/steps", "id": "e1"},
                                              {"name": "other/thing", "id": "e2"}])
    listed = call(client, "get", "/api/events").get_json()["events"]
    assert [e["event"]["id"] for e in listed] == ["e2", "e1"]
    named = call(client, "get", "/api/events?name=test/steps&limit=5").get_json()["events"]
    assert [e["event"]["id"] for e in named] == ["e1"]
    prefixed = call(client, "get", "/api/events?prefix=other/").get_json()["events"]
    assert [e["event"]["id"] for e in prefixed] == ["e2"]
    future = call(client, "get", f"/api/events?since={time.time() + 60}").get_json()
    assert future["events"] == []
    one = call(client, "get", "/api/events/e1").get_json()["event"]
    assert one["event"]["name"] == "test/steps" and len(one["runs"]) == 1
    missing = call(client, "get", "/api/events/nope")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "NOT_FOUND"


def test_functions_lists_the_registry(client: FlaskClient) -> None:
    listed = {f["id"]: f for f in call(client, "get", "/api/functions").get_json()["functions"]}
    assert "t-steps" in listed and "t-github-workflow-run" in listed
    assert listed["t-github-workflow-run"]["triggers"] == ["github/workflow_run.completed"]


def test_runs_filters_and_trace(client: FlaskClient) -> None:
    call(client, "post", "/api/events", json=[{"name": "test/steps", "id": "r1"},
                                              {"name": "test/flaky", "id": "r2"}])
    runs = call(client, "get", "/api/runs").get_json()["runs"]
    assert len(runs) == 2 and all(r["status"] == "queued" for r in runs)
    by_fn = call(client, "get", "/api/runs?function=t-steps").get_json()["runs"]
    assert [r["function"] for r in by_fn] == ["t-steps"]
    assert call(client, "get", "/api/runs?status=completed").get_json()["runs"] == []
    assert len(call(client, "get", "/api/runs?status=queued,running").get_json()["runs"]) == 2
    assert len(call(client, "get", "/api/runs?limit=1").get_json()["runs"]) == 1
    assert call(client, "get", f"/api/runs?since={time.time() + 5}").get_json()["runs"] == []
    assert len(call(client, "get", "/api/runs?since=2000-01-01T00:00:00").get_json()["runs"]) == 2
    trace = call(client, "get", f"/api/runs/{by_fn[0]['id']}").get_json()["run"]
    assert trace["id"] == by_fn[0]["id"] and trace["steps"] == []
    assert trace["event"]["id"] == "r1"


@pytest.mark.parametrize("query", ["status=bogus", "limit=0", "limit=abc", "limit=100000",
                                   "since=yesterday", "since=nan", "since=1e400",
                                   "until=-5", "function=" + "f" * 600])
def test_bad_run_filters_are_400(client: FlaskClient, query: str) -> None:
    response = call(client, "get", f"/api/runs?{query}")
    assert response.status_code == 400, response.get_json()


@pytest.mark.parametrize("path", ["/api/runs/nope", "/api/runs/nope/cancel",
                                  "/api/runs/nope/replay"])
def test_unknown_run_ids_are_404_json(client: FlaskClient, path: str) -> None:
    method = "get" if path == "/api/runs/nope" else "post"
    response = call(client, method, path)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "NOT_FOUND"


def test_cancel_a_queued_run_and_replay_it(client: FlaskClient, rt: Runtime) -> None:
    result = call(client, "post", "/api/events", json={"name": "test/steps"}).get_json()
    run_id = result["results"][0]["runs"][0]
    cancelled = call(client, "post", f"/api/runs/{run_id}/cancel", json={"reason": "test"})
    assert cancelled.status_code == 200
    assert cancelled.get_json()["run"]["status"] == "cancelled"
    assert rt.runs.get(run_id).status == "cancelled"
    replayed = call(client, "post", f"/api/runs/{run_id}/replay").get_json()
    assert replayed["replay_of"] == run_id and replayed["run"]["id"] != run_id
    assert rt.runs.get(replayed["run"]["id"]).replay_of == run_id
    bad_reason = call(client, "post", f"/api/runs/{run_id}/cancel", json={"reason": 5})
    assert bad_reason.status_code == 400


def test_a_run_of_a_function_not_loaded_here_is_409(
    client: FlaskClient, settings: Settings, rt: Runtime
) -> None:
    result = call(client, "post", "/api/events", json={"name": "test/steps"}).get_json()
    run_id = result["results"][0]["runs"][0]
    other = create_app(configured(settings, function_modules=[])).test_client()
    response = other.post(f"/api/runs/{run_id}/replay", headers=bearer())
    assert response.status_code == 409


def test_an_event_body_over_1_mb_is_413(client: FlaskClient, rt: Runtime) -> None:
    from webhooks.api import MAX_BODY_BYTES

    big = {"name": "a/b", "data": {"pad": "x" * MAX_BODY_BYTES}}
    response = call(client, "post", "/api/events", json=big)
    assert response.status_code == 413 and response.get_json()["ok"] is False
    assert stored_events(rt.redis) == 0
