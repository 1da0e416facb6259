"""Bad input gets a clear error naming the problem, never a traceback or a silent drop."""

from __future__ import annotations

import pytest

from joelclaw.bus.functions import function, trigger
from joelclaw.config import Settings, load_settings
from joelclaw.errors import ConfigError, EventError, FunctionDefinitionError
from joelclaw.events.model import Event
from joelclaw.events.schemas import parse_event
from joelclaw.runtime import Runtime


@pytest.mark.parametrize("name", ["NoSlash", "Upper/Case", "a/b/c", "", "spaces in/name"])
def test_invalid_event_names_are_rejected(name):
    with pytest.raises(EventError, match="invalid event"):
        parse_event({"name": name})


def test_a_payload_that_fails_its_model_names_the_field(runtime):
    with pytest.raises(EventError, match=r"data\.action"):
        runtime.send(Event(name="system/log.written", data={"tool": "x", "detail": "y"}))
    assert runtime.runs.list() == []


def test_event_must_be_an_object():
    with pytest.raises(EventError, match="JSON object"):
        parse_event(["not", "an", "event"])


def test_redis_down_is_a_clear_config_error(tmp_path):
    rt = Runtime(Settings(_env_file=None, home=tmp_path, redis_url="redis://127.0.0.1:1/0"))
    with pytest.raises(ConfigError, match="cannot reach Redis"):
        rt.ping()


def test_bad_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv("JOELCLAW_WEB_PORT", "eighty")
    with pytest.raises(ConfigError, match="JOELCLAW_WEB_PORT"):
        load_settings()


def test_bad_timezone_names_the_variable(monkeypatch):
    monkeypatch.setenv("JOELCLAW_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigError, match="JOELCLAW_TIMEZONE"):
        load_settings()


def test_invalid_declarations_are_rejected_when_declared():
    with pytest.raises(FunctionDefinitionError, match="invalid function id"):
        function("Bad Id", trigger="a/b")
    with pytest.raises(FunctionDefinitionError, match="no trigger"):
        function("no-trigger")
    with pytest.raises(FunctionDefinitionError, match="trigger 'a/b'"):
        trigger("a/b", if_="event.data.x ==")
    with pytest.raises(FunctionDefinitionError, match="invalid trigger"):
        trigger("Not An Event")
    with pytest.raises(FunctionDefinitionError, match="unknown option"):
        function("x", trigger="a/b", concurency=1)
