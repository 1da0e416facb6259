"""Declaring flow-control options: valid ones become typed options; an invalid option or
expression fails at declaration with a FunctionDefinitionError naming function and option."""

from __future__ import annotations

import pytest

from joelclaw.bus.functions import Concurrency, Throttle, function, priority_level
from joelclaw.errors import FunctionDefinitionError


def declare(**options: object):
    return function("t-decl", trigger="test/decl", **options)(lambda ctx: None)


def test_valid_options_are_typed():
    fn = declare(concurrency=[3, {"limit": 1, "key": "event.data.user", "scope": "shared"}],
                 throttle={"limit": 2, "period": "1m", "burst": 1})
    assert fn.flow.concurrency[0] == Concurrency(limit=3)
    assert fn.flow.concurrency[1].key.source == "event.data.user"
    assert fn.flow.throttle == Throttle(limit=2, period=60.0, burst=1)


def test_plain_functions_have_no_flow():
    assert declare().flow is None


@pytest.mark.parametrize(("options", "message"), [
    ({"concurrency": [1, 2, 3]}, "at most 2"),
    ({"concurrency": {"limit": 0}}, "limit must be an integer >= 1"),
    ({"concurrency": {"limit": 1, "scope": "shared"}}, "needs a key"),
    ({"concurrency": {"limit": 1, "scope": "account", "key": "event.x"}}, "scope must be"),
    ({"concurrency": {"limit": 1, "key": "event.data.("}}, "concurrency.key"),
    ({"concurrency": {"limit": 1, "key": "user.id"}}, "concurrency.key"),
    ({"throttle": {"limit": 2}}, "period must be a duration"),
    ({"throttle": {"limit": 2, "period": "soon"}}, "period must be a duration"),
    ({"rate_limit": {"limit": 1, "period": "1s", "per": 2}}, "unknown field"),
    ({"debounce": {"period": "-1s"}}, "period"),
    ({"batch": {"max_size": 10}}, "timeout"),
    ({"batch": {"max_size": 2, "timeout": 1}, "idempotency": "event.id"}, "cannot be combined"),
    ({"priority": "event.data.vip"}, "expected a dict"),
    ({"priority": {"run": "event.data.vip ?"}}, "priority.run"),
    ({"idempotency": 42}, "expected an expression"),
    ({"singleton": {"mode": "queue"}}, "mode must be one of"),
    ({"cancel_on": [{"event": "Bad Name"}]}, "invalid trigger"),
    ({"cancel_on": [{"event": "a/b", "match": "data.x", "if": "true"}]}, "not both"),
    ({"cancel_on": [{"event": "a/b", "if": "async.data.x == "}]}, "cancel_on.if"),
    ({"concurency": 2}, "unknown option(s) concurency"),
])
def test_invalid_options_are_rejected_at_declaration(options, message):
    with pytest.raises(FunctionDefinitionError) as info:
        declare(**options)
    assert "t-decl" in str(info.value) and message in str(info.value)


def test_priority_levels_map_onto_redis_priorities():
    assert priority_level(0, 5) == 5 and priority_level(None, 5) == 5
    assert priority_level(600, 5) == 0 and priority_level(1, 5) == 4
    assert priority_level(-600, 5) == 9 and priority_level(-1, 5) == 6
    assert priority_level(10_000, 5) == 0
