"""Every Redis client joelclaw builds, from one URL form, so TLS and Sentinel work everywhere.

- `redis://`, `unix://`: as redis-py reads them.
- `rediss://`: TLS, verified against `JOELCLAW_REDIS_TLS_CA` (else the system's CAs), with a
  client certificate from `JOELCLAW_REDIS_TLS_CERT` + `JOELCLAW_REDIS_TLS_KEY` when the server
  asks for one.
- `redis+sentinel://[:password@]host:port,host:port/master_name[/db]`: the current primary of
  `master_name`, asked of those Sentinels (the password is the data nodes'; Sentinels without
  auth). A client built this way finds the new primary after a failover by itself: a command
  that fails on the old one raises a connection error, and the next one asks the Sentinels.
  The broker is the same servers through kombu's Sentinel transport (`broker()`).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import redis
from redis.sentinel import Sentinel

from joelclaw import keys
from joelclaw.errors import ConfigError, JoelclawError

if TYPE_CHECKING:
    from joelclaw.config import Settings

SENTINEL = "redis+sentinel://"


@dataclass(frozen=True)
class TLS:
    """Client-side TLS files for `rediss://` (None: the default for each)."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None

    @classmethod
    def of(cls, settings: Settings | None) -> TLS:
        if settings is None:
            return cls()
        return cls(settings.redis.tls_ca, settings.redis.tls_cert, settings.redis.tls_key)

    def _files(self) -> dict[str, str]:
        """The CA and client certificate files that are set, by redis-py's (and kombu's) names."""
        named = {"ssl_ca_certs": self.ca, "ssl_certfile": self.cert, "ssl_keyfile": self.key}
        return {name: path for name, path in named.items() if path}

    def client_options(self) -> dict[str, Any]:
        return {"ssl_cert_reqs": "required", **self._files()}

    def kombu_options(self) -> dict[str, Any]:
        """Celery's `broker_use_ssl` for a `rediss://` broker."""
        return {"ssl_cert_reqs": ssl.CERT_REQUIRED, **self._files()}


@dataclass(frozen=True)
class SentinelURL:
    """A parsed `redis+sentinel://` URL."""

    hosts: tuple[tuple[str, int], ...]
    master: str
    db: int
    password: str | None
    username: str | None

    @classmethod
    def parse(cls, url: str) -> SentinelURL:
        rest = url[len(SENTINEL):]
        auth, _, rest = rest.rpartition("@")
        hostpart, _, path = rest.partition("/")
        parts = [p for p in path.split("/") if p]
        if not hostpart or not parts:
            raise ConfigError(f"expected {SENTINEL}host:port,host:port/master_name[/db], got "
                              f"{redact(url)!r}")
        hosts = []
        for item in hostpart.split(","):
            host, _, port = item.rpartition(":")
            if not host or not port.isdigit():
                raise ConfigError(f"a Sentinel address must be host:port, got {item!r}")
            hosts.append((host.strip("[]"), int(port)))
        db = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        username, _, password = auth.partition(":") if auth else ("", "", "")
        return cls(tuple(hosts), unquote(parts[0]), db, unquote(password) or None,
                   unquote(username) or None)

    def broker_url(self) -> str:
        """The same servers as kombu's Sentinel transport spells them."""
        auth = f":{self.password}@" if self.password else ""
        return ";".join(f"sentinel://{auth}{h}:{p}/{self.db}" for h, p in self.hosts)


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def is_sentinel(url: str) -> bool:
    return url.startswith(SENTINEL)


def connect(url: str, settings: Settings | None = None, **options: Any) -> redis.Redis:
    """A client for `url` (any form above); `options` go to redis-py (timeouts...)."""
    if is_sentinel(url):
        found = SentinelURL.parse(url)
        timeouts = {k: v for k, v in options.items()
                    if k in ("socket_timeout", "socket_connect_timeout")}
        sentinel = Sentinel(list(found.hosts), sentinel_kwargs=timeouts, **timeouts)
        return sentinel.master_for(found.master, redis_class=redis.Redis, db=found.db,
                                   password=found.password, username=found.username,
                                   **options)
    if url.startswith("rediss://"):
        options = {**TLS.of(settings).client_options(), **options}
    try:
        return redis.Redis.from_url(url, **options)
    except ValueError as exc:
        raise ConfigError(f"bad Redis URL {redact(url)!r}: {exc}") from None


class NotReplicated(JoelclawError, redis.exceptions.RedisError):
    """Fewer replicas than JOELCLAW_REDIS_WAIT_REPLICAS confirmed a write in time: the event
    is stored on the primary but not acknowledged (the API answers 503; a retry with the same
    event id is deduplicated). A RedisError too: whatever answers an unreachable Redis with
    a 503 answers this the same way."""

    code = "NOT_REPLICATED"


def wait_replicas(client: redis.Redis, replicas: int, timeout_ms: int) -> int:
    """Block until `replicas` replicas have every write made so far, or raise NotReplicated.

    WAIT counts the writes of its own connection, and a pool may hand out another: a fence
    write on the same connection, just before WAIT, is after every earlier write of this
    process in the replication stream, whichever connection made them."""
    pipe = client.pipeline(transaction=False)
    pipe.incr(keys.REPLICATION_FENCE)
    pipe.execute_command("WAIT", replicas, timeout_ms)
    confirmed = int(pipe.execute()[1])
    if confirmed < replicas:
        raise NotReplicated(f"{confirmed} of {replicas} replica(s) confirmed the write within "
                            f"{timeout_ms} ms (JOELCLAW_REDIS_WAIT_REPLICAS)")
    return confirmed


def broker(url: str, settings: Settings | None = None) -> tuple[str, dict[str, Any],
                                                                dict[str, Any] | None]:
    """Celery's broker URL, extra transport options and `broker_use_ssl` for `url`."""
    if is_sentinel(url):
        found = SentinelURL.parse(url)
        return found.broker_url(), {"master_name": found.master}, None
    if url.startswith("rediss://"):
        return url, {}, TLS.of(settings).kombu_options()
    return url, {}, None
