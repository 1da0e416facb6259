"""A small Redis client for the CLI's read commands: RESP2 over one socket, the handful of
read commands they send (and EVAL, with which a reader applies a backlog before it reads), with
redis-py's replies (bytes, lists, dicts; no decoding).

Importing redis-py costs a read command most of its start (it imports asyncio and more), so a
plain `redis://` or `unix://` URL is read with this instead. Anything else is redis-py's job:
`connect` returns None for TLS, Sentinel and URLs with options, and a command or pipeline this
client does not know is handed to a redis-py client built on first need, so a caller written
for redis-py keeps working whatever it asks.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from joelclaw.errors import JoelclawError

Reply = Any


class ConnectionFailed(JoelclawError, ConnectionError):
    """Redis could not be reached (refused, no socket, timed out, closed)."""

    code = "REDIS_UNREACHABLE"


class ReplyError(JoelclawError):
    """Redis answered with an error."""

    code = "REDIS_ERROR"


def _pairs(flat: list[Any]) -> dict[Any, Any]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _limit(start: int | None, num: int | None) -> list[Any]:
    return ["LIMIT", start, num] if start is not None and num is not None else []


def _text(value: Any) -> Any:
    """redis-py's `str_if_bytes`."""
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def _config(reply: Reply) -> dict[str, Any]:
    """CONFIG GET's pairs as redis-py's `parse_config_get` gives them: text keys and values."""
    flat = [_text(item) if item is not None else None for item in reply or []]
    return _pairs(flat) if flat else {}


def _scored(reply: Reply) -> list[tuple[Any, float]]:
    """WITHSCORES pairs as redis-py gives them: (member, float score)."""
    return list(zip(reply[::2], (float(score) for score in reply[1::2]), strict=True))


def _info_value(value: str) -> Any:
    """One INFO value as redis-py's `parse_info` reads it: a number, a list, or a dict."""
    if "," not in value and "=" not in value:
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            return value
    if "=" not in value:
        return [_info_value(v) for v in value.split(",") if v]
    found: dict[str, Any] = {}
    for item in value.split(","):
        if not item:
            continue
        if "=" in item:
            key, sub = item.rsplit("=", 1)
            found[key] = _info_value(sub)
        else:
            found[item] = True
    return found


def _info(reply: Reply) -> dict[str, Any]:
    """INFO's text as redis-py's `parse_info` reads it (`durability` asks for persistence and
    replication): `key:value` lines, `module` lines gathered under `modules`, others raw."""
    info: dict[str, Any] = {}
    for line in _text(reply).splitlines():
        if not line or line.startswith("#"):
            continue
        if ":" not in line:
            info.setdefault("__raw__", []).append(line)
            continue
        key, value = line.split(":", 1)
        if key == "cmdstat_host":
            key, value = line.rsplit(":", 1)
        if key == "module":
            info.setdefault("modules", []).append(_info_value(value))
        else:
            info[key] = _info_value(value)
    return info


def _scores(withscores: bool) -> list[str]:
    return ["WITHSCORES"] if withscores else []


def _as_list(keys: Any, args: tuple[Any, ...]) -> list[Any]:
    """redis-py's `list_or_args`: a list of keys, or one key, then more."""
    base = [keys] if isinstance(keys, str | bytes | int | float) else list(keys)
    return base + list(args)


