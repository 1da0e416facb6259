"""The CLI's small Redis client (joelclaw.redisconn.resp) against a real Redis, beside
redis-py: the same replies for every command it speaks, pipelines included; what it does not
speak (another command, a transaction, a TLS or Sentinel URL) is redis-py's; errors are its
own, and the CLI turns them into the usual envelopes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from joelclaw.redisconn import resp

DEAD = "redis://127.0.0.1:1/0"


@pytest.fixture
def clients(redis_url: str) -> Iterator[tuple[Any, redis.Redis]]:
    real = redis.Redis.from_url(redis_url)
    quick = resp.connect(redis_url, lambda: redis.Redis.from_url(redis_url))
    assert quick is not None
    real.hset("h", mapping={"a": "1", "b": b"\x00\xff", "t:x": "{}"})
    real.zadd("z", {"one": 1, "two": 2.5, "three": 3})
    real.rpush("l", "x", "y")
    real.sadd("s", "p", "q")
    real.set("k", "v")
    yield quick, real
    quick.close()
    real.close()


CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("ping", (), {}), ("get", ("k",), {}), ("get", ("missing",), {}),
    ("exists", ("k", "h", "missing"), {}), ("hget", ("h", "b"), {}), ("hgetall", ("h",), {}),
    ("hgetall", ("missing",), {}), ("hmget", ("h", ["a", "b", "c"]), {}),
    ("hmget", ("h", "a", "b"), {}), ("hkeys", ("h",), {}), ("hlen", ("h",), {}),
    ("llen", ("l",), {}), ("lrange", ("l", 0, -1), {}), ("scard", ("s",), {}),
    ("smembers", ("s",), {}), ("zcard", ("z",), {}), ("zscore", ("z", "two"), {}),
    ("zcount", ("z", 2, "+inf"), {}), ("zcount", ("missing", "-inf", "+inf"), {}),
    ("zrevrange", ("z", 0, 0), {}), ("zrevrange", ("z", 0, -1), {}),
    ("zrevrange", ("missing", 0, 0), {}), ("zrange", ("z", 0, -1), {}),
    ("zrange", ("z", 0, 1), {"withscores": True}),
    ("zrange", ("missing", 0, 4), {"withscores": True}), ("hvals", ("h",), {}),
    ("hvals", ("missing",), {}),
    ("info", ("persistence",), {}), ("info", ("replication",), {}), ("info", ("keyspace",), {}),
    ("config_get", ("appendonly",), {}), ("config_get", ("save",), {}),
    ("config_get", ("maxmemory*",), {}), ("config_get", ("no-such-setting",), {}),
    ("zscore", ("z", "nope"), {}), ("zrangebyscore", ("z", "-inf", "+inf"), {}),
    ("zrangebyscore", ("z", 1.5, 3), {"start": 0, "num": 1}),
    ("zrevrangebyscore", ("z", "+inf", "-inf"), {"start": 1, "num": 5}),
    ("zrevrangebyscore", ("z", 3000.0, 2), {}),
    ("zrevrangebyscore", ("z", "+inf", "-inf"), {"start": 0, "num": 2, "withscores": True}),
    ("zrangebyscore", ("z", 1, 3), {"withscores": True}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), CALLS)
def test_each_command_replies_as_redis_py_does(clients: tuple[Any, redis.Redis], name: str,
                                               args: tuple[Any, ...],
                                               kwargs: dict[str, Any]) -> None:
    quick, real = clients
    assert name in resp.COMMANDS
    assert getattr(quick, name)(*args, **kwargs) == getattr(real, name)(*args, **kwargs)


def test_a_pipeline_replies_as_redis_py_does(clients: tuple[Any, redis.Redis]) -> None:
    quick, real = clients
    replies = []
    for client in (quick, real):
        pipe = client.pipeline(transaction=False)
        pipe.hgetall("h")
        pipe.hmget("h", ("a", "zz"))
        pipe.zrevrangebyscore("z", "+inf", "-inf", start=0, num=2)
        replies.append(pipe.execute())
    assert replies[0] == replies[1]
    assert quick.pipeline(transaction=False).execute() == []


def test_what_it_does_not_speak_is_redis_pys(clients: tuple[Any, redis.Redis]) -> None:
    quick, real = clients
    assert "incr" not in resp.COMMANDS
    assert quick.incr("counter") == 1  # a command it does not speak
    pipe = quick.pipeline(transaction=False)
    pipe.hget("h", "a")
    pipe.incr("counter")  # makes the whole pipeline redis-py's
    assert pipe.execute() == [b"1", 2]
    with quick.pipeline() as transaction:  # a transaction is redis-py's
        transaction.incr("counter")
        assert transaction.execute() == [3]
    assert sorted(quick.scan_iter(match="[hz]", count=1)) == [b"h", b"z"]
    assert real.get("counter") == b"3"


def test_urls_it_leaves_to_redis_py() -> None:
    def never() -> None:
        raise AssertionError("not built for a URL the client does not take")

    for url in ("rediss://127.0.0.1:6379/0", "redis+sentinel://127.0.0.1:26379/main",
                "redis://127.0.0.1:6379/0?socket_keepalive=true", "redis://127.0.0.1:x/0",
                "redis://", "unix://"):
        assert resp.connect(url, never) is None, url
    for url in ("redis://127.0.0.1", "redis://user:p%40ss@host:7000/3",
                "unix:///tmp/redis.sock?db=2&password=x"):
        assert resp.connect(url, never) is not None, url
    address = resp.Address("redis://user:p%40ss@host:7000/3")
    assert (address.host, address.port, address.db, address.username, address.password) == (
        "host", 7000, 3, "user", "p@ss")


def test_errors_are_its_own_and_the_connection_stays_in_step(
        clients: tuple[Any, redis.Redis]) -> None:
    quick, _ = clients
    with pytest.raises(resp.ReplyError, match="WRONGTYPE"):
        quick.hgetall("z")
    assert quick.get("k") == b"v"  # the next reply is its own
    dead = resp.connect(DEAD, lambda: None)
    assert dead is not None
    with pytest.raises(resp.ConnectionFailed, match=r"connecting to 127\.0\.0\.1:1\b"):
        dead.ping()


def test_a_wrong_password_is_a_reply_error(redis_url: str) -> None:
    wrong = resp.connect(redis_url.replace("://:", "://:wrong"), lambda: None)
    assert wrong is not None
    with pytest.raises(resp.ReplyError):
        wrong.ping()


def test_a_unix_socket(tmp_path: Any) -> None:
    """A unix:// URL, against a real server listening on a socket (started here, stopped
    here)."""
    import subprocess

    from joelclaw.embedded.redis import find_redis_binary
    from tests import support

    sock = tmp_path / "redis.sock"
    server = subprocess.Popen([find_redis_binary(support.REDIS_SERVER), "--port", "0",
                               "--unixsocket", str(sock), "--save", "", "--appendonly", "no",
                               "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        real = support.wait_for(lambda: _client(sock), timeout=15)
        real.set("k", "unix")
        quick = resp.connect(f"unix://{sock}?db=0", lambda: None)
        assert quick is not None and quick.get("k") == b"unix"
        quick.close()
        real.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


def _client(sock: Any) -> redis.Redis | None:
    try:
        client = redis.Redis(unix_socket_path=str(sock))
        client.ping()
        return client
    except redis.ConnectionError:
        return None


def test_large_replies_arrive_whole(clients: tuple[Any, redis.Redis]) -> None:
    """Replies much larger than one read (a run hash with big step results), many at once."""
    quick, real = clients
    big = bytes(range(256)) * 12_000  # ~3 MB, every byte value, CRLFs inside
    real.hset("big", mapping={f"m:{n}": big + str(n).encode() for n in range(3)})
    assert quick.hgetall("big") == real.hgetall("big")
    pipe = quick.pipeline(transaction=False)
    for _ in range(3):
        pipe.hget("big", "m:1")
    pipe.hkeys("h")
    assert pipe.execute() == [big + b"1"] * 3 + [real.hkeys("h")]


def test_a_read_that_timed_out_leaves_no_reply_for_the_next_command(redis_url: str) -> None:
    """A reply that arrives after its read gave up (a timeout) must not answer the next
    command: the client drops that connection and opens another, as redis-py does."""
    real = redis.Redis.from_url(redis_url)
    real.set("k", "v")
    quick = resp.connect(redis_url, lambda: redis.Redis.from_url(redis_url), socket_timeout=0.2)
    assert quick is not None
    with pytest.raises(resp.ConnectionFailed):  # blocks until the list gets an element
        quick.connection().call([["BLPOP", "late", 0]])
    real.rpush("late", "x")  # Redis answers the BLPOP (if it still could) before this returns
    assert quick.get("k") == b"v"
    quick.close()
    real.close()
