"""`GET /health` and `GET /metrics` through the Flask test client against a real Redis (and a
real worker where the component is a worker)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from joelclaw import keys
from joelclaw.config import Settings
from joelclaw.embedded import free_port
from joelclaw.events import index_backlog
from joelclaw.runtime import Runtime
from tests.support import WorkerProcess, wait_for
from tests.webhooks.webhook_support import API_TOKEN, bearer, configured, fixture, with_token
from webhooks import create_app


def make(settings: Settings, **overrides: Any) -> tuple[Flask, Runtime]:
    """The app, whose test clients send the API token (these views need it)."""
    app = with_token(create_app(configured(settings, **overrides)))
    return app, app.extensions["joelclaw"]


def stamp_alive(rt: Runtime, *, beat_age: float = 1.0, gateway_age: float | None = None) -> None:
    """What a live worker, beat and gateway write (their own tests cover the writers)."""
    now = time.time()
    rt.redis.hset(keys.WORKERS_SEEN, "w@test", now)
    rt.redis.set(keys.BEAT_TICK, now - beat_age)
    if gateway_age is not None:
        rt.redis.set(keys.GATEWAY_HEARTBEAT, now - gateway_age)


def test_health_is_503_naming_workers_and_beat_when_nothing_runs(settings: Settings) -> None:
    app, _ = make(settings)
    response = app.test_client().get("/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["ok"] is False and body["failing"] == ["beat", "workers"]
    assert body["components"]["redis"]["ok"] and body["components"]["redis"]["latency_ms"] >= 0
    assert body["components"]["broker"]["ok"] and body["components"]["broker"]["shared_with_redis"]


def test_health_is_200_with_a_real_worker_and_a_fresh_beat_tick(
    settings: Settings, worker: WorkerProcess
) -> None:
    app, rt = make(settings)
    rt.redis.set(keys.BEAT_TICK, time.time())
    client = app.test_client()
    response = wait_for(lambda: (r := client.get("/health")).status_code == 200 and r,
                        timeout=20, message="healthy")
    body = response.get_json()
    assert body["status"] == "ok" and body["failing"] == [] and body["degraded"] == []
    components = body["components"]
    assert components["workers"]["alive"] >= 1
    assert all("latency_ms" in c for c in components.values())
    assert components["gateway"]["status"] == "not_expected"
    assert "typesense" not in components


def test_a_stale_beat_tick_is_named(settings: Settings) -> None:
    app, rt = make(settings)
    stamp_alive(rt, beat_age=600)
    body = app.test_client().get("/health").get_json()
    assert body["failing"] == ["beat"] and body["components"]["beat"]["age_s"] >= 600


def test_gateway_is_degraded_only_when_expected(settings: Settings) -> None:
    app, rt = make(settings, telegram_token="123:abc")
    stamp_alive(rt)
    response = app.test_client().get("/health")
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "degraded"
    assert body["degraded"] == ["gateway"] and body["components"]["gateway"]["expected"]
    rt.redis.set(keys.GATEWAY_HEARTBEAT, time.time() - 2)
    body = app.test_client().get("/health").get_json()
    assert body["status"] == "ok" and body["components"]["gateway"]["age_s"] >= 2
    quiet, quiet_rt = make(settings)
    stamp_alive(quiet_rt)
    quiet_rt.redis.delete(keys.GATEWAY_HEARTBEAT)
    assert quiet.test_client().get("/health").get_json()["status"] == "ok"


def test_typesense_is_checked_only_when_configured(settings: Settings) -> None:
    app, rt = make(settings, typesense_url=f"http://127.0.0.1:{free_port()}")
    stamp_alive(rt)
    response = app.test_client().get("/health")
    body = response.get_json()
    assert response.status_code == 200 and body["degraded"] == ["typesense"]
    assert body["components"]["typesense"]["status"] == "degraded"


def test_redis_down_is_503_naming_redis_not_a_500(settings: Settings) -> None:
    app, _ = make(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    response = app.test_client().get("/health")
    assert response.status_code == 503
    body = response.get_json()
    assert "redis" in body["failing"] and body["components"]["redis"]["error"]


def test_a_separate_broker_that_is_down_is_named(settings: Settings) -> None:
    app, rt = make(settings, broker_url=f"redis://127.0.0.1:{free_port()}/0")
    stamp_alive(rt)
    body = app.test_client().get("/health").get_json()
    assert body["failing"] == ["broker"] and not body["components"]["broker"]["shared_with_redis"]


def scrape(app: Flask) -> dict[str, list[Any]]:
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    families = text_string_to_metric_families(response.get_data(as_text=True))
    return {f.name: f.samples for f in families}


def value(samples: list[Any], sample_name: str, **labels: str) -> float:
    for sample in samples:
        if sample.name == sample_name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return float(sample.value)
    return 0.0


def test_metrics_count_webhook_events_and_verifications(settings: Settings) -> None:
    app, _ = make(settings)
    client = app.test_client()
    raw, headers = fixture("github", "workflow_run_completed")
    for _ in range(2):
        client.post("/webhooks/github", data=raw, headers=headers)
    client.post("/webhooks/github", data=raw, headers={**headers, "X-Hub-Signature-256": "x"})
    metrics = scrape(app)
    events = metrics["joelclaw_events_received"]
    name = "github/workflow_run.completed"
    assert value(events, "joelclaw_events_received_total", name=name, outcome="dispatched") == 1
    assert value(events, "joelclaw_events_received_total", name=name,
                 outcome="deduplicated") == 1
    checks = metrics["joelclaw_webhook_verifications"]
    total = "joelclaw_webhook_verifications_total"
    assert value(checks, total, provider="github", result="valid") == 2
    assert value(checks, total, provider="github", result="invalid") == 1


def test_metrics_show_queue_depths_per_priority_and_runs(settings: Settings) -> None:
    app, _ = make(settings)
    client = app.test_client()
    client.post("/api/events", headers=bearer(),
                json=[{"name": "test/steps", "id": f"q{i}"} for i in range(3)])
    metrics = scrape(app)
    depths = metrics["joelclaw_queue_depth"]
    waiting = sum(s.value for s in depths if s.labels["queue"] == "joelclaw")
    assert waiting == 3
    assert {s.labels["priority"] for s in depths} == {str(p) for p in range(10)}
    assert value(metrics["joelclaw_runs"], "joelclaw_runs", function="t-steps",
                 status="queued") == 3
    assert value(metrics["joelclaw_executing"], "joelclaw_executing") == 0  # no worker here
    sent = metrics["joelclaw_events_received"]
    assert value(sent, "joelclaw_events_received_total", name="test/steps",
                 outcome="dispatched") == 3


def test_step_durations_are_a_histogram_counted_once_per_run(
    settings: Settings, worker: WorkerProcess
) -> None:
    app, rt = make(settings)
    results = rt.send([_event(f"h{i}") for i in range(2)])
    run_ids = [r.runs[0] for r in results]
    wait_for(lambda: all(rt.runs.status(r) == "completed" for r in run_ids), timeout=30,
             message="two t-steps runs")
    scrape(app)
    metrics = scrape(app)  # a second scrape must not count the same runs again
    samples = metrics["joelclaw_step_duration_seconds"]
    count = value(samples, "joelclaw_step_duration_seconds_count", function="t-steps", type="run")
    assert count == 6  # three steps per run
    inf = value(samples, "joelclaw_step_duration_seconds_bucket", function="t-steps",
                type="run", le="+Inf")
    assert inf == 6
    finished = metrics["joelclaw_runs_finished"]
    assert value(finished, "joelclaw_runs_finished_total", function="t-steps",
                 status="completed") == 2
    again = scrape(app)["joelclaw_step_duration_seconds"]
    assert value(again, "joelclaw_step_duration_seconds_count", function="t-steps",
                 type="run") == 6


def test_a_scrape_writes_nothing_of_its_own(settings: Settings) -> None:
    """What earlier work left on the backlogs (a send's index entries, an ended run's counters)
    is applied by whichever reader comes first, a scrape included; beyond that, nothing."""
    app, rt = make(settings)
    rt.send([_event("w1")])
    assert rt.redis.llen(keys.INDEX_BACKLOG) == 2  # the event's entry and its run's
    scrape(app)
    assert rt.redis.llen(keys.INDEX_BACKLOG) == 0  # applied by the scrape's run listing
    rt.send([_event("w2")])
    index_backlog.catch_up(rt.redis)
    before = rt.redis.info("commandstats")
    scrape(app)
    after = rt.redis.info("commandstats")
    writes = ("cmdstat_hset", "cmdstat_hincrby", "cmdstat_hincrbyfloat", "cmdstat_zadd",
              "cmdstat_set", "cmdstat_incr", "cmdstat_del")
    assert {k: after.get(k) for k in writes} == {k: before.get(k) for k in writes}


def _event(event_id: str) -> Any:
    from joelclaw.events.model import Event

    return Event(name="test/steps", id=event_id)


@pytest.mark.parametrize("path", ["/health", "/metrics", "/webhooks"])
def test_health_metrics_and_the_provider_list_need_the_token(settings: Settings,
                                                            path: str) -> None:
    app = create_app(configured(settings))
    stamp_alive(app.extensions["joelclaw"])
    client = app.test_client()
    refused = client.get(path)  # on loopback too: a token, once configured, is required
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "UNAUTHORIZED"
    assert client.get(path, headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    assert client.get(path, headers=bearer(API_TOKEN)).status_code == 200
    opted_in = create_app(configured(settings, web_open_on_loopback=True)).test_client()
    assert opted_in.get(path).status_code == 200  # the explicit loopback opt-in
    assert opted_in.get(path, headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 401


@pytest.mark.parametrize(("method", "path"), [("post", "/webhooks/github"), ("get", "/metrics"),
                                              ("get", "/api/runs"), ("post", "/api/events")])
def test_redis_down_is_a_503_json_everywhere_never_a_500(
    settings: Settings, method: str, path: str
) -> None:
    app, _ = make(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    raw, headers = fixture("github", "push")
    if path == "/api/events":
        raw = b'{"name": "app/thing.happened"}'
    response = getattr(app.test_client(), method)(path, data=raw,
                                                  headers={**headers, **bearer()})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "SERVICE_UNAVAILABLE"


def test_beat_is_stale_after_the_same_10_s_as_a_worker_node(settings: Settings) -> None:
    app, rt = make(settings)
    client = app.test_client()
    stamp_alive(rt, beat_age=5.0)
    assert client.get("/health").get_json()["components"]["beat"]["ok"] is True
    stamp_alive(rt, beat_age=15.0)  # five missed ticks and more: beat is down
    body = client.get("/health").get_json()
    assert body["components"]["beat"]["ok"] is False and "beat" in body["failing"]
