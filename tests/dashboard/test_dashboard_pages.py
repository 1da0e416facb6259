"""Every dashboard page answers as HTML and the same data as JSON under /api/dashboard/, with
filters, a stable paging cursor, clear 400/404s for bad input, and hostile event data escaped."""

from __future__ import annotations

import re
import time

import pytest
from flask.testing import FlaskClient

from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.dashboard import review_store
from tests.dashboard.conftest import AppFactory

PAGES = ["/", "/functions", "/runs", "/events", "/gateway", "/memory"]
HOSTILE = "<script>window.__pwned = 1</script>"


def api(path: str) -> str:
    return "/api/dashboard" + ("/overview" if path == "/" else path)


def send(rt: Runtime, name: str, **data: object) -> list[str]:
    return rt.send(Event(name=name, data=data))[0].runs


@pytest.mark.parametrize("path", PAGES)
def test_each_page_is_html_and_its_data_is_json(client: FlaskClient, rt: Runtime,
                                                path: str) -> None:
    send(rt, "test/steps")
    html = client.get(path)
    assert html.status_code == 200 and html.content_type.startswith("text/html")
    assert "default-src 'self'" in html.headers["Content-Security-Policy"]
    assert html.headers["X-Frame-Options"] == "DENY"
    data = client.get(api(path))
    assert data.status_code == 200 and data.json["ok"] is True


def test_functions_show_triggers_crons_options_and_recent_stats(client: FlaskClient,
                                                                 rt: Runtime) -> None:
    send(rt, "test/steps")
    asked_at = time.time()  # the next fire is after the request's clock, not after ours now
    rows = {f["id"]: f for f in client.get("/api/dashboard/functions").json["functions"]}
    heartbeat = rows["system-heartbeat"]
    cron = next(t for t in heartbeat["triggers"] if t["kind"] == "cron")
    assert cron["cron"] == "*/15 * * * *"
    assert asked_at < cron["next_fire"] <= time.time() + 15 * 60
    assert cron["next_fire"] % (15 * 60) == 0  # on a quarter hour
    assert cron["catch_up"] == "latest" and cron["catch_up_cap"] == 10
    assert rows["t-throttle"]["flow"]["throttle"]["limit"] == 2
    steps = rows["t-steps"]["recent"]
    assert steps["count"] == 1 and steps["in_progress"] == 1  # created, not ended (no worker)
    assert steps["by_status"] == {}  # outcomes count runs that ended
    assert steps["failure_rate"] is None and steps["last_run"]["status"] == "queued"
    page = client.get("/functions").get_data(as_text=True)
    assert "*/15 * * * *" in page and "throttle" in page
    assert "after downtime: latest" in page


def test_runs_filter_by_function_status_event_and_time(client: FlaskClient, rt: Runtime) -> None:
    steps = send(rt, "test/steps")[0]
    sleeper = send(rt, "test/sleep")[0]
    by_function = client.get("/api/dashboard/runs?function=t-sleep").json["runs"]
    assert [r["id"] for r in by_function] == [sleeper]
    by_event = client.get("/api/dashboard/runs?event=test/steps").json["runs"]
    assert [r["id"] for r in by_event] == [steps]
    assert client.get("/api/dashboard/runs?status=failed").json["runs"] == []
    queued = client.get("/api/dashboard/runs?status=queued&since=1h").json["runs"]
    assert {r["id"] for r in queued} == {steps, sleeper}
    future = client.get(f"/api/dashboard/runs?since={time.time() + 3600:.0f}").json["runs"]
    assert future == []


def test_paging_neither_skips_nor_repeats_runs_of_one_millisecond(client: FlaskClient,
                                                                   rt: Runtime) -> None:
    # test/conc-shared starts two functions with the same index score (one event, one ms)
    created = []
    for _ in range(7):
        created += send(rt, "test/conc-shared", k="x")
    seen: list[str] = []
    url = "/api/dashboard/runs?limit=3"
    while url:
        page = client.get(url).json
        seen += [r["id"] for r in page["runs"]]
        url = f"/api/dashboard/runs?limit=3&cursor={page['next_cursor']}" \
            if page["next_cursor"] else ""
    assert sorted(seen) == sorted(created) and len(seen) == len(set(seen)) == 14


@pytest.mark.parametrize("query, message", [
    ("status=nope", "unknown status nope"), ("since=yesterday", "since must be like"),
    ("limit=0", "limit must be"), ("cursor=abc", "not a run cursor"),
    ("function=" + "x" * 300, "longer than"),
])
def test_bad_query_values_are_400_with_the_reason(client: FlaskClient, query: str,
                                                  message: str) -> None:
    page = client.get(f"/runs?{query}")
    assert page.status_code == 400 and message in page.get_data(as_text=True)
    data = client.get(f"/api/dashboard/runs?{query}")
    assert data.status_code == 400 and message in data.json["error"]["message"]


