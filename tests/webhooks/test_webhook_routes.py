"""Every rule of `POST /webhooks/<provider>` and `GET /webhooks`, through the Flask test client
against a real Redis (SPEC §6)."""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from joelclaw.config import Settings
from joelclaw.events.store import list_events
from joelclaw.integrations.echo import ECHO_TTL_SECONDS, echo_key, mark_completed_by_system
from joelclaw.runtime import Runtime
from tests.support import stored_events
from tests.webhooks.webhook_support import (
    PROVIDER_NAMES,
    SECRET_SETTINGS,
    bearer,
    configured,
    fixture,
    fixture_names,
    secret,
    sign,
)
from webhooks import create_app, limits
from webhooks.providers import PROVIDERS
from webhooks.routes import MAX_BODY_BYTES

ALL_FIXTURES = [(p, n) for p in PROVIDER_NAMES for n in fixture_names(p)]


def post(client: FlaskClient, provider: str, raw: bytes, headers: dict[str, str],
         ip: str = "203.0.113.7") -> Any:
    return client.post(f"/webhooks/{provider}", data=raw, headers=headers,
                       environ_base={"REMOTE_ADDR": ip})


def expected_events(provider: str, raw: bytes, headers: dict[str, str]) -> list[Any]:
    return PROVIDERS[provider].normalize(json.loads(raw), headers)


@pytest.mark.parametrize(("provider", "name"), ALL_FIXTURES,
                         ids=[f"{p}-{n}" for p, n in ALL_FIXTURES])
def test_every_signed_fixture_is_accepted_and_its_redelivery_deduplicated(
    client: FlaskClient, rt: Runtime, provider: str, name: str
) -> None:
    raw, headers = fixture(provider, name)
    first = post(client, provider, raw, headers)
    assert first.status_code == 200, first.get_data(as_text=True)
    body = first.get_json()
    if "X-Front-Challenge" in headers:  # Front's validation request: echoed, nothing emitted
        assert body == {"challenge": headers["X-Front-Challenge"]}
        return
    events = expected_events(provider, raw, headers)
    assert body["ok"] is True and body["events"] == len(events)
    assert body["ids"] == [e.id for e in events]
    for event_id in body["ids"]:
        assert rt.redis.exists(f"jc:event:{event_id}")
    again = post(client, provider, raw, headers).get_json()
    assert again["ids"] == body["ids"] and again["deduplicated"] == len(events)


def test_unknown_provider_is_404_json(client: FlaskClient) -> None:
    response = client.post("/webhooks/nope", data=b"{}")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "NOT_FOUND"
    assert client.get("/webhooks/github").status_code == 405  # only POST; JSON too
    assert client.get("/webhooks/github").get_json()["ok"] is False


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
def test_a_provider_without_its_secret_is_401_never_500(
    settings: Settings, provider: str
) -> None:
    app = create_app(configured(settings, **{SECRET_SETTINGS[provider]: None}))
    raw, headers = fixture(provider, fixture_names(provider)[0])
    response = app.test_client().post(f"/webhooks/{provider}", data=raw, headers=headers)
    assert response.status_code == 401
    error = response.get_json()["error"]
    assert error["code"] == "NOT_CONFIGURED"
    assert f"JOELCLAW_{SECRET_SETTINGS[provider].upper()}" in error["message"]


def test_a_body_over_256_kb_is_413_by_content_length(client: FlaskClient) -> None:
    raw = b"{" + b" " * MAX_BODY_BYTES + b"}"
    response = post(client, "github", raw, sign("github", raw))
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    exactly = json.dumps({"pad": "x" * (MAX_BODY_BYTES - 20)}).encode()[:MAX_BODY_BYTES]
    assert post(client, "github", exactly, {"X-GitHub-Event": "push"}).status_code == 401


