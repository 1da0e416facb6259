"""The servers `joelclaw up` needs before anything else: Redis and Typesense, each either the
one the settings name (checked) or an embedded one run as a supervised service (started first,
ready before the other children, restarted on the same port with the same data, stopped last).

Their URLs are recorded under JOELCLAW_HOME once they answer (`<dir>/url`), so the CLI in another
shell finds them; a missing Typesense only turns memory off, with a warning naming the fix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

from joelclaw import durability, redisconn
from joelclaw.config import Settings
from joelclaw.embedded import RedisServer, TypesenseServer
from joelclaw.embedded.redis import outdated_warning
from joelclaw.errors import ConfigError
from joelclaw.ownerfiles import write_secret
from joelclaw.runtime import redact_url
from joelclaw.supervisor.processes import Supervisor


@dataclass
class Services:
    """Where Redis and Typesense are, and the embedded servers `up` supervises for them."""

    home: Path
    redis_url: str
    redis: RedisServer | None = None
    search_url: str | None = None
    search_key: str | None = None
    search: TypesenseServer | None = None
    search_off: str = ""

    @property
    def embedded(self) -> bool:
        return self.redis is not None

    def tail(self, failure: str) -> str:
        server = self.search if failure.startswith(SEARCH) else self.redis
        return server.log_tail() if server is not None else ""

    def record(self) -> None:
        """URL files let the CLI in another shell find the embedded servers once they answer
        (owner-only: the Redis URL carries its password)."""
        if self.redis is not None:
            write_secret(self.redis.directory / "url", self.redis_url)
        if self.search is not None and self.search_url:
            write_secret(self.search.directory / "url", self.search_url)

    def forget(self) -> None:
        for server in (self.redis, self.search):
            if server is not None:
                (server.directory / "url").unlink(missing_ok=True)

    def describe_search(self) -> str:
        if self.search is not None:
            return f"{self.search_url}  (embedded Typesense, data in {self.search.directory})"
        if self.search_url:
            return f"{redact_url(self.search_url)}  (JOELCLAW_TYPESENSE_URL)"
        return f"off: {self.search_off}"


SEARCH = "search"  # the embedded Typesense's name in the supervisor's output


@contextlib.contextmanager
def services_for(settings: Settings, supervisor: Supervisor, typesense: bool
              ) -> Iterator[Services]:
    """JOELCLAW_REDIS_URL checked, or an embedded Redis added as a supervised service; the same
    for Typesense, whose absence only turns memory off (with a warning naming the fix)."""
    home = settings.home_dir
    # The web app and Flower bind after the servers start: a kernel-picked port for a server
    # must not be one of theirs (check_ports found them free, so the kernel may offer them).
    reserved = frozenset({settings.web.port, settings.flower.port})
    if settings.redis.url:
        check_external_redis(settings.redis.url, supervisor.log,
                             settings.redis.accept_eviction, settings)
        services = Services(home, settings.redis.url)
    else:
        server = RedisServer(home / "redis", maxmemory=settings.redis.maxmemory,
                             appendfsync=settings.redis.appendfsync,
                             binary=settings.redis.server, reserved=reserved)
        services = Services(home, server.prepare(), redis=server)
        argv = server.argv()
        outdated = outdated_warning(argv[0])
        if outdated:
            supervisor.log(f"warning: {outdated}")
        supervisor.add("redis", argv, service=True, ready=server.ping)
    if settings.typesense.url:
        services.search_url, services.search_key = settings.typesense.url, \
            settings.typesense.api_key
    elif not typesense:
        services.search_off = "started with --no-typesense"
    else:
        _embedded_search(services, supervisor, reserved)
    try:
        yield services
    finally:
        services.forget()


def _embedded_search(services: Services, supervisor: Supervisor,
                     reserved: frozenset[int]) -> None:
    search = TypesenseServer(services.home / "typesense", reserved=reserved)
    try:
        url = search.prepare()
        argv = search.argv()
    except ConfigError as exc:
        services.search_off = str(exc)
        supervisor.log(f"warning: memory is off: {exc}")
        return
    services.search, services.search_url, services.search_key = search, url, search.api_key
    supervisor.add(SEARCH, argv, search.env(), service=True, ready=search.ping)


def check_external_redis(url: str, log: Callable[[str], None] = print,
                         accept_eviction: bool = False, settings: Settings | None = None) -> None:
    """Fail clearly when JOELCLAW_REDIS_URL does not answer, or may evict keys (unless that
    risk is accepted); say how durable it is."""
    try:
        client = redisconn.connect(url, settings, socket_connect_timeout=3, socket_timeout=5)
        client.ping()
        found = durability.read(client)
    except (redis.RedisError, ValueError) as exc:
        raise ConfigError(
            f"cannot reach Redis at {redact_url(url)} (JOELCLAW_REDIS_URL): {exc}"
        ) from None
    finally:
        client.close()
    for warning in found.warnings:
        log(f"warning: {warning}")
    reason = durability.refusal(found, accept_eviction)
    if reason:
        raise durability.EvictingRedis(reason)
