"""Safe by default: the API token through a login (HttpOnly, SameSite cookie) or a bearer
header, loopback too; open on loopback only when opted in and the request is plainly local;
every POST needs the CSRF token and a same-site origin; a logout ends the login for good."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.dashboard import review_store
from tests.dashboard.conftest import TOKEN, AppFactory
from webhooks.dashboard.security import safe_next

EXPOSED = {"web_host": "0.0.0.0", "api_token": TOKEN}


def csrf_of(client: FlaskClient, path: str = "/events", **kwargs: object) -> str:
    page = client.get(path, **kwargs).get_data(as_text=True)
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert match, page[:500]
    return match.group(1)


def run_of(rt: Runtime, name: str = "test/sleep") -> str:
    return rt.send(Event(name=name, data={"seconds": 60}))[0].runs[0]


# ---- who may look -------------------------------------------------------------------------

def test_loopback_needs_nothing_only_when_opted_in(client: FlaskClient,
                                                  app_factory: AppFactory) -> None:
    assert client.get("/").status_code == 200  # JOELCLAW_WEB_OPEN_ON_LOOPBACK=true
    assert client.get("/api/dashboard/runs").status_code == 200
    # By default a token, once there is one, is needed on loopback too: a reverse proxy on
    # this host (nginx's default proxy_pass: Host 127.0.0.1:3111, no forwarding header)
    # makes every request look like this one
    closed = app_factory(web_open_on_loopback=False, api_token=TOKEN).test_client()
    proxied = closed.get("/", headers={"Host": "127.0.0.1:3111"})
    assert proxied.status_code == 302 and "/login" in proxied.location
    assert closed.get("/api/dashboard/runs").status_code == 401
    assert app_factory(web_open_on_loopback=False).test_client().get("/").status_code == 403


@pytest.mark.parametrize("headers", [
    {"Host": "evil.example:3111"},  # DNS rebinding: a foreign name resolving to 127.0.0.1
    {"X-Forwarded-For": "203.0.113.9"},  # through a proxy: reachable from elsewhere
    {"Forwarded": "for=203.0.113.9"},
    {"Via": "1.1 proxy"}, {"X-Client-IP": "203.0.113.9"}, {"CF-Connecting-IP": "203.0.113.9"},
    {"True-Client-IP": "203.0.113.9"}, {"X-Real-IP": "203.0.113.9"},
])
def test_loopback_through_a_proxy_or_foreign_host_needs_the_token(
    app_factory: AppFactory, headers: dict[str, str]
) -> None:
    without = app_factory().test_client()
    refused = without.get("/", headers=headers)
    assert refused.status_code == 403 and "JOELCLAW_API_TOKEN" in refused.get_data(as_text=True)
    with_token = app_factory(api_token=TOKEN).test_client()
    assert with_token.get("/", headers=headers).status_code == 302


def test_exposed_without_a_token_refuses_everything(app_factory: AppFactory) -> None:
    client = app_factory(web_host="0.0.0.0").test_client()
    page = client.get("/runs")
    assert page.status_code == 403 and "TOKEN_REQUIRED" in page.get_data(as_text=True)
    assert client.get("/api/dashboard/runs").json["error"]["code"] == "TOKEN_REQUIRED"


def test_exposed_pages_redirect_to_login_and_json_is_401(app_factory: AppFactory) -> None:
    client = app_factory(**EXPOSED).test_client()
    page = client.get("/runs?status=failed")
    assert page.status_code == 302 and "/login?next=/runs?status%3Dfailed" in page.location
    assert client.get("/api/dashboard/runs").status_code == 401
    assert client.get("/dashboard-static/style.css").status_code == 200  # the login page's css


def test_login_sets_an_httponly_samesite_cookie_and_opens_pages(app_factory: AppFactory) -> None:
    client = app_factory(**EXPOSED).test_client()
    csrf = csrf_of(client, "/login")
    wrong = client.post("/login", data={"csrf": csrf, "token": "nope", "next": "/runs"})
    assert wrong.status_code == 401 and "wrong token" in wrong.get_data(as_text=True)
    good = client.post("/login", data={"csrf": csrf, "token": TOKEN, "next": "/runs"})
    assert good.status_code == 303 and good.location == "/runs"
    cookie = good.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    assert client.get("/runs").status_code == 200
    assert client.get("/api/dashboard/runs").status_code == 200
    copied = client.get_cookie("jc_dashboard")
    assert copied is not None
    out = client.post("/logout", data={"csrf": csrf_of(client)})
    assert out.status_code == 303
    assert client.get("/runs").status_code == 302
    # And the login is over for good: a copy of its cookie (still signed, not expired) is
    # worth nothing after the logout
    thief = app_factory(**EXPOSED).test_client()
    thief.set_cookie("jc_dashboard", copied.value)
    assert thief.get("/runs").status_code == 302
    assert thief.get("/api/dashboard/runs").status_code == 401


def test_a_changed_token_logs_everyone_out(app_factory: AppFactory) -> None:
    first = app_factory(**EXPOSED).test_client()
    first.post("/login", data={"csrf": csrf_of(first, "/login"), "token": TOKEN})
    assert first.get("/runs").status_code == 200
    rotated = app_factory(web_host="0.0.0.0", api_token=TOKEN + "-new").test_client()
    cookie = first.get_cookie("jc_dashboard")
    assert cookie is not None
    rotated.set_cookie("jc_dashboard", cookie.value)
    assert rotated.get("/runs").status_code == 302


def test_bearer_token_reads_json_without_a_cookie(app_factory: AppFactory) -> None:
    client = app_factory(**EXPOSED).test_client()
    ok = client.get("/api/dashboard/runs", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and "Set-Cookie" not in ok.headers
    bad = client.get("/api/dashboard/runs", headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401


def test_login_is_rate_limited_per_address(app_factory: AppFactory) -> None:
    client = app_factory(**EXPOSED).test_client()
    csrf = csrf_of(client, "/login")
    codes = [client.post("/login", data={"csrf": csrf, "token": "x"}).status_code
             for _ in range(21)]
    assert codes[:20] == [401] * 20 and codes[20] == 429
    assert client.post("/login", data={"csrf": csrf, "token": TOKEN}).status_code == 429


@pytest.mark.parametrize("target, expected", [
    ("/runs?x=1", "/runs?x=1"), ("//evil.example", "/"), ("https://evil.example", "/"),
    ("/\\evil.example", "/"), (None, "/"), ("runs", "/"), ("/\t/evil.com", "/"),
    ("/\n/evil.com", "/"), ("/\r\n/evil.com", "/"), ("/ /evil.com", "/"), ("/\x0b/evil", "/"),
    ("/\u3000/evil.com", "/"), ("/%09/evil.com", "/%09/evil.com"),
])
def test_login_only_redirects_within_the_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


# ---- who may press the buttons ----------------------------------------------------------

def test_post_without_csrf_is_refused_even_on_loopback(client: FlaskClient, rt: Runtime) -> None:
    run_id = run_of(rt)
    refused = client.post(f"/runs/{run_id}/cancel")
    assert refused.status_code == 403 and "CSRF_FAILED" in refused.get_data(as_text=True)
    forged = client.post(f"/runs/{run_id}/cancel", data={"csrf": "0" * 64})
    assert forged.status_code == 403
    assert rt.runs.get(run_id).status == "queued"


def test_cross_site_post_is_refused_with_a_valid_token(client: FlaskClient, rt: Runtime) -> None:
    run_id = run_of(rt)
    csrf = csrf_of(client)
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        refused = client.post(f"/runs/{run_id}/cancel", data={"csrf": csrf}, headers=headers)
        assert refused.status_code == 403
    assert rt.runs.get(run_id).status == "queued"


def test_csrf_token_of_another_session_does_not_work(app: Flask, rt: Runtime) -> None:
    run_id = run_of(rt)
    stolen = csrf_of(app.test_client())
    victim = app.test_client()
    victim.get("/")
    assert victim.post(f"/runs/{run_id}/cancel", data={"csrf": stolen}).status_code == 403


# ---- the buttons themselves ----------------------------------------------------------------

def test_cancel_replay_and_rerun_buttons(client: FlaskClient, rt: Runtime) -> None:
    run_id = run_of(rt)
    csrf = csrf_of(client)
    cancelled = client.post(f"/runs/{run_id}/cancel", data={"csrf": csrf})
    assert cancelled.status_code == 303 and "notice=cancelled" in cancelled.location
    assert rt.runs.get(run_id).status == "cancelled"
    assert "Run cancelled." in client.get(cancelled.location).get_data(as_text=True)
    replayed = client.post(f"/runs/{run_id}/replay", data={"csrf": csrf})
    new_id = replayed.location.split("/runs/")[1].split("?")[0]
    assert rt.runs.get(new_id).replay_of == run_id
    rerun = client.post(f"/runs/{run_id}/rerun", data={"csrf": csrf, "step": "missing"})
    assert rerun.status_code == 404


def test_send_event_form(client: FlaskClient, rt: Runtime) -> None:
    csrf = csrf_of(client, "/events")
    sent = client.post("/events/send", data={"csrf": csrf, "name": "test/steps",
                                             "data": '{"n": 1}', "id": "evt-form-1"})
    assert sent.status_code == 303 and "/events/evt-form-1" in sent.location
    page = client.get(sent.location).get_data(as_text=True)
    assert "Event sent." in page and "t-steps" in page
    again = client.post("/events/send", data={"csrf": csrf, "name": "test/steps",
                                              "id": "evt-form-1"})
    assert "notice=duplicate" in again.location
    for data, message in [({"name": "Bad Name"}, "invalid event name"),
                          ({"name": "test/x", "data": "[1]"}, "must be a JSON object"),
                          ({"name": "test/x", "data": "{oops"}, "Expecting property name")]:
        bad = client.post("/events/send", data={"csrf": csrf, **data})
        assert bad.status_code == 400 and message in bad.get_data(as_text=True)


def test_gateway_sleep_and_wake(client: FlaskClient, rt: Runtime) -> None:
    csrf = csrf_of(client, "/gateway")
    assert client.post("/gateway/sleep", data={"csrf": csrf}).status_code == 303
    assert client.get("/api/dashboard/gateway").json["mode"] == "sleep"
    client.post("/gateway/wake", data={"csrf": csrf})
    assert client.get("/api/dashboard/gateway").json["mode"] == "awake"
    assert client.post("/gateway/nap", data={"csrf": csrf}).status_code == 400


def test_memory_approve_and_reject(client: FlaskClient, rt: Runtime) -> None:
    review_store.add(rt, "p-1", "Uses uv for Python installs")
    review_store.add(rt, "p-2", "Likes long meetings")
    csrf = csrf_of(client, "/memory")
    assert client.post("/memory/p-1/approve", data={"csrf": csrf}).status_code == 303
    assert client.post("/memory/p-2/reject", data={"csrf": csrf, "reason": "no"}).status_code \
        == 303
    assert review_store.status(rt, "p-1") == "approved"
    assert review_store.status(rt, "p-2") == "rejected"
    assert client.post("/memory/p-1/approve", data={"csrf": csrf}).status_code == 409
    assert client.post("/memory/p-9/approve", data={"csrf": csrf}).status_code == 404
    assert client.get("/api/dashboard/memory").json["proposals"] == []