def test_a_body_over_256_kb_without_content_length_is_413_by_read_size(
    client: FlaskClient,
) -> None:
    raw = b"[" + b"0," * (MAX_BODY_BYTES // 2) + b"0]"
    response = client.post(
        "/webhooks/github", input_stream=io.BytesIO(raw), headers=sign("github", raw),
        environ_overrides={"wsgi.input_terminated": True, "REMOTE_ADDR": "203.0.113.8"},
    )
    assert response.status_code == 413


SIGNATURE_HEADERS = {"github": "X-Hub-Signature-256", "todoist": "X-Todoist-Hmac-SHA256",
                     "front": "X-Front-Signature", "vercel": "x-vercel-signature",
                     "telegram": "X-Telegram-Bot-Api-Secret-Token"}


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
@pytest.mark.parametrize("how", ["tampered-body", "wrong-signature", "no-signature"])
def test_a_bad_signature_is_401(client: FlaskClient, rt: Runtime, provider: str,
                                how: str) -> None:
    raw, headers = fixture(provider, fixture_names(provider)[-1])
    header = SIGNATURE_HEADERS[provider]
    if how == "tampered-body":
        if provider == "telegram":
            pytest.skip("telegram signs nothing: its secret token is a header")
        raw = raw.replace(b'"', b'"x', 1)
    elif how == "wrong-signature":
        value = headers[header]
        headers = {**headers, header: value[:-2] + ("AA" if value[-2:] != "AA" else "BB")}
    else:
        headers = {k: v for k, v in headers.items() if k.lower() != header.lower()}
    response = post(client, provider, raw, headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "INVALID_SIGNATURE"
    assert stored_events(rt.redis) == 0


def test_twenty_failures_from_one_ip_within_60s_turn_into_429(
    client: FlaskClient, rt: Runtime
) -> None:
    raw, headers = fixture("github", "push")
    bad = {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64}
    statuses = [post(client, "github", raw, bad, ip="198.51.100.9").status_code
                for _ in range(limits.MAX_FAILURES)]
    assert statuses == [401] * limits.MAX_FAILURES
    blocked = post(client, "github", raw, headers, ip="198.51.100.9")  # even a good one
    assert blocked.status_code == 429
    assert blocked.get_json()["error"]["code"] == "RATE_LIMITED"
    assert 0 < rt.redis.ttl(limits.failure_key("198.51.100.9")) <= limits.WINDOW_SECONDS
    assert post(client, "github", raw, headers, ip="198.51.100.10").status_code == 200
    rt.redis.delete(limits.failure_key("198.51.100.9"))  # the window passing
    assert post(client, "github", raw, headers, ip="198.51.100.9").status_code == 200


def test_failures_are_counted_atomically_across_threads(rt: Runtime) -> None:
    threads = [threading.Thread(target=lambda: [limits.record_failure(rt.redis, "192.0.2.1")
                                                for _ in range(25)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert int(rt.redis.get(limits.failure_key("192.0.2.1"))) == 200
    assert 0 < rt.redis.ttl(limits.failure_key("192.0.2.1")) <= limits.WINDOW_SECONDS


def test_the_proxy_hop_of_x_forwarded_for_is_the_client_only_behind_loopback(
    client: FlaskClient, rt: Runtime
) -> None:
    raw, headers = fixture("github", "push")
    bad = {**headers, "X-Hub-Signature-256": "sha256=" + "1" * 64,
           "X-Forwarded-For": "10.9.9.9, 192.0.2.44"}
    post(client, "github", raw, bad, ip="127.0.0.1")
    post(client, "github", raw, bad, ip="203.0.113.50")
    assert rt.redis.get(limits.failure_key("192.0.2.44")) == b"1"
    assert rt.redis.get(limits.failure_key("203.0.113.50")) == b"1"
    assert not rt.redis.exists(limits.failure_key("10.9.9.9"))


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b'{"a": 1'],
                         ids=["garbage", "empty", "binary", "truncated"])
def test_malformed_json_with_a_valid_signature_is_400(
    client: FlaskClient, provider: str, raw: bytes
) -> None:
    response = post(client, provider, raw, sign(provider, raw))
    assert response.status_code == 400
    assert "malformed JSON" in response.get_json()["error"]["message"]


def test_malformed_json_on_front_app_webhooks_is_400(client: FlaskClient) -> None:
    raw = b'{"type": "inbound_received",'
    assert post(client, "front", raw, sign("front", raw)).status_code == 400


@pytest.mark.parametrize("provider", ["github", "todoist", "vercel", "telegram"])
def test_deeply_nested_json_is_400_not_a_recursion_crash(
    client: FlaskClient, provider: str
) -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    response = post(client, provider, raw, sign(provider, raw))
    assert response.status_code == 400


def test_a_payload_normalize_rejects_is_400(client: FlaskClient) -> None:
    raw, headers = fixture("github", "push")
    response = post(client, "github", raw, {**headers, "X-GitHub-Event": "Not A Token!"})
    assert response.status_code == 400
    assert "X-GitHub-Event" in response.get_json()["error"]["message"]
    todoist = json.dumps({"event_name": "item:added", "event_data": "oops"}).encode()
    assert post(client, "todoist", todoist, sign("todoist", todoist)).status_code == 400


def test_front_validation_challenge_is_answered_and_emits_nothing(
    client: FlaskClient, rt: Runtime
) -> None:
    raw, headers = fixture("front", "app_sync")
    response = post(client, "front", raw, headers)
    assert response.status_code == 200
    assert response.get_json() == {"challenge": headers["X-Front-Challenge"]}
    assert stored_events(rt.redis) == 0
    unsigned = {k: v for k, v in headers.items() if k != "X-Front-Signature"}
    assert post(client, "front", raw, unsigned).status_code == 401  # verified first


def test_todoist_echo_of_a_task_the_system_completed_emits_nothing(
    client: FlaskClient, rt: Runtime
) -> None:
    raw, headers = fixture("todoist", "item_completed")
    task_id = json.loads(raw)["event_data"]["id"]
    mark_completed_by_system(rt.redis, task_id)
    assert 0 < rt.redis.ttl(echo_key(task_id)) <= ECHO_TTL_SECONDS
    body = post(client, "todoist", raw, headers).get_json()
    assert body["events"] == 0 and body["ids"] == [] and "suppressed" in body["note"]
    assert stored_events(rt.redis) == 0
    other, other_headers = fixture("todoist", "item_added")  # other events still flow
    assert post(client, "todoist", other, other_headers).get_json()["events"] == 1
    rt.redis.delete(echo_key(task_id))  # 60 s later
    assert post(client, "todoist", raw, headers).get_json()["events"] == 1


def test_events_without_a_mapping_answer_200_with_zero_events(client: FlaskClient) -> None:
    raw, headers = fixture("todoist", "project_added")
    body = post(client, "todoist", raw, headers).get_json()
    assert body == {"ok": True, "events": 0, "ids": [], "deduplicated": 0,
                    "note": "nothing to emit"}


def test_get_webhooks_lists_providers_and_configuration_but_no_secret(
    settings: Settings,
) -> None:
    app = create_app(configured(settings, vercel_webhook_secret=None))
    response = app.test_client().get("/webhooks", headers=bearer())
    assert response.status_code == 200
    listed = {p["name"]: p for p in response.get_json()["providers"]}
    assert set(listed) == set(PROVIDER_NAMES)
    assert listed["vercel"]["configured"] is False and listed["github"]["configured"] is True
    assert listed["github"]["route"] == "/webhooks/github"
    text = response.get_data(as_text=True)
    assert all(secret(p) not in text for p in PROVIDER_NAMES)


@pytest.fixture
def provider_api() -> Iterator[tuple[str, list[bytes]]]:
    """A local TCP server standing in for every provider API; it records any connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    calls: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            calls.append(conn.recv(4096))
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", calls
    stop.set()
    thread.join(2)
    server.close()


def test_no_provider_api_is_called_inside_the_request(
    settings: Settings, provider_api: tuple[str, list[bytes]]
) -> None:
    url, calls = provider_api
    app = create_app(configured(settings, todoist_api_url=url, front_api_url=url,
                                telegram_api_url=url, todoist_token="t", front_token="t",
                                telegram_token="123:abc"))
    client = app.test_client()
    for provider, name in ALL_FIXTURES:
        raw, headers = fixture(provider, name)
        assert post(client, provider, raw, headers).status_code == 200
    assert calls == []


def test_a_strangers_telegram_update_is_dropped_before_it_is_stored(
    client: FlaskClient, rt: Runtime
) -> None:
    # Given webhook mode and an update from someone who is not the owner
    raw, headers = fixture("telegram", "message_text")
    update = json.loads(raw)
    update["message"]["from"]["id"] = 555
    update["update_id"] += 1
    body = json.dumps(update).encode()
    response = post(client, "telegram", body, headers)
    # Then Telegram gets its 200, and nothing is kept: no event, no run
    assert response.status_code == 200
    assert response.get_json()["events"] == 0 and "not from the owner" in response.get_json()[
        "note"]
    assert list_events(rt.redis, name="telegram/message.received") == []
    assert rt.runs.list(limit=10) == []
    # While the owner's own update is stored as before
    assert post(client, "telegram", raw, headers).get_json()["events"] == 1
