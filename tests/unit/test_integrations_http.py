"""The shared HTTP layer: retries on 5xx/429 honouring Retry-After, the typed error tree, no leaks.

The retry loop is exercised through httpx.MockTransport (scripted answers, no waiting: the sleep
is injected and recorded); connect failures use a real closed port on 127.0.0.1.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from joelclaw.errors import JoelclawError
from joelclaw.integrations.http import (
    USER_AGENT,
    ApiClient,
    AuthError,
    HTTPNotFound,
    HTTPStatusError,
    IntegrationError,
    RateLimited,
    RetryPolicy,
    TransportError,
    backoff_delay,
    make_client,
    parse_retry_after,
    request_json,
)

SECRET = "sk-live-0123456789abcdef"


class Script:
    """A MockTransport handler answering from a list, recording each request it saw."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers: Iterator[httpx.Response | Exception] = iter(answers)
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        answer = next(self.answers)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Sleeps(list[float]):
    """An injected sleep that records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_for(script: Script, **headers: str) -> httpx.Client:
    return make_client(
        "https://api.example.test/v1", headers=headers, transport=httpx.MockTransport(script)
    )


def api_for(script: Script, sleeps: Sleeps, **kw: object) -> ApiClient:
    return ApiClient(client_for(script), service="example", sleep=sleeps, rng=lambda: 0.0, **kw)  # type: ignore[arg-type]


def ok(payload: object = None) -> httpx.Response:
    return httpx.Response(200, json=payload if payload is not None else {"ok": True})


# -- retries -------------------------------------------------------------------------------------


def test_a_500_is_retried_after_backoff_then_the_success_is_returned() -> None:
    script, sleeps = Script(httpx.Response(500, text="boom"), ok({"id": 7})), Sleeps()

    result = api_for(script, sleeps).request_json("GET", "/things/7")

    assert result == {"id": 7}
    assert len(script.seen) == 2
    assert sleeps == [0.5]  # base delay, jitter pinned to 0 by the injected rng


def test_request_json_function_retries_5xx_and_honours_max_attempts() -> None:
    script = Script(httpx.Response(502), httpx.Response(503), ok([1, 2]))
    sleeps = Sleeps()

    assert request_json(client_for(script), "GET", "/list", sleep=sleeps) == [1, 2]
    assert len(sleeps) == 2
    assert sleeps[1] > sleeps[0]  # exponential


def test_a_429_waits_exactly_the_retry_after_seconds() -> None:
    limited = httpx.Response(429, headers={"Retry-After": "3"}, text="slow down")
    script, sleeps = Script(limited, ok()), Sleeps()

    assert api_for(script, sleeps).request_json("POST", "/send", json={"a": 1}) == {"ok": True}
    assert sleeps == [3.0]
    assert [r.method for r in script.seen] == ["POST", "POST"]
    assert script.seen[1].content == b'{"a":1}'  # the body is sent again in full


def test_a_503_with_retry_after_uses_the_header_instead_of_backoff() -> None:
    script, sleeps = Script(httpx.Response(503, headers={"Retry-After": "7"}), ok()), Sleeps()

    api_for(script, sleeps).request("GET", "/x")

    assert sleeps == [7.0]


def test_when_attempts_run_out_the_last_status_is_raised() -> None:
    script, sleeps = Script(*[httpx.Response(503, text="down")] * 3), Sleeps()

    with pytest.raises(HTTPStatusError) as info:
        api_for(script, sleeps).request("GET", "/x")

    assert info.value.status == 503
    assert info.value.body == "down"
    assert len(script.seen) == 3 and len(sleeps) == 2


def test_rate_limited_after_the_last_attempt_carries_retry_after() -> None:
    script = Script(*[httpx.Response(429, headers={"Retry-After": "2"})] * 2)
    api = api_for(script, Sleeps(), policy=RetryPolicy(max_attempts=2))

    with pytest.raises(RateLimited) as info:
        api.request("GET", "/x")

    assert info.value.retry_after == 2.0
    assert info.value.status == 429


def test_a_retry_after_longer_than_the_policy_allows_fails_at_once() -> None:
    script, sleeps = Script(httpx.Response(429, headers={"Retry-After": "3600"})), Sleeps()

    with pytest.raises(RateLimited) as info:
        api_for(script, sleeps).request("GET", "/x")

    assert info.value.retry_after == 3600.0
    assert sleeps == [] and len(script.seen) == 1


@pytest.mark.parametrize("status", [400, 409, 422])
def test_other_4xx_are_not_retried(status: int) -> None:
    script, sleeps = Script(httpx.Response(status, json={"error": "nope"})), Sleeps()

    with pytest.raises(HTTPStatusError) as info:
        api_for(script, sleeps).request("POST", "/x")

    assert type(info.value) is HTTPStatusError
    assert info.value.status == status and sleeps == []


def test_a_read_timeout_on_post_is_not_retried_because_it_may_have_been_applied() -> None:
    script, sleeps = Script(httpx.ReadTimeout("timed out"), ok()), Sleeps()

    with pytest.raises(TransportError, match="ReadTimeout"):
        api_for(script, sleeps).request("POST", "/send")

    assert len(script.seen) == 1


def test_a_read_timeout_on_get_or_declared_idempotent_call_is_retried() -> None:
    script, sleeps = Script(httpx.ReadTimeout("t"), ok(), httpx.ReadTimeout("t"), ok()), Sleeps()
    api = api_for(script, sleeps)

    api.request("GET", "/x")
    api.request("POST", "/poll", idempotent=True)

    assert len(script.seen) == 4 and len(sleeps) == 2


def test_connect_refused_on_a_real_socket_is_retried_then_raised_as_transport_error() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    client = make_client(f"http://127.0.0.1:{port}", timeout=2.0)

    with pytest.raises(TransportError) as info:
        ApiClient(client, service="todoist", sleep=sleeps).request("POST", "/tasks")

    assert str(info.value).startswith("todoist: ConnectError")
    assert len(sleeps) == 2  # a connect failure never reached the service, so POST is retried


# -- the error tree ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, AuthError),
        (403, AuthError),
        (404, HTTPNotFound),
        (429, RateLimited),
        (400, HTTPStatusError),
    ],
)
def test_statuses_map_to_the_error_tree(status: int, kind: type[IntegrationError]) -> None:
    policy = RetryPolicy(max_attempts=1)
    script = Script(httpx.Response(status, text="{}"))

    with pytest.raises(kind) as info:
        api_for(script, Sleeps(), policy=policy).request("GET", "/x")

    assert isinstance(info.value, HTTPStatusError)
    assert isinstance(info.value, IntegrationError) and isinstance(info.value, JoelclawError)
    assert info.value.service == "example"


def test_a_401_is_an_auth_error_whose_message_and_repr_hold_no_secret() -> None:
    body = f'{{"error": "invalid token {SECRET}"}}'
    script = Script(httpx.Response(401, text=body))
    client = make_client(
        "https://api.example.test",
        headers={"Authorization": f"Bearer {SECRET}"},
        transport=httpx.MockTransport(script),
    )
    api = ApiClient(client, service="front", sleep=Sleeps(), secrets=[SECRET])

    with pytest.raises(AuthError) as info:
        api.request("GET", f"/me?token={SECRET}")

    error = info.value
    assert str(error).startswith("front: HTTP 401 Unauthorized")
    assert "\n" not in str(error)
    for text in (str(error), repr(error), error.body, repr(api)):
        assert SECRET not in text
    assert "***" in error.body


def test_the_message_is_one_line_with_a_short_body_snippet() -> None:
    body = "line one\nline two\n" + "x" * 5000
    script = Script(httpx.Response(500, text=body))

    with pytest.raises(HTTPStatusError) as info:
        api_for(script, Sleeps(), policy=RetryPolicy(max_attempts=1)).request("GET", "/x")

    message = str(info.value)
    assert message.startswith("example: HTTP 500 Internal Server Error: line one line two")
    assert "\n" not in message and len(message) < 300
    assert len(info.value.body) == 2000


def test_httpx_request_log_lines_are_scrubbed_of_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    script = Script(ok())
    api = api_for(script, Sleeps(), secrets=[SECRET])

    api.request("POST", f"/bot{SECRET}/sendMessage")

    assert "HTTP Request: POST" in caplog.text
    assert SECRET not in caplog.text


# -- bodies, helpers -----------------------------------------------------------------------------


def test_an_empty_body_is_none_and_a_non_json_body_is_an_integration_error() -> None:
    api = api_for(Script(httpx.Response(204), httpx.Response(200, text="<html>")), Sleeps())

    assert api.request_json("DELETE", "/x") is None
    with pytest.raises(IntegrationError, match="example: invalid JSON in HTTP 200 answer"):
        api.request_json("GET", "/x")


def test_make_client_sets_base_url_timeout_and_user_agent() -> None:
    script = Script(ok())
    client = make_client(
        "https://api.example.test/v1",
        headers={"X-A": "1"},
        timeout=4.0,
        transport=httpx.MockTransport(script),
    )

    client.get("/items")

    request = script.seen[0]
    assert str(request.url) == "https://api.example.test/v1/items"
    assert request.headers["User-Agent"] == USER_AGENT and request.headers["X-A"] == "1"
    assert client.timeout == httpx.Timeout(4.0)


def test_request_json_defaults_the_service_name_to_the_host() -> None:
    with pytest.raises(HTTPNotFound, match=r"^api.example.test: HTTP 404"):
        request_json(client_for(Script(httpx.Response(404))), "GET", "/gone", sleep=Sleeps())


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), (" 1.5 ", 1.5), ("-4", 0.0), ("soon", None), ("", None), (None, None)],
)
def test_parse_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    later = (now + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")

    assert parse_retry_after(later, now=now) == 30.0


def test_backoff_is_exponential_jittered_and_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0, jitter=0.1)

    def fixed() -> float:
        return 1.0  # the largest jitter

    assert [backoff_delay(policy, n, lambda: 0.0) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert backoff_delay(policy, 1, fixed) == pytest.approx(1.1)
    assert backoff_delay(policy, 20, fixed) == 30.0


def test_a_policy_needs_at_least_one_attempt() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
