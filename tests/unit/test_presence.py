"""A worker's presence stamp: what its sweeper writes reads back whole, and the shapes older
workers wrote still read (a bare timestamp; JSON without its process and host)."""

from __future__ import annotations

import json

import pytest

from joelclaw.bus.records import presence


def test_a_stamp_reads_back_whole():
    raw = presence.stamp(["joelclaw", "gateway"], 4242, "box",
                         {"code_version": "abc123", "generation": 3})
    seen = presence.parse(raw.encode())
    assert seen.queues == ["gateway", "joelclaw"] and seen.pid == 4242 and seen.host == "box"
    assert seen.code_version == "abc123" and seen.generation == 3
    assert seen.at == json.loads(raw)["at"]


def test_older_stamps_still_read():
    assert presence.parse(b"1700000000.5") == presence.Presence(1700000000.5)
    older = presence.parse(json.dumps({"at": 5.0, "queues": ["joelclaw"]}))
    assert older == presence.Presence(5.0, ["joelclaw"])


@pytest.mark.parametrize("raw", [b"not json", b"{}", b"[1, 2]", b'{"at": "soon"}'])
def test_an_unreadable_stamp_is_a_value_error(raw):
    with pytest.raises(ValueError):
        presence.parse(raw)
