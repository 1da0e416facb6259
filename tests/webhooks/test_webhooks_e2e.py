"""End to end: gunicorn (2 workers) on a free port, a real Celery worker, a real Redis.

A signed GitHub `workflow_run` delivery starts the function subscribed to
`github/workflow_run.completed`; its redelivery starts nothing. The size, rate-limit and
metrics rules are checked over the wire too, where two gunicorn workers must agree."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from joelclaw import keys
from joelclaw.config import Settings
from joelclaw.runtime import Runtime
from tests.support import WorkerProcess, open_gate, wait_for
from tests.webhooks.functions_webhooks import GATED_KEY, SEEN_KEY
from tests.webhooks.gunicorn_support import Gunicorn
from tests.webhooks.webhook_support import bearer, configured, fixture, sign
from webhooks import limits
from webhooks.routes import MAX_BODY_BYTES

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    return configured(settings)


@pytest.fixture
def server(web_settings: Settings, tmp_path: Path) -> Iterator[Gunicorn]:
    web = Gunicorn(web_settings, tmp_path / "gunicorn.log")
    try:
        yield web.wait_ready()
    finally:
        web.stop()


@pytest.fixture
def live_worker(web_settings: Settings, worker_factory: Callable[..., WorkerProcess],
                request: pytest.FixtureRequest) -> WorkerProcess:
    """The worker, started side by side with the server when a test asks for it first."""
    worker = worker_factory(settings_override=web_settings, wait=False)
    request.getfixturevalue("server")
    return worker.wait_ready()


def test_a_signed_workflow_run_starts_its_function_once_and_a_redelivery_nothing(
    live_worker: WorkerProcess, server: Gunicorn, web_settings: Settings
) -> None:
    rt = Runtime(web_settings)
    raw, headers = fixture("github", "workflow_run_completed")
    rt.redis.set(GATED_KEY, "workflow-run")  # the function cannot finish until the gate opens
    response = httpx.post(f"{server.url}/webhooks/github", content=raw, headers=headers,
                          timeout=30)
    # answered while the function is held: not after (nor during) the function's run
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True and body["events"] == 1 and body["deduplicated"] == 0
    assert rt.redis.llen(SEEN_KEY) == 0
    [event_id] = body["ids"]
    open_gate(rt.redis, "workflow-run")

    def done() -> bool:
        runs = rt.runs.list(function="t-github-workflow-run")
        return len(runs) == 1 and runs[0].status == "completed"

    wait_for(done, timeout=60, message=f"the workflow-run function (worker log "
                                       f"{live_worker.log_path})")
    [seen] = [json.loads(x) for x in rt.redis.lrange(SEEN_KEY, 0, -1)]
    payload = json.loads(raw)
    assert seen["event_id"] == event_id
    assert seen["run_id"] == payload["workflow_run"]["id"]
    assert seen["conclusion"] == payload["workflow_run"]["conclusion"]

    again = httpx.post(f"{server.url}/webhooks/github", content=raw, headers=headers,
                       timeout=10).json()
    assert again["ids"] == [event_id] and again["deduplicated"] == 1
    # runs are created by the same atomic script that answers "deduplicated": a redelivery
    # that started a run would show it already
    assert len(rt.runs.list(function="t-github-workflow-run")) == 1
    assert rt.redis.llen(SEEN_KEY) == 1

    events = httpx.get(f"{server.url}/api/events/{event_id}", headers=bearer(), timeout=10)
    assert events.status_code == 200 and events.json()["event"]["duplicates"] == 1


def test_size_limits_over_the_wire(server: Gunicorn) -> None:
    big = b"[" + b"0," * (MAX_BODY_BYTES // 2) + b"0]"
    declared = httpx.post(f"{server.url}/webhooks/github", content=big,
                          headers=sign("github", big), timeout=10)
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 16384):
            yield big[start:start + 16384]

    chunked = httpx.post(f"{server.url}/webhooks/github", content=chunks(),
                         headers=sign("github", big), timeout=10)
    assert chunked.status_code == 413


def test_the_failure_limit_and_the_metrics_are_shared_by_both_gunicorn_workers(
    server: Gunicorn, web_settings: Settings
) -> None:
    raw, headers = fixture("github", "push")
    bad = {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64}
    with httpx.Client(base_url=server.url, timeout=10) as client:
        statuses = [client.post("/webhooks/github", content=raw, headers=bad).status_code
                    for _ in range(limits.MAX_FAILURES + 1)]
        metrics = [client.get("/metrics", headers=bearer()).text for _ in range(4)]
    assert statuses == [401] * limits.MAX_FAILURES + [429]
    line = 'joelclaw_webhook_verifications_total{provider="github",result="invalid"} 20.0'
    assert all(line in text for text in metrics)
    rt = Runtime(web_settings)
    assert rt.redis.get(limits.failure_key("127.0.0.1")) == b"20"


def test_health_over_the_wire(live_worker: WorkerProcess, server: Gunicorn,
                              web_settings: Settings) -> None:
    Runtime(web_settings).redis.set(keys.BEAT_TICK, time.time())
    response = wait_for(
        lambda: (r := httpx.get(f"{server.url}/health", headers=bearer(),
                                timeout=10)).status_code == 200 and r,
        timeout=30, message="healthy")
    assert response.json()["components"]["workers"]["alive"] >= 1
    missing = httpx.get(f"{server.url}/api/nope", timeout=10)
    assert missing.status_code == 404 and missing.json()["ok"] is False
    page = httpx.get(f"{server.url}/nope", timeout=10)  # not the API: a page for a person
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")


def test_every_provider_fixture_over_the_wire_shows_up_in_the_event_log(
    server: Gunicorn,
) -> None:
    from tests.webhooks.webhook_support import PROVIDER_NAMES, fixture_names

    emitted: set[str] = set()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for provider in PROVIDER_NAMES:
            for name in fixture_names(provider):
                raw, headers = fixture(provider, name)
                response = client.post(f"/webhooks/{provider}", content=raw, headers=headers)
                assert response.status_code == 200, (provider, name, response.text)
                emitted.update(response.json().get("ids", []))
        listed = client.get("/api/events?limit=1000", headers=bearer()).json()["events"]
    assert emitted and emitted <= {e["event"]["id"] for e in listed}
    assert {i.split("-", 1)[0] for i in emitted} == set(PROVIDER_NAMES)