# name -> (command words, reply conversion) for the commands this client speaks; each takes
# redis-py's arguments (the keyword ones these commands' readers use).
def _commands() -> dict[str, Callable[..., tuple[list[Any], Callable[[Reply], Reply]]]]:
    same: Callable[[Reply], Reply] = lambda reply: reply  # noqa: E731
    return {
        "ping": lambda: (["PING"], lambda r: r == b"PONG"),
        "get": lambda name: (["GET", name], same),
        "exists": lambda *names: (["EXISTS", *names], same),
        "hget": lambda name, key: (["HGET", name, key], same),
        "hgetall": lambda name: (["HGETALL", name], _pairs),
        "hmget": lambda name, keys, *args: (["HMGET", name, *_as_list(keys, args)], same),
        "hkeys": lambda name: (["HKEYS", name], same),
        "hlen": lambda name: (["HLEN", name], same),
        "hvals": lambda name: (["HVALS", name], same),
        "info": lambda section=None, *args: (
            ["INFO", *([section, *args] if section is not None else [])], _info),
        "config_get": lambda pattern="*", *args: (["CONFIG", "GET", pattern, *args], _config),
        "llen": lambda name: (["LLEN", name], same),
        "lrange": lambda name, start, end: (["LRANGE", name, start, end], same),
        "scard": lambda name: (["SCARD", name], same),
        "smembers": lambda name: (["SMEMBERS", name], set),
        "zcard": lambda name: (["ZCARD", name], same),
        "zcount": lambda name, min, max: (["ZCOUNT", name, min, max], same),
        "zrange": lambda name, start, end, withscores=False: (
            ["ZRANGE", name, start, end, *_scores(withscores)],
            _scored if withscores else same),
        "zrevrange": lambda name, start, end: (["ZREVRANGE", name, start, end], same),
        # a reader applies a backlog before it reads (joelclaw.redisconn.backlog)
        "eval": lambda script, numkeys, *keys_and_args: (
            ["EVAL", script, numkeys, *keys_and_args], same),
        "zscore": lambda name, value: (["ZSCORE", name, value],
                                       lambda r: None if r is None else float(r)),
        "zrangebyscore": lambda name, min, max, start=None, num=None, withscores=False: (
            ["ZRANGEBYSCORE", name, min, max, *_scores(withscores), *_limit(start, num)],
            _scored if withscores else same),
        "zrevrangebyscore": lambda name, max, min, start=None, num=None, withscores=False: (
            ["ZREVRANGEBYSCORE", name, max, min, *_scores(withscores), *_limit(start, num)],
            _scored if withscores else same),
    }


COMMANDS = _commands()


def _encode(value: Any) -> bytes:
    """An argument as redis-py's encoder writes it."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        raise TypeError("a bool is not a Redis argument (as in redis-py): pass an int or str")
    if isinstance(value, float):
        return repr(value).encode()
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, memoryview):
        return value.tobytes()
    return str(value).encode()


def _pack(words: list[Any]) -> bytes:
    parts = [b"*%d\r\n" % len(words)]
    for word in words:
        data = _encode(word)
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class Address:
    """Where a plain URL points: a TCP host and port or a unix socket, its db and credentials."""

    def __init__(self, url: str) -> None:
        self.url = url
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        self.unix = parts.scheme == "unix"
        self.host, self.port = parts.hostname or "", parts.port or 6379
        self.path = parts.path if self.unix else ""
        db = query.pop("db", [""])[0] or (parts.path.strip("/") if not self.unix else "")
        self.db = int(db or 0)
        password = query.pop("password", [None])[0]
        self.password = unquote(parts.password) if parts.password else password
        self.username = unquote(parts.username) if parts.username else None
        self.plain = not query and (bool(self.path) if self.unix else bool(self.host))

    def describe(self) -> str:
        return f"unix socket: {self.path}" if self.unix else f"{self.host}:{self.port}"


class Connection:
    """One socket, commands written and replies read in order."""

    def __init__(self, address: Address, connect_timeout: float, timeout: float) -> None:
        self.address = address
        try:
            if address.unix:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(connect_timeout)
                self.sock.connect(address.path)
            else:
                self.sock = socket.create_connection((address.host, address.port),
                                                     connect_timeout)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except TimeoutError:
            raise ConnectionFailed(f"Timeout connecting to {address.describe()}") from None
        except OSError as exc:
            raise ConnectionFailed(f"Error {exc.errno} connecting to {address.describe()}. "
                                   f"{exc.strerror}.") from None
        self.sock.settimeout(timeout)
        self.broken = False  # a read gave up midway: a late reply would answer the next call
        self.buffer = bytearray()  # what was received; replies are parsed from `pos` on
        self.pos = 0
        if address.password:
            auth = [address.username, address.password] if address.username else \
                [address.password]
            self.call([["AUTH", *auth]])
        if address.db:
            self.call([["SELECT", address.db]])

    def call(self, commands: list[list[Any]]) -> list[Reply]:
        """Send the commands at once, read their replies; a reply error is raised after all
        replies are read (the connection stays in step)."""
        try:
            self.sock.sendall(b"".join(_pack(words) for words in commands))
            replies = [self._reply() for _ in commands]
        except TimeoutError:
            self._break()
            raise ConnectionFailed(f"Timeout reading from {self.address.describe()}") from None
        except OSError as exc:
            self._break()
            raise ConnectionFailed(f"Error while reading from {self.address.describe()}: "
                                   f"{exc}") from None
        for reply in replies:
            if isinstance(reply, ReplyError):
                raise reply
        return replies

    def close(self) -> None:
        self.sock.close()

    def _break(self) -> None:
        """Out of step with the server (replies unread or half read): never used again."""
        self.broken = True
        self.close()

    def _line(self) -> bytes:
        end = self.buffer.find(b"\r\n", self.pos)
        while end < 0:
            self._fill()
            end = self.buffer.find(b"\r\n", self.pos)
        line = bytes(self.buffer[self.pos:end])
        self.pos = end + 2
        return line

    def _fill(self) -> None:
        if self.pos > 65536 and self.pos * 2 > len(self.buffer):  # drop what was parsed
            del self.buffer[:self.pos]
            self.pos = 0
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionFailed(f"Connection closed by server ({self.address.describe()})")
        self.buffer += chunk

    def _reply(self) -> Reply:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return ReplyError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            while len(self.buffer) - self.pos < size + 2:
                self._fill()
            data = bytes(self.buffer[self.pos:self.pos + size])
            self.pos += size + 2
            return data
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._reply() for _ in range(count)]
        raise ConnectionFailed(f"unexpected reply from Redis: {line[:40]!r}")


class Pipeline:
    """redis-py's pipeline (without a transaction): calls are recorded and sent together. A
    pipeline with a call this client does not speak is replayed on redis-py's."""

    def __init__(self, client: QuickRedis) -> None:
        self.client = client
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., Pipeline]:
        if name.startswith("_"):
            raise AttributeError(name)

        def record(*args: Any, **kwargs: Any) -> Pipeline:
            self.calls.append((name, args, kwargs))
            return self

        return record

    def __len__(self) -> int:
        return len(self.calls)

    def execute(self) -> list[Reply]:
        calls, self.calls = self.calls, []
        if not calls:
            return []
        if any(name not in COMMANDS for name, _, _ in calls):
            pipe = self.client.fallback().pipeline(transaction=False)
            for name, args, kwargs in calls:
                getattr(pipe, name)(*args, **kwargs)
            return list(pipe.execute())
        built = [COMMANDS[name](*args, **kwargs) for name, args, kwargs in calls]
        replies = self.client.connection().call([words for words, _ in built])
        return [convert(reply) for (_, convert), reply in zip(built, replies, strict=True)]


