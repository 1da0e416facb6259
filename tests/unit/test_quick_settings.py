"""The CLI's quick settings (joelclaw.config.quick) never disagree with `Settings`: the same
values from the same sources (environment over `.env`, names in any case), the same views, the
same configured secrets, the same message for a bad value, the same warning for an unknown
variable; each concern validated alone (with the fields mixin `Settings` inherits) reads what
`Settings` reads, from either source; anything else is read from `Settings` itself."""

from __future__ import annotations

import warnings
from dataclasses import fields
from pathlib import Path

import pytest

from joelclaw.config import VIEWS, Settings, load_settings
from joelclaw.config.quick import CONFIG, DECLARED_BY, CoreSettings, QuickSettings, mixin_of
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


# ---- each concern validated alone (the registry readers: `status`, `functions`, ...) ------

# A value for every kind of setting outside the core, in both sources and any case: lists
# (comma-separated and JSON), JSON mappings, crons, paths, flags, numbers.
DOTENV = (
    "JOELCLAW_FUNCTION_MODULES=tests.functions, other.module\n"
    "joelclaw_docs_fetch_hosts=[\"example.com\", \"docs.example.org:8080\"]\n"
    "JOELCLAW_BACKUP_REDIS_CRON=15 4 * * *\n"
    "JOELCLAW_LLM_PRICES={\"m-1\": {\"input\": 1.5, \"output\": 2}}\n"
    "JOELCLAW_TELEGRAM_TOKEN=123456:from-the-dotenv-file\n"
    "JOELCLAW_WEB_PORT=4100\n"
)
ENVIRONMENT = {
    "JOELCLAW_WEB_PORT": "4200",  # over the .env file's
    "JOELCLAW_SESSIONS_PRUNE_DIRS": "/tmp/a, /tmp/b",
    "JOELCLAW_TASK_EVENTS": "[\"proj.*\"]",
    "Joelclaw_Memory_Reflect_Cron": "30 5 * * 1-5",
    "JOELCLAW_BREAKER_PROVIDERS": "{\"todoist\": {\"failures\": 2, \"open_seconds\": 60}}",
    "JOELCLAW_EFFECT_BUDGETS": "{\"*\": {\"run\": {\"notify\": 4}}}",
    "JOELCLAW_SUPERVISED": "true",
    "JOELCLAW_MEMORY_DIR": "~/notes",
    "JOELCLAW_TELEGRAM_OWNER_ID": "42",
    "JOELCLAW_LLM_VISION": "1",
    "JOELCLAW_O11Y_MODEL": "",
}


def test_each_concern_is_declared_by_a_mixin_of_settings() -> None:
    assert set(DECLARED_BY) == set(VIEWS)
    for view, cls in VIEWS.items():
        mixin = mixin_of(view)
        assert mixin in Settings.__mro__, view
        shown = {f.metadata["setting"] for f in fields(cls)}
        assert shown == set(mixin.model_fields), view
    for key, value in CONFIG.items():
        if key != "defer_build":
            assert Settings.model_config[key] == value, key  # type: ignore[literal-required]
    assert Settings.model_config["enable_decoding"] is False  # every value read as its text


def test_every_concern_reads_what_settings_reads(here: Path, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    (here / ".env").write_text(DOTENV)
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    quick, full = both()
    assert quick.worker.function_modules == ["tests.functions", "other.module"]
    assert quick.web.port == 4200 and quick.llm.prices == {"m-1": {"input": 1.5, "output": 2}}
    assert quick.breakers.tuning("todoist").failures == 2
    for name in VIEWS:
        assert getattr(quick, name) == getattr(full, name), name
    for name in Settings.model_fields:
        assert getattr(quick, name) == getattr(full, name), name
    assert "_settings" not in quick.__dict__  # each concern was read alone
    assert quick.secrets() == configured_secrets(full)


@pytest.mark.parametrize(("variable", "value"), [
    ("JOELCLAW_WEB_PORT", "abc"), ("JOELCLAW_LLM_PRICES", "{not json"),
    ("JOELCLAW_BREAKER_PROVIDERS", "{\"nobody\": {}}"), ("JOELCLAW_EFFECT_BUDGETS", "[1]"),
    ("JOELCLAW_BACKUP_REDIS_CRON", "every day"), ("JOELCLAW_WORKER_CONCURRENCY", "0"),
])
def test_a_bad_value_of_a_concern_is_settings_own_error_when_read(
        here: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as expected:
        load_settings()
    quick = QuickSettings()  # the core is fine: it answers
    view = next(name for name, cls in VIEWS.items()
                if variable[len("JOELCLAW_"):].lower() in
                {f.metadata["setting"] for f in fields(cls)})
    with pytest.raises(ConfigError) as got:
        getattr(quick, view)
    assert str(got.value) == str(expected.value) and variable in str(got.value)


def test_the_defaults_read_nothing(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a function's declaration checks its settings-read crons with: the defaults, as
    `Settings.model_construct()` holds them, whatever the environment or `.env` says."""
    (here / ".env").write_text(DOTENV)
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    defaults, constructed = QuickSettings.defaults(), Settings.model_construct()
    for name in VIEWS:
        assert getattr(defaults, name) == getattr(constructed, name), name
    for name in Settings.model_fields:
        assert getattr(defaults, name) == getattr(constructed, name), name
    assert defaults.memory_home == constructed.memory_home


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_a_concern_given_no_value_is_its_validated_defaults(view: str) -> None:
    """The quick reader takes a concern given no value as its defaults without validating
    them: that holds only while every default validates to itself."""
    from joelclaw.config.quick import concern_model

    model = concern_model(mixin_of(view))
    validated, constructed = model.model_validate({}), model.model_construct()
    for name in model.model_fields:
        assert getattr(validated, name) == getattr(constructed, name), name
        assert type(getattr(validated, name)) is type(getattr(constructed, name)), name
    validated = CoreSettings.model_validate({})
    for name in CoreSettings.model_fields:
        assert getattr(validated, name) == getattr(CoreSettings.model_construct(), name), name
