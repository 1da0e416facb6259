"""The one redaction: key names, value shapes, configured values; and the one log filter,
installed once, that hides them in every record without collecting secrets as it goes."""

from __future__ import annotations

import logging

import pytest

from joelclaw.config import Settings
from joelclaw.redaction import (
    REDACTED,
    configured_secrets,
    install_log_redaction,
    redact,
    redact_text,
    secret_key,
    secrets_in_scope,
)

TELEGRAM = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"


@pytest.mark.parametrize("name", ["password", "Password", "token", "bot_token", "api_key",
                                  "apiKey", "X-Api-Key", "authorization", "Authorization",
                                  "client_secret", "clientSecret", "refresh_token", "cookie",
                                  "aws_secret_access_key", "private_key", "auth", "basic_auth",
                                  "credentials", "pwd"])
def test_secret_key_names(name: str) -> None:
    assert secret_key(name)


@pytest.mark.parametrize("name", ["author", "key", "step_key", "max_tokens", "input_tokens",
                                  "token_count", "secret_setting", "token_type", "name",
                                  "monkey", "keyboard", "event_id"])
def test_names_that_hold_no_secret(name: str) -> None:
    assert not secret_key(name)


def test_redact_by_key_keeps_structure_flags_and_counts() -> None:
    value = {"user": "ann", "password": "pw-1234567", "nested": [{"Token": 42}],
             "has_token": True, "token": None, "max_tokens": 100, "secret_setting": "x_secret"}
    assert redact(value) == {"user": "ann", "password": REDACTED, "nested": [{"Token": REDACTED}],
                             "has_token": True, "token": None, "max_tokens": 100,
                             "secret_setting": "x_secret"}


@pytest.mark.parametrize(("text", "secret"), [
    (f"bot {TELEGRAM} here", TELEGRAM),
    (f"https://api.telegram.org/bot{TELEGRAM}/getUpdates", TELEGRAM),
    ("Authorization: Bearer abcdefgh12345678", "abcdefgh12345678"),
    ("Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
     "eyJzdWIiOiIxMjM0NTY3ODkwIn0"),
    ("ghp_0123456789abcdefghijklmnopqrstuvwxyz", "ghp_0123456789abcdefghij"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "github_pat_11ABC"),
    ("xoxb-123456789012-abcdefghijklmnop", "xoxb-123456789012"),
    ("https://hooks.slack.com/services/T000/B000/XXXXXXXX", "T000/B000"),
    ("key AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("sk-proj-abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwx"),
    ("sk_live_abcdefghijklmnop1234", "abcdefghijklmnop1234"),
    ("AIzaSyA-abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz012345"),
    ("redis://:hunter2pass@host:6379/0", "hunter2pass"),
    ("GET /x?access_token=opaque123&page=2", "opaque123"),
    ("{'password': 'hunter2', 'user': 'ann'}", "hunter2"),
    ('{"client_secret": "abc-123-def"}', "abc-123-def"),
    ("upstream refused token 9f8e7d6c5b4a3210 today", "9f8e7d6c5b4a3210"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "MIIEow"),
])
def test_secret_shapes_are_redacted(text: str, secret: str) -> None:
    clean = redact_text(text)
    assert secret not in clean and REDACTED in clean


@pytest.mark.parametrize("text", ["the token expired", "step key one at 12:30:45",
                                  "max_tokens=512", "run-1796116862676-a05897b1",
                                  "Connected to redis://:**@127.0.0.1:1/0",
                                  "basic functionality works", "2026-01-01T10:00:00+00:00",
                                  "sha 0123456789abcdef0123456789abcdef01234567"])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_a_value_under_a_secret_key_is_secret_elsewhere_in_the_same_value() -> None:
    value = {"event": {"data": {"token": "opaque-token-abc"}},
             "error": {"message": "refused opaque-token-abc"}}
    assert redact(value)["error"]["message"] == f"refused {REDACTED}"


def test_configured_secrets_come_from_secret_settings_and_url_passwords() -> None:
    settings = Settings(_env_file=None, telegram_token=TELEGRAM, api_token="api-token-value-0001",
                        flower_password="flower-pw-1", llm_api_key="llm-key-value",
                        redis_url="redis://:redis-pw-99@127.0.0.1:6379/0",
                        front_webhook_secret="abc")  # too short to replace safely
    found = configured_secrets(settings)
    assert set(found) == {TELEGRAM, "api-token-value-0001", "flower-pw-1", "llm-key-value",
                          "redis-pw-99"}
    assert redact({"note": "see llm-key-value"}, found) == {"note": f"see {REDACTED}"}


def test_log_records_are_redacted_for_every_logger(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(_env_file=None, todoist_token="configured-opaque-value")
    install_log_redaction(settings)
    caplog.set_level(logging.INFO)
    logging.getLogger("anything.at.all").info("sent %s and %s", "configured-opaque-value",
                                              {"password": "pw-value-1"})
    try:
        raise RuntimeError(f"boom {TELEGRAM}")
    except RuntimeError:
        logging.getLogger("other").exception("failed")
    assert "configured-opaque-value" not in caplog.text and "pw-value-1" not in caplog.text
    assert TELEGRAM not in caplog.text and "boom [redacted]" in caplog.text


def test_scoped_secrets_last_only_for_their_call(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    caplog.set_level(logging.INFO)
    log = logging.getLogger("httpx")
    with secrets_in_scope(["opaque-client-held"]):
        log.info("HTTP Request: POST https://x.test/opaque-client-held/send")
    log.info("later: opaque-client-held")
    lines = caplog.text.splitlines()
    assert "opaque-client-held" not in lines[0] and "opaque-client-held" in lines[1]


def test_installing_again_replaces_the_configured_secrets() -> None:
    first = install_log_redaction(Settings(_env_file=None, api_token="first-api-token-16chars"))
    factory = logging.getLogRecordFactory()
    second = install_log_redaction(Settings(_env_file=None, api_token="second-api-token-16chars"))
    assert first is second and second.secrets == ("second-api-token-16chars",)
    assert logging.getLogRecordFactory() is factory  # one filter, not one more per call
