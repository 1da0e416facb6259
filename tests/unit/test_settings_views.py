"""Settings are read by concern: `settings.telegram.token`, `settings.redis.url`, ...

The environment keeps its flat names (JOELCLAW_TELEGRAM_TOKEN); each view is a typed, read-only
object over them. Every setting is in exactly one view (or is one of the system-wide ones), with
the setting's own type, and a view always shows the settings object it came from.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from joelclaw.config import TOP_LEVEL, VIEWS, Settings, load_settings


def _shown() -> list[str]:
    return [f.metadata["setting"] for view in VIEWS.values() for f in dataclasses.fields(view)]


def test_every_setting_is_in_exactly_one_view() -> None:
    shown = _shown()
    assert sorted(shown) == sorted(set(shown))  # none twice
    assert sorted([*shown, *TOP_LEVEL]) == sorted(Settings.model_fields)


def test_a_view_field_has_the_type_of_its_setting() -> None:
    for view in VIEWS.values():
        hints = typing.get_type_hints(view)
        for f in dataclasses.fields(view):
            assert hints[f.name] == Settings.model_fields[f.metadata["setting"]].annotation, \
                (view.__name__, f.name)


def test_views_show_the_values_read_from_the_environment(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.setenv("JOELCLAW_TELEGRAM_TOKEN", "123:abc")
    monkeypatch.setenv("JOELCLAW_WEB_PORT", "4000")
    monkeypatch.setenv("JOELCLAW_BROKER_URL", "amqp://guest@127.0.0.1//")
    monkeypatch.setenv("JOELCLAW_DOCS_FETCH_HOSTS", "example.com, docs.example.org")
    settings = load_settings(_env_file=None)
    assert settings.telegram.token == "123:abc"
    assert settings.web.port == 4000
    assert settings.redis.broker_url == "amqp://guest@127.0.0.1//"
    assert settings.docs.fetch_hosts == ["example.com", "docs.example.org"]
    for name, view in VIEWS.items():
        shown = getattr(settings, name)
        assert isinstance(shown, view)
        for f in dataclasses.fields(view):
            assert getattr(shown, f.name) == getattr(settings, f.metadata["setting"])


def test_views_are_read_only_and_hide_credentials_in_their_repr() -> None:
    settings = Settings(_env_file=None, telegram_token="123:secret-token")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.telegram.token = "other"  # type: ignore[misc]
    assert "secret-token" not in repr(settings.telegram)


def test_overrides_are_seen_by_views_and_derived_paths_computed_before() -> None:
    settings = Settings(_env_file=None, telegram_token="one", home=Path("/tmp/jc-one"))
    assert (settings.telegram.token, settings.home_dir) == ("one", Path("/tmp/jc-one"))
    changed = settings.with_overrides(telegram_token="two", home=Path("/tmp/jc-two"))
    assert (changed.telegram.token, changed.home_dir) == ("two", Path("/tmp/jc-two"))
    assert (settings.telegram.token, settings.home_dir) == ("one", Path("/tmp/jc-one"))
