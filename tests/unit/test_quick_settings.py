"""The CLI's quick settings (joelclaw.config.quick) never disagree with `Settings`: the same
values from the same sources (environment over `.env`, names in any case), the same views, the
same configured secrets, the same message for a bad value, the same warning for an unknown
variable; anything else is read from `Settings` itself."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from joelclaw.config import VIEWS, Settings, load_settings
from joelclaw.config.quick import CoreSettings, QuickSettings
from joelclaw.config.views import setting_names
from joelclaw.errors import ConfigError
from joelclaw.redaction import configured_secrets


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory of its own (where `.env` is read)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def both() -> tuple[QuickSettings, Settings]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return QuickSettings(), load_settings()


def test_the_core_fields_are_settings_own() -> None:
    for name, info in CoreSettings.model_fields.items():
        mine = Settings.model_fields[name]
        assert (info.annotation, info.default, info.metadata) == (
            mine.annotation, mine.default, mine.metadata), name
    assert setting_names() == set(Settings.model_fields)


def test_defaults_agree(here: Path) -> None:
    quick, full = both()
    for name in CoreSettings.model_fields:
        assert getattr(quick, name) == getattr(full, name), name
    assert (quick.home_dir, quick.redis, quick.runs, quick.flower) == (
        full.home_dir, full.redis, full.runs, full.flower)
    assert "_settings" not in quick.__dict__  # nothing else was needed


def test_environment_over_dotenv_in_any_case(here: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    (here / ".env").write_text(
        "JOELCLAW_REDIS_URL=redis://from-dotenv:6379/0\n"
        "joelclaw_run_retention_days=3.5\n"
        "export JOELCLAW_FLOWER_URL=http://flower.local:5555\n"
        "JOELCLAW_HOME=${HOME_BASE}/claw\n"
        "JOELCLAW_EVENT_LOG_CAP=500\n"
        "JOELCLAW_TELEGRAM_TOKEN=123456:dotenv-secret-token-value\n"
        "JOELCLAW_REDIS_ACCEPT_EVICTION\n")
    monkeypatch.setenv("HOME_BASE", str(here))
    monkeypatch.setenv("JOELCLAW_EVENT_LOG_CAP", "2000")  # the environment wins
    monkeypatch.setenv("joelclaw_broker_url", "redis://:broker-password@broker:6379/1")
    monkeypatch.setenv("JOELCLAW_REDIS_TLS_CA", "")
    monkeypatch.setenv("JOELCLAW_API_TOKEN", "an-api-token-of-16+")
    quick, full = both()
    for name in CoreSettings.model_fields:
        assert getattr(quick, name) == getattr(full, name), name
    assert quick.runs.event_log_cap == 2000 and quick.runs.retention_days == 3.5
    assert quick.redis == full.redis and quick.home_dir == full.home_dir == here / "claw"
    assert quick.secrets() == configured_secrets(full)
    assert "dotenv-secret-token-value" in " ".join(quick.secrets())
    assert "broker-password" in quick.secrets()


def test_anything_else_is_read_from_settings(here: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    monkeypatch.setenv("JOELCLAW_WEB_PORT", "4000")
    monkeypatch.setenv("JOELCLAW_FUNCTION_MODULES", "a.b, c.d")
    quick, full = both()
    assert "_settings" not in quick.__dict__
    assert quick.web == full.web and quick.worker.function_modules == ["a.b", "c.d"]
    assert quick.memory_home == full.memory_home
    for name in VIEWS:
        assert getattr(quick, name) == getattr(full, name), name


@pytest.mark.parametrize(("variable", "value"), [
    ("JOELCLAW_RUN_RETENTION_DAYS", "-1"), ("JOELCLAW_REDIS_URL", "http://x"),
    ("JOELCLAW_TIMEZONE", "Mars/Olympus"), ("JOELCLAW_EVENT_LOG_CAP", "lots"),
    ("JOELCLAW_REDIS_APPENDFSYNC", "sometimes"), ("JOELCLAW_FLOWER_PORT", "0"),
])
def test_a_bad_core_value_is_the_same_error(here: Path, monkeypatch: pytest.MonkeyPatch,
                                            variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as expected:
        load_settings()
    with pytest.raises(ConfigError) as got:
        QuickSettings()
    assert str(got.value) == str(expected.value) and variable in str(got.value)


def test_another_bad_value_is_found_when_read(here: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    """Validated lazily: a read command that needs no web setting answers; asking for one
    gives Settings' own message."""
    monkeypatch.setenv("JOELCLAW_WEB_PORT", "abc")
    quick = QuickSettings()
    assert quick.runs.retention_days == 7.0
    with pytest.raises(ConfigError, match="JOELCLAW_WEB_PORT"):
        _ = quick.web


def test_an_unknown_variable_is_the_same_warning(here: Path, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    monkeypatch.setenv("JOELCLAW_REDIS_URLL", "x")
    for read in (load_settings, QuickSettings):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            read()
        assert [str(w.message) for w in caught] == [
            "unknown setting JOELCLAW_REDIS_URLL; did you mean JOELCLAW_REDIS_URL?"]
