"""The owner's cockpit over HTTP: the needs-me page (what it gathers, its one-tap actions, the
landing redirect), events by any id and searched over every stored event, edit-and-resend,
acting on waits and sleeps, pause/resume, bulk actions, the functions page (search, domains,
Markdown, spend, what happens next) and unknown URLs as pages."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from joelclaw import keys
from joelclaw.agents.approvals import Approvals
from joelclaw.bus.records import Run, encode_run
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.dashboard import review_store
from tests.dashboard.test_dashboard_security import csrf_of
from tests.support import events_named

HOSTILE = "<script>window.__pwned = 1</script>"


def send(rt: Runtime, name: str, event_id: str | None = None, **data: object) -> list[str]:
    event = Event(name=name, data=data, **({"id": event_id} if event_id else {}))
    return rt.send(event)[0].runs


def failed_run(rt: Runtime, function: str = "d-flaky", message: str = "card declined") -> str:
    """A failed run as the executor leaves one (no worker needed to read the page)."""
    run = Run(id=f"run-{int(time.time() * 1000):013d}-{time.monotonic_ns() % 10**8:08x}",
              function=function, status="failed", event={"name": "dash/flaky", "data": {}},
              error={"name": "StepError", "message": message})
    rt.redis.hset(keys.run(run.id), mapping=encode_run(run))
    rt.redis.zadd(keys.RUN_INDEX, {run.id: run.created_at * 1000})
    rt.redis.zadd(keys.runs_of_function(function), {run.id: run.created_at * 1000})
    return run.id


# ---- needs me ------------------------------------------------------------------------------

def test_the_landing_page_is_needs_me_only_when_something_waits(client: FlaskClient,
                                                                 rt: Runtime) -> None:
    assert client.get("/").status_code == 200  # nothing pending: the overview
    assert client.get("/api/dashboard/needs-me").json["count"] == 0
    failed_run(rt)
    landing = client.get("/")
    assert landing.status_code == 303 and landing.location.endswith("/needs-me")
    assert client.get("/overview").status_code == 200  # the overview stays one tap away


def test_needs_me_gathers_everything_that_waits_on_the_owner(client: FlaskClient,
                                                            rt: Runtime) -> None:
    old = failed_run(rt, "d-flaky")
    failed_run(rt, "d-flaky", f"declined {HOSTILE} token=sk-abcdefghijklmnopqrstuvwxyz")
    failed_run(rt, "d-hostile")
    Approvals(rt.redis).submit("apr-1", "coder", "git.push", "push fix-login", "tests pass")
    review_store.add(rt, "p-20260102-001", "Prefers short answers")
    rt.redis.rpush(keys.GW_DEAD, json.dumps({"source": "function:deploy", "prompt": "deploy "
                                             "failed", "p": 1, "ts": 1, "meta": {}}))
    data = client.get("/api/dashboard/needs-me").json
    groups = {g["function"]: g for g in data["failures"]}
    assert groups["d-flaky"]["count"] == 2 and groups["d-hostile"]["count"] == 1
    assert "[redacted]" in json.dumps(data) and "sk-abcdefghij" not in json.dumps(data)
    assert [a["request_id"] for a in data["approvals"]] == ["apr-1"]
    assert data["proposals"]["items"][0]["id"] == "p-20260102-001"
    assert data["gateway"]["dead"][0]["text"] == "deploy failed"
    assert data["count"] == 3 + 1 + 1 + 1
    page = client.get("/needs-me").get_data(as_text=True)
    assert HOSTILE not in page and "Replay all 2" in page
    assert f'data-run="{old}"' in page

    csrf = csrf_of(client, "/needs-me")
    client.post("/needs-me/dismiss", data={"csrf": csrf, "item": f"run:{old}"})
    assert {g["function"]: g["count"] for g in
            client.get("/api/dashboard/needs-me").json["failures"]}["d-flaky"] == 1
    answered = client.post("/approvals/apr-1/approve", data={"csrf": csrf})
    assert answered.status_code == 303 and "notice=approval-sent" in answered.location
    resolved = events_named(rt.redis, "agent/approval.resolved")
    assert len(resolved) == 1  # the same event the Telegram buttons and the CLI send
    dead_id = data["gateway"]["dead"][0]["id"]
    assert client.post(f"/gateway/dead/{dead_id}/retry", data={"csrf": csrf}).status_code == 303
    assert rt.redis.llen(keys.GW_DEAD) == 0 and client.post(
        f"/gateway/dead/{dead_id}/drop", data={"csrf": csrf}).status_code == 409
    approved = client.post("/memory/p-20260102-001/approve",
                           data={"csrf": csrf, "next": "/needs-me"})
    assert approved.location.endswith("/needs-me?notice=approved")
    client.post("/needs-me/seen", data={"csrf": csrf})
    after = client.get("/api/dashboard/needs-me").json
    assert after["count"] == 0 and after["failures"] == [] and after["approvals"] == []
    assert client.post("/needs-me/dismiss", data={"csrf": csrf, "item": "all"}).status_code \
        == 400


def test_a_waiting_run_shows_what_it_expects_and_a_prefilled_answer(client: FlaskClient,
                                                                    rt: Runtime) -> None:
    from joelclaw.bus.flow import waits

    run_id = send(rt, "test/wait", key="order-1234", timeout=600)[0]
    spec = {"event": "test/reply", "match": "data.key", "if": None,
            "trigger": {"name": "test/wait", "id": "e1", "data": {"key": "order-1234"}},
            "expires": time.time() + 600, "run": run_id}
    waits.register(rt, run_id, "reply", spec)
    item = client.get("/api/dashboard/needs-me").json["waiting"][0]
    assert item["run"] == run_id and item["function"] == "t-wait"
    assert item["expected"] == "order-1234"
    assert json.loads(item["data"]) == {"key": "order-1234"}
    csrf = csrf_of(client, "/needs-me")
    sent = client.post("/events/send", data={"csrf": csrf, "name": "test/reply",
                                             "data": item["data"], "next": "/needs-me"})
    assert sent.location.endswith("/needs-me?notice=answered")
    assert client.get("/api/dashboard/needs-me").json["waiting"] == []  # the wait was answered


# ---- events: any id, search over every stored event, edit and resend -----------------------

ODD_IDS = ["upload-photos/2026/a b.png", "a/../b", "/leading", "trailing/", "a//b", "%2F",
           "q?x=1#frag", "ünï/cødé", "dots.", "..", "tab\there", "+plus+", "semi;colon"]


@pytest.mark.parametrize("event_id", ODD_IDS)
def test_any_event_id_works_on_every_page_and_route(client: FlaskClient, rt: Runtime,
                                                     event_id: str) -> None:
    send(rt, "test/steps", event_id)
    quoted = quote(event_id, safe="")
    for path in (f"/events/{quoted}", f"/api/dashboard/events/{quoted}"):
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.get_data(as_text=True)[:300])
    assert client.get(f"/api/dashboard/events/{quoted}").json["event"]["id"] == event_id
    api = create_api_client(client)
    assert api.get(f"/api/events/{quoted}").json["event"]["event"]["id"] == event_id
    listing = client.get("/events").get_data(as_text=True)
    assert f'href="/events/{quoted}"' in listing  # links escape every reserved character


def create_api_client(client: FlaskClient) -> FlaskClient:
    return client  # the dashboard app serves /api too; its token is set in the fixture below


@pytest.fixture
def settings(tmp_path, redis_url):  # type: ignore[no-untyped-def]
    from tests.dashboard.conftest import dash_settings

    return dash_settings(tmp_path / "home", redis_url, api_token="owner-token-0123456789",
                         llm_daily_budget_usd=1.0)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    test_client = app.test_client()
    test_client.environ_base["HTTP_AUTHORIZATION"] = "Bearer owner-token-0123456789"
    return test_client


@given(event_id=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60))
@hypothesis_settings(max_examples=60, deadline=None, database=None,
                     suppress_health_check=list(HealthCheck))
def test_every_id_the_api_accepts_reads_back(app, event_id: str) -> None:  # type: ignore
    rt = app.extensions["joelclaw"]
    test_client = app.test_client()
    headers = {"Authorization": "Bearer owner-token-0123456789"}
    sent = test_client.post("/api/events", json={"name": "test/steps", "id": event_id},
                            headers=headers)
    if sent.status_code != 200:
        return  # refused at the door with a reason: nothing to read back
    quoted = quote(event_id, safe="")
    found = test_client.get(f"/api/events/{quoted}", headers=headers)
    assert found.status_code == 200 and found.json["event"]["event"]["id"] == event_id
    page = test_client.get(f"/api/dashboard/events/{quoted}", headers=headers)
    assert page.status_code == 200 and page.json["event"]["id"] == event_id
    rt.redis.delete(keys.event_seen(event_id))


def test_search_by_data_field_covers_every_stored_event(client: FlaskClient,
                                                        rt: Runtime) -> None:
    send(rt, "shop/order.paid", order_id="o-1", note="first refund request")
    for i in range(1100):  # the old search looked at the newest 1,000 only
        send(rt, "shop/order.paid", order_id=f"o-{i + 2}", note="paid")
    send(rt, "shop/order.paid", password="hunter2-secret", order_id="o-secret")
    found = client.get("/api/dashboard/events?q=order_id=o-1").json["events"]
    assert [e["event"]["data"]["order_id"] for e in found] == ["o-1"]
    assert client.get("/api/dashboard/events?q=data.order_id=O-1").json["events"]  # any case
    words = client.get("/api/dashboard/events?q=refund+first").json["events"]
    assert [e["event"]["data"]["order_id"] for e in words] == ["o-1"]
    assert client.get("/api/dashboard/events?q=order_id=o-2+refund").json["events"] == []
    assert client.get("/api/dashboard/events?q=password=hunter2-secret").json["events"] == []
    api = client.get("/api/events?q=order_id=o-1").json["events"]
    assert [e["event"]["data"]["order_id"] for e in api] == ["o-1"]
    page = client.get("/events?q=order_id%3Do-1").get_data(as_text=True)
    assert "Searched every stored event" in page


def test_edit_and_resend_keeps_redacted_values(client: FlaskClient, rt: Runtime) -> None:
    send(rt, "test/steps", "evt-original", api_token="sekrit-value-123", amount=5)
    page = client.get("/events?resend=evt-original").get_data(as_text=True)
    assert "Edit and resend" in page and "sekrit-value-123" not in page
    form = client.get("/api/dashboard/events?resend=evt-original").json["form"]
    edited = json.loads(form["data"])
    assert edited == {"api_token": "[redacted]", "amount": 5}
    edited["amount"] = 6
    csrf = csrf_of(client, "/events")
    sent = client.post("/events/send", data={"csrf": csrf, "name": form["name"],
                                             "data": json.dumps(edited),
                                             "resend_of": "evt-original"})
    new_id = sent.location.split("/events/")[1].split("?")[0]
    stored = rt.redis.hget(keys.event(new_id), "record")
    assert json.loads(stored)["event"]["data"] == {"api_token": "sekrit-value-123", "amount": 6}
    assert client.get("/events?resend=evt-nope").status_code == 404


def test_a_bad_send_shows_its_error_at_the_top(client: FlaskClient) -> None:
    csrf = csrf_of(client, "/events")
    bad = client.post("/events/send", data={"csrf": csrf, "name": "Not A Name"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert page.index("data-form-error") < page.index("Stored events")  # above the list


# ---- unknown pages -------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/nope", "/runs/a/b/c", "/functions/x", "/needs-me/x"])
def test_unknown_dashboard_urls_answer_a_page(client: FlaskClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404 and answer.content_type.startswith("text/html")
    assert "there is no page at this address" in answer.get_data(as_text=True)
    assert "default-src 'self'" in answer.headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/api/nope", "/api/dashboard/nope", "/webhooks/x/y",
                                  "/healthz/x", "/metrics/x"])
def test_unknown_api_urls_keep_json(client: FlaskClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code in (404, 405) and answer.is_json
    assert answer.json["ok"] is False


# ---- runs: wake, answer, pause, bulk --------------------------------------------------------

def test_run_page_offers_the_answer_and_the_wake(client: FlaskClient, rt: Runtime) -> None:
    run_id = send(rt, "test/wait", key="k-9", timeout=600)[0]
    step = {"key": "reply", "type": "wait", "status": "waiting", "started_at": time.time(),
            "wait": {"event": "test/reply", "match": "data.key", "if": None,
                     "expires": time.time() + 600}}
    rt.redis.hset(keys.run(run_id), mapping={"status": "waiting",
                                             "t:reply": json.dumps(step)})
    answer = client.get(f"/api/dashboard/runs/{run_id}").json["actions"]["answer"]
    assert answer["event"] == "test/reply" and answer["expected"] == "k-9"
    assert json.loads(answer["data"]) == {"key": "k-9"}
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert 'data-awaited="test/reply"' in page and "Send test/reply" in page
    csrf = csrf_of(client, f"/runs/{run_id}")
    refused = client.post(f"/runs/{run_id}/wake", data={"csrf": csrf})
    assert refused.status_code == 409 and "not sleeping" in refused.get_data(as_text=True)


def test_pause_and_resume_from_the_page_and_the_api(client: FlaskClient, rt: Runtime) -> None:
    csrf = csrf_of(client, "/functions")
    paused = client.post("/functions/t-steps/pause", data={"csrf": csrf, "reason": "deploy"})
    assert paused.status_code == 303 and "notice=paused" in paused.location
    row = next(f for f in client.get("/api/dashboard/functions").json["functions"]
               if f["id"] == "t-steps")
    assert row["paused"]["reason"] == "deploy" and row["paused"]["by"] == "owner (dashboard)"
    assert 'data-action="resume"' in client.get("/functions?q=t-steps").get_data(as_text=True)
    listed = {f["id"]: f for f in client.get("/api/functions").json["functions"]}
    assert listed["t-steps"]["paused"]["reason"] == "deploy"
    resumed = client.post("/api/functions/t-steps/resume")
    assert resumed.status_code == 200 and resumed.json["resume"]["was_paused"] is True
    assert client.post("/api/functions/t-nope/pause", json={}).status_code == 404
    assert client.post("/functions/t-steps/explode", data={"csrf": csrf}).status_code == 400


def test_bulk_preview_confirm_and_progress_in_the_api(client: FlaskClient,
                                                      rt: Runtime) -> None:
    failed = [failed_run(rt, "d-flaky") for _ in range(3)]
    body = {"action": "replay", "filter": {"function": "d-flaky", "statuses": ["failed"]}}
    preview = client.post("/api/runs/bulk", json=body).json["preview"]
    assert preview["count"] == 3 and {r["id"] for r in preview["sample"]} == set(failed)
    too_few = client.post("/api/runs/bulk", json={**body, "confirm": 2})
    assert too_few.status_code == 409 and too_few.json["error"]["code"] == "BULK_CHANGED"
    done = client.post("/api/runs/bulk", json={**body, "confirm": 3})
    job = done.json["job"]
    assert done.status_code == 200 and job["status"] == "done"
    assert job["counts"] == {"replayed": 3}
    assert client.get(f"/api/runs/bulk/{job['id']}").json["job"]["done"] == 3
    refused = client.post("/api/runs/bulk", json={"action": "cancel",
                                                  "filter": {"statuses": ["completed"]}})
    assert refused.status_code == 400 and "cannot cancel completed" in \
        refused.json["error"]["message"]
    assert client.post("/api/runs/bulk", json={"action": "replay", "filter": {}}
                       ).status_code == 400
    background = client.post("/api/runs/bulk", json={
        "action": "cancel", "filter": {"function": "d-flaky", "statuses": ["queued"]},
        "confirm": 3, "wait": False})
    assert background.status_code == 202
    from tests.support import wait_for

    wait_for(lambda: client.get(f"/api/runs/bulk/{background.json['job']['id']}"
                                ).json["job"]["status"] == "done", 20)


def test_bulk_in_the_dashboard_previews_then_shows_progress(client: FlaskClient,
                                                            rt: Runtime) -> None:
    failed = [failed_run(rt, "d-flaky") for _ in range(2)]
    runs_page = client.get("/runs?function=d-flaky&status=failed").get_data(as_text=True)
    link = re.search(r'data-action="bulk-replay" href="([^"]+)"', runs_page)
    assert link
    preview = client.get(link.group(1).replace("&amp;", "&"))
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'data-preview-count="2"' in text
    assert all(run_id in text for run_id in failed)
    assert client.get("/runs/bulk?action=cancel&status=completed").status_code == 409
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', text))
    confirmed = client.post("/runs/bulk", data={**form, "csrf": csrf_of(client, "/events")})
    assert confirmed.status_code == 303 and "/bulk/bulk-" in confirmed.location
    from tests.support import wait_for

    job_url = "/api/dashboard" + confirmed.location.split("localhost")[-1]
    job = wait_for(lambda: (j := client.get(job_url).json["job"])["status"] == "done" and j, 20)
    assert job["counts"] == {"replayed": 2} and job["by"] == "owner (dashboard)"


# ---- functions -----------------------------------------------------------------------------

def test_functions_search_domains_markdown_spend_and_what_happens_next(client: FlaskClient,
                                                                       rt: Runtime) -> None:
    from joelclaw.telemetry.spend import record_usage

    record_usage(rt, model="m", input_tokens=1000, output_tokens=10, cost_usd=0.25,
                 function="d-documented")
    data = client.get("/api/dashboard/functions").json
    domains = [g["domain"] for g in data["groups"]]
    assert domains == sorted(domains) and "d" in domains and "system" in domains
    row = next(f for f in data["functions"] if f["id"] == "d-documented")
    assert row["spend"]["usd"] == 0.25 and row["spend"]["calls"] == 1
    assert "raw HTML stays text" in row["doc"]  # the whole docstring, not its first line
    assert data["timeline"] and data["timeline"][0]["at"] >= time.time() - 1
    assert {t["kind"] for t in data["timeline"]} >= {"cron"}
    page = client.get("/functions?q=invoice").get_data(as_text=True)
    assert 'data-function="d-documented"' in page and 'data-function="t-steps"' not in page
    assert "<b>invoice</b>" in page and "<code>summarize()</code>" in page
    assert '<a href="https://example.com/guide?a=1&amp;b=2" rel="noreferrer noopener">' in page
    assert 'href="javascript' not in page and "[trap](javascript:alert(1))" in page
    assert "<script>window.__pwned = 3" not in page and "&lt;script&gt;" in page
    assert client.get("/functions?q=no-such-thing").get_data(as_text=True).count(
        "data-function=") == 0


def test_times_read_as_people_read_them(client: FlaskClient, rt: Runtime) -> None:
    run_id = send(rt, "test/sleep", seconds=7100)[0]
    step = {"key": "nap", "type": "sleep", "status": "sleeping", "started_at": time.time(),
            "until": time.time() + 7095}
    rt.redis.hset(keys.run(run_id), mapping={"status": "sleeping", "t:nap": json.dumps(step)})
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert re.search(r"\(in 1 h 5[78] m\)", page), "a wait in hours and minutes"
    assert re.search(r"\d\d:\d\d:\d\d UTC", page), "local time with its zone"
    assert not re.search(r"\(in \d+\.\ds\)", page)  # never "(in 7095.9s)"
    assert 'data-action="wake"' in page
