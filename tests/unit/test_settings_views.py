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


def _as_dataclass(view: type) -> type:
    """The class `@dataclass(frozen=True, slots=True)` makes of a view's fields and methods."""
    own = {name: value for name, value in vars(view).items()
           if callable(value) and not name.startswith("__")}
    return dataclasses.make_dataclass(
        view.__name__, [(f.name, f.type, dataclasses.field(metadata=f.metadata, repr=f.repr))
                        for f in dataclasses.fields(view)],
        namespace=own, frozen=True, slots=True)


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_a_view_behaves_as_the_frozen_dataclass_it_declares(name: str) -> None:
    """The views' methods are written once (joelclaw.config.base.view), not compiled per
    class: each view answers as `@dataclass(frozen=True, slots=True)` would."""
    import copy
    import pickle

    view = VIEWS[name]
    assert all(getattr(view, method) is getattr(VIEWS["redis"], method)  # none compiled for it
               for method in ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__"))
    real = _as_dataclass(view)
    names = [f.name for f in dataclasses.fields(view)]
    values = {n: f"{n}-value" for n in names}
    other = {**values, names[0]: "another"}
    ours, theirs = view(**values), real(**values)
    assert repr(ours) == repr(theirs)
    assert view(*values.values()) == ours and real(*values.values()) == theirs
    assert (ours == view(**other), ours != view(**other)) == (False, True)
    assert ours != theirs and (ours == "x") is (theirs == "x") is False
    assert hash(ours) == hash(theirs) == hash(view(**values))
    assert view.__slots__ == real.__slots__ and not hasattr(ours, "__dict__")
    assert view.__match_args__ == real.__match_args__
    for field in names:
        errors = []
        for obj in (ours, theirs):
            with pytest.raises(dataclasses.FrozenInstanceError) as raised:
                setattr(obj, field, "x")
            errors.append(str(raised.value))
            with pytest.raises(dataclasses.FrozenInstanceError) as raised:
                delattr(obj, field)
            errors.append(str(raised.value))
        assert errors[:2] == errors[2:]
    for make in (view, real):
        with pytest.raises(TypeError):
            make(**dict(list(values.items())[1:]))  # a field missing
        with pytest.raises(TypeError):
            make(**values, unknown=1)
        with pytest.raises(TypeError):
            make(*values.values(), 1)  # one positional too many
    for roundtrip in (pickle.loads(pickle.dumps(ours)), copy.copy(ours), copy.deepcopy(ours)):
        assert roundtrip == ours and type(roundtrip) is view
    assert dataclasses.replace(ours, **{names[0]: "changed"}) == view(**{**values,
                                                                       names[0]: "changed"})
    assert dataclasses.asdict(ours) == dataclasses.asdict(theirs) == values