def test_unknown_run_and_event_are_404(client: FlaskClient) -> None:
    assert client.get("/runs/run-nope").status_code == 404
    assert client.get("/api/dashboard/runs/run-nope").json["error"]["code"] == "NOT_FOUND"
    assert client.get("/events/evt-nope").status_code == 404


def test_run_page_redacts_and_escapes_hostile_event_data(client: FlaskClient,
                                                         rt: Runtime) -> None:
    run_id = send(rt, "test/steps", note=HOSTILE, api_token="sekrit-value")[0]
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert HOSTILE not in page and "&lt;script&gt;window.__pwned" in page
    assert "sekrit-value" not in page and "[redacted]" in page
    data = client.get(f"/api/dashboard/runs/{run_id}").json
    assert data["run"]["event"]["data"]["api_token"] == "[redacted]"
    assert data["waterfall"]["rows"][0]["segments"][0]["kind"] == "queue"
    assert "queued: waiting for a free worker" in data["explain"]["reason"]
    events = client.get("/events").get_data(as_text=True)
    assert HOSTILE not in events and "sekrit-value" not in events


def test_events_search_finds_text_in_data_and_lists_the_runs(client: FlaskClient,
                                                             rt: Runtime) -> None:
    run_id = send(rt, "test/steps", order="needle-42")[0]
    send(rt, "test/sleep")
    found = client.get("/api/dashboard/events?q=needle-42").json["events"]
    assert len(found) == 1 and found[0]["runs"][0]["id"] == run_id
    assert found[0]["runs"][0]["function"] == "t-steps"
    by_prefix = client.get("/api/dashboard/events?prefix=test/sl").json["events"]
    assert [e["event"]["name"] for e in by_prefix] == ["test/sleep"]
    event_id = found[0]["event"]["id"]
    detail = client.get(f"/api/dashboard/events/{event_id}").json
    assert detail["runs"][0]["status"] == "queued"


def test_memory_page_without_a_provider_says_not_available(app_factory: AppFactory) -> None:
    # memory ships joelclaw.memory.review now: a provider module that is not installed stands
    # for a deployment without memory
    client = app_factory(memory_review_provider="joelclaw_memory_absent.review:review_queue"
                         ).test_client()
    page = client.get("/memory").get_data(as_text=True)
    assert "Memory not available" in page
    assert client.get("/api/dashboard/memory").json["available"] is False


def test_gateway_page_shows_waiting_messages_by_priority(client: FlaskClient,
                                                         rt: Runtime) -> None:
    from joelclaw.gateway.queue import MessageQueue

    queue = MessageQueue(rt.redis)
    queue.enqueue("function:x", f"deploy failed {HOSTILE}", priority=1, meta={"type": "deploy"})
    queue.enqueue("function:y", "a notice", priority=2)
    data = client.get("/api/dashboard/gateway").json
    assert data["depth"]["p1"] == 1 and data["depth"]["p2"] == 1
    assert data["waiting"]["p1"][0]["prompt"].startswith("deploy failed")
    assert data["mode"] == "awake" and data["alive"] is False
    page = client.get("/gateway").get_data(as_text=True)
    assert HOSTILE not in page and "deploy failed" in page


def test_fragments_are_only_the_live_part(client: FlaskClient, rt: Runtime) -> None:
    run_id = send(rt, "test/steps")[0]
    fragment = client.get(f"/runs/{run_id}?fragment=1").get_data(as_text=True)
    assert "<html" not in fragment and 'data-step="(run)"' in fragment
    runs = client.get("/runs?fragment=1").get_data(as_text=True)
    assert "<html" not in runs and run_id in runs


def test_json_link_of_each_page_points_at_its_twin(client: FlaskClient) -> None:
    page = client.get("/runs?status=failed").get_data(as_text=True)
    link = re.search(r'href="(/api/dashboard/runs[^"]*)"', page)
    assert link and "status=failed" in link.group(1)


def test_review_provider_lists_pending_proposals(client: FlaskClient, rt: Runtime) -> None:
    review_store.add(rt, "p-20260101-001", f"Prefers short answers {HOSTILE}")
    data = client.get("/api/dashboard/memory").json
    assert data["available"] and data["proposals"][0]["id"] == "p-20260101-001"
    page = client.get("/memory").get_data(as_text=True)
    assert "p-20260101-001" in page and HOSTILE not in page
