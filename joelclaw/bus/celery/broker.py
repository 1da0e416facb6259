"""kombu's Redis transport, made to survive a broker restart.

When the broker connection is lost, Celery's consumer collects the connection (which detaches
the transport from its connection info) and then closes its channel, which first drops the
channel's Redis pools and then restores the messages this worker had received but not acked.
Restoring needs a new pool, built from the connection info that is gone: kombu raises
`AttributeError: 'NoneType' object has no attribute 'hostname'` and the worker exits with
"Unrecoverable error" instead of reconnecting. This channel keeps the connection info it was
created with, so the restore can still reach the broker (or fail with a connection error the
consumer retries), and the worker carries on.

Used for `redis://` and `rediss://` brokers, and for Sentinel (`sentinel://`, from a
`redis+sentinel://` URL) where a failover is such a loss (the app factory,
joelclaw.bus.celery.app, sets `broker_transport`); AMQP has no such path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from kombu.transport import redis as kombu_redis

TRANSPORT = "joelclaw.bus.celery.broker:Transport"
SENTINEL_TRANSPORT = "joelclaw.bus.celery.broker:SentinelTransport"


class _KeepsConnectionInfo:
    """Mixed into kombu's Redis channels (first in the bases, so its methods wrap kombu's):
    remember the connection info at creation, borrow it back while detached."""

    connection: Any

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._transport = self.connection
        self._conninfo = self.connection.client

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        with self._borrowed():
            return super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]

    @contextlib.contextmanager
    def _borrowed(self) -> Iterator[None]:
        transport = self.connection if self.connection is not None else self._transport
        if transport.client is not None or self._conninfo is None:
            yield
            return
        # Detached by a lost connection: borrow the info back for this one pool.
        restore_connection, self.connection = self.connection, transport
        transport.client = self._conninfo
        try:
            yield
        finally:
            transport.client = None
            self.connection = restore_connection


class Channel(_KeepsConnectionInfo, kombu_redis.Channel):
    pass


class Transport(kombu_redis.Transport):
    Channel = Channel


class SentinelChannel(_KeepsConnectionInfo, kombu_redis.SentinelChannel):
    """The same for `sentinel://` brokers: the pool asks the Sentinels (listed in the
    connection info) for the current primary, after a failover too."""

    def _sentinel_managed_pool(self, asynchronous: bool = False) -> Any:
        with self._borrowed():
            return super()._sentinel_managed_pool(asynchronous=asynchronous)


class SentinelTransport(kombu_redis.SentinelTransport):
    Channel = SentinelChannel
