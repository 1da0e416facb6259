"""The canvas tree a step stores: chains, groups and chords (nested too) become task nodes with
paths; what is not a canvas, or not JSON, is refused with a clear message."""

from __future__ import annotations

import pytest
from celery import Celery, chord, group

from joelclaw.bus.execution import canvas
from joelclaw.errors import NonRetriable

app = Celery("spec", set_as_current=False)


def sig(name: str, *args: object):
    return app.signature(name, args=args)


def test_a_chain_with_a_chord_inside_keeps_order_and_paths() -> None:
    workflow = sig("a", 1) | chord([sig("b", 2), sig("c", 3)], sig("d")) | sig("e")
    tree = canvas.spec_of(workflow)
    assert tree["t"] == "chain"
    # Celery folds `chord | e` into the chord's body: chain(a, chord([b, c], d | e))
    assert [item["t"] for item in tree["items"]] == ["task", "chord"]
    assert tree["items"][1]["body"]["t"] == "chain"
    assert [leaf["task"] for leaf in canvas.leaves(tree)] == ["a", "b", "c", "d", "e"]
    assert [leaf["path"] for leaf in canvas.leaves(tree)] == [
        "r.0", "r.1.0", "r.1.1", "r.1.b.0", "r.1.b.1"]
    assert tree["items"][0]["args"] == [1]


def test_a_group_and_a_single_signature() -> None:
    tree = canvas.spec_of(group(sig("x", i) for i in range(3)))
    assert tree["t"] == "group" and len(tree["items"]) == 3
    single = canvas.spec_of(sig("x", 1).set(queue="q", priority=3))
    assert single == {"t": "task", "path": "r", "task": "x", "args": [1], "kwargs": {},
                      "options": {"queue": "q", "priority": 3}, "immutable": False}


def test_an_immutable_signature_stays_immutable() -> None:
    assert canvas.spec_of(app.signature("x", args=(1,), immutable=True))["immutable"] is True


@pytest.mark.parametrize("bad, words", [
    (42, "takes a signature, chain, group or chord, not int"),
    (app.signature("x", args=(object(),)), "arguments are not JSON"),
])
def test_what_is_not_a_canvas_is_refused_clearly(bad: object, words: str) -> None:
    with pytest.raises(NonRetriable, match=words):
        canvas.spec_of(bad)


def test_a_task_error_carries_type_message_and_traceback() -> None:
    try:
        raise KeyError("nope")
    except KeyError as exc:
        error = canvas.error_from_exception(exc)
    assert error["name"] == "KeyError" and error["message"] == "'nope'"
    assert 'raise KeyError("nope")' in error["stack"]
    assert canvas.error_from_exception(None)["name"] == "TaskFailed"