class QuickRedis:
    """The commands in `COMMANDS`, spoken directly; any other attribute is redis-py's."""

    def __init__(self, address: Address, fallback: Callable[[], Any], *,
                 socket_connect_timeout: float = 3, socket_timeout: float = 15) -> None:
        self.address = address
        self._fallback_factory = fallback
        self._fallback: Any = None
        self._timeouts = (socket_connect_timeout, socket_timeout)
        self._connection: Connection | None = None

    def connection(self) -> Connection:
        if self._connection is None or self._connection.broken:
            self._connection = Connection(self.address, *self._timeouts)
        return self._connection

    def fallback(self) -> Any:
        """The redis-py client for the same server (built once, on first need)."""
        if self._fallback is None:
            self._fallback = self._fallback_factory()
        return self._fallback

    def pipeline(self, transaction: bool = True) -> Any:
        return Pipeline(self) if not transaction else self.fallback().pipeline(transaction=True)

    def scan_iter(self, match: str | None = None, count: int | None = None) -> Iterator[bytes]:
        cursor = b"0"
        while True:
            words: list[Any] = ["SCAN", cursor]
            words += ["MATCH", match] if match is not None else []
            words += ["COUNT", count] if count is not None else []
            cursor, keys = self.connection().call([words])[0]
            yield from keys
            if cursor == b"0":
                return

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._fallback is not None:
            self._fallback.close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        command = COMMANDS.get(name)
        if command is None:
            return getattr(self.fallback(), name)

        def call(*args: Any, **kwargs: Any) -> Reply:
            words, convert = command(*args, **kwargs)
            return convert(self.connection().call([words])[0])

        return call


def connect(url: str, fallback: Callable[[], Any], **options: Any) -> QuickRedis | None:
    """A quick client for a plain `redis://` or `unix://` URL (no TLS, no Sentinel, no options
    but db and password); None for any other, which redis-py serves. `fallback` builds the
    redis-py client for what this one does not speak."""
    if not url.startswith(("redis://", "unix://")):
        return None
    try:
        address = Address(url)
    except ValueError:  # a port or db that is not a number: redis-py says what is wrong
        return None
    return QuickRedis(address, fallback, **options) if address.plain else None
