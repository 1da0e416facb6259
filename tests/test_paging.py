"""Reading a time-scored sorted set newest first while it changes (joelclaw.redisconn.paging),
against a real Redis: each member at most once and none of those present throughout skipped,
however members are added above, at or below the part already read, or removed from it; and the
listings built on it (runs, the event log) list a run started between two pages once."""

from __future__ import annotations

import threading

import redis

from joelclaw.redisconn import paging
from joelclaw.runtime import Runtime
from tests.conftest import make_settings

KEY = "t:paging"
SENT = 150  # runs started while the listings are read


def test_members_added_above_the_part_read_move_nothing(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.zadd(KEY, {f"m{i}": i for i in range(1, 6)})
    pages = paging.newest_first(client, KEY, page=2)
    assert next(pages) == [b"m5", b"m4"]
    client.zadd(KEY, {"m6": 6, "m7": 7})  # new members at the top: offset paging relisted m4
    assert [m for page in pages for m in page] == [b"m3", b"m2", b"m1"]


def test_a_member_removed_meanwhile_skips_no_other(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.zadd(KEY, {f"m{i}": i for i in range(1, 6)})
    pages = paging.newest_first(client, KEY, page=2)
    assert next(pages) == [b"m5", b"m4"]
    client.zrem(KEY, "m5")  # offset paging skipped m3 here
    assert [m for page in pages for m in page] == [b"m3", b"m2", b"m1"]


def test_ties_longer_than_a_page_come_once_each(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.zadd(KEY, {**{f"t{i}": 5 for i in range(7)}, "low": 1, "high": 9})
    pages = paging.newest_first(client, KEY, page=3)
    first = next(pages)
    client.zrem(KEY, first[1].decode())  # one of the tie already read goes away
    client.zadd(KEY, {"late": 5})  # another joins it
    members = first + [m for page in pages for m in page]
    assert len(members) == len(set(members))
    assert set(members) >= {b"high", b"low", *(f"t{i}".encode() for i in range(7))}
    assert members[0] == b"high" and members[-1] == b"low"


def test_bounds_and_an_empty_set(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    assert list(paging.newest_first(client, KEY)) == []
    client.zadd(KEY, {f"m{i}": i for i in range(1, 10)})
    assert [m for page in paging.newest_first(client, KEY, 7, 3, page=2) for m in page] == [
        b"m7", b"m6", b"m5", b"m4", b"m3"]


def test_listings_taken_while_runs_start_list_each_run_and_event_once(tmp_path,
                                                                      redis_url: str) -> None:
    """The absence test's flake: a listing of one run read the index again after it (offset
    1); a run had started meanwhile, so that page held the first run again and the listing
    showed it twice (and not the new one). Here runs start all along while the run and event
    listings are read; every listing holds each run or event once, newest first."""
    from joelclaw.events.model import Event
    from joelclaw.events.store import list_events

    rt = Runtime(make_settings(tmp_path / "home", redis_url))
    sent = [0]

    def send_runs() -> None:
        for n in range(SENT):
            rt.send([Event(name="test/steps", data={"n": n})])
            sent[0] += 1

    sender = threading.Thread(target=send_runs, daemon=True)
    sender.start()
    listings = 0
    try:
        while sender.is_alive() or listings == 0:
            runs = rt.runs.list(function="t-steps", limit=2 * SENT)
            assert len({r.id for r in runs}) == len(runs), [r.id for r in runs]
            ms = [int(r.created_at * 1000) for r in runs]  # the index's score
            assert ms == sorted(ms, reverse=True)
            events = list_events(rt.redis, name="test/steps", limit=2 * SENT)
            assert len({e["event"]["id"] for e in events}) == len(events)
            listings += 1
    finally:
        sender.join(30)
    assert sent[0] == SENT and len(rt.runs.list(function="t-steps", limit=2 * SENT)) == SENT
