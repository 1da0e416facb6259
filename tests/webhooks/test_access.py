"""Who may use the web app, over the wire against a real gunicorn on loopback, asked the way an
attacker would: a local process or a reverse proxy on the same host (nginx's default
`proxy_pass` adds no forwarding header and sends Host 127.0.0.1:<port>), a brute force that
rotates X-Forwarded-For, a login link that redirects off the site, a stolen cookie after the
owner logged out.

One rule (webhooks/access.py): once a token is configured, every view needs it, loopback
included; `/health`, `/metrics` and `GET /webhooks` too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from joelclaw.config import Settings
from tests.webhooks.gunicorn_support import Gunicorn
from tests.webhooks.webhook_support import API_TOKEN, bearer, configured
from webhooks import limits

pytestmark = pytest.mark.timeout(180)
VIEWS = ["/", "/runs", "/api/dashboard/runs", "/api/runs", "/api/events", "/health", "/metrics",
         "/webhooks"]
# What nginx's default `proxy_pass http://127.0.0.1:3111;` sends: nothing that says "proxied"
NGINX_DEFAULT = {"Host": "127.0.0.1:3111", "Connection": "close"}


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[Gunicorn]:
    web = Gunicorn(configured(settings), tmp_path / "gunicorn.log")
    try:
        yield web.wait_ready()
    finally:
        web.stop()


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
    assert found, page.text[:300]
    return found.group(1)


def _login(client: httpx.Client, token: str = API_TOKEN, next_: str = "/runs") -> httpx.Response:
    page = client.get("/login", params={"next": next_})
    return client.post("/login", data={"csrf": _csrf(page), "token": token, "next": next_})


@pytest.mark.parametrize("path", VIEWS)
def test_a_request_through_a_same_host_proxy_needs_the_token(server: Gunicorn,
                                                             path: str) -> None:
    # Given a token (as under `joelclaw up`) and a request that looks local in every way
    answer = httpx.get(f"{server.url}{path}", headers=NGINX_DEFAULT, timeout=10)
    # Then it is not served: pages go to the login, everything else is a 401
    if path in ("/", "/runs"):
        assert answer.status_code == 302 and "/login?next=" in answer.headers["location"]
    else:
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "UNAUTHORIZED"
    # And with the token it is
    assert httpx.get(f"{server.url}{path}", headers=bearer(), timeout=10).status_code in (
        200, 503)  # /health: 503 without workers, answered all the same


def test_the_apis_hint_survives_redaction(server: Gunicorn) -> None:
    answer = httpx.get(f"{server.url}/api/runs", timeout=10)
    assert "'Authorization: Bearer <token>'" in answer.json()["error"]["message"]


def test_wrong_tokens_are_rate_limited_even_when_x_forwarded_for_rotates(
    server: Gunicorn,
) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        # One caller guessing: 20 wrong tokens, then 429 even for the right one
        codes = [client.get("/api/runs", headers=bearer(f"guess-{n:04d}-xxxxxxxxxx")).status_code
                 for n in range(limits.MAX_FAILURES + 1)]
        assert codes == [401] * limits.MAX_FAILURES + [429]
        assert client.get("/api/runs", headers=bearer()).status_code == 429
    with httpx.Client(base_url=server.url, timeout=10) as client:
        # A local process claiming a new client address for every guess: its own connection's
        # budget runs out all the same
        codes = []
        for n in range(limits.PEER_FAILURES + 5):
            headers = {**bearer(f"guess-{n:04d}-yyyyyyyyyy"), "X-Forwarded-For": f"198.51.100.{n}"}
            codes.append(client.get("/metrics", headers=headers).status_code)
        assert 429 in codes and codes.index(429) <= limits.PEER_FAILURES + 1
        assert set(codes[codes.index(429):]) == {429}


@pytest.mark.parametrize("next_", ["/%09/evil.com", "/\t/evil.com", "/\n/evil.com",
                                   "//evil.com", "/\\evil.com", "https://evil.com"])
def test_the_login_never_redirects_off_the_site(server: Gunicorn, next_: str) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        if next_ == "/%09/evil.com":  # as a link would carry it: decoded to "/\t/evil.com"
            page = client.get(f"/login?next={next_}")
            done = client.post("/login", data={"csrf": _csrf(page), "token": API_TOKEN,
                                               "next": re.search(r'name="next" value="([^"]*)"',
                                                                 page.text).group(1)})
        else:
            done = _login(client, next_=next_)
    assert done.status_code == 303
    assert done.headers["location"] == "/", done.headers["location"]


def test_logout_ends_the_login_for_every_copy_of_its_cookie(server: Gunicorn) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as owner:
        assert _login(owner).status_code == 303
        stolen = owner.cookies.get("jc_dashboard")
        assert stolen and owner.get("/api/dashboard/runs").status_code == 200
        assert owner.get("/health").status_code in (200, 503)  # the login counts there too
        page = owner.get("/runs")
        assert owner.post("/logout", data={"csrf": _csrf(page)}).status_code == 303
    with httpx.Client(base_url=server.url, timeout=10,
                      cookies={"jc_dashboard": stolen}) as thief:
        assert thief.get("/api/dashboard/runs").status_code == 401
        assert thief.get("/runs").status_code == 302
        assert thief.get("/health").status_code == 401
