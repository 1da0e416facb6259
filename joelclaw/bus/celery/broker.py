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

A run's message is held in the worker's memory only (`RunsHeldInMemory`): kombu writes every
message a worker takes to its `unacked` hash and index (MULTI, ZADD, HSET, EXEC), then removes it
at the ack (four more), two round trips on the consumer's thread, the first one before the task
reaches the pool. For a run's message that record protects nothing the run store does not: from
its publish until its execution begins, a run has an outbox entry or a wake-up, and from then a
lease (joelclaw.bus.delivery.leases), which the sweeper publishes again if the message is lost;
the broker's redelivery after the visibility timeout is the very duplicate the lease must then
refuse. Every other message (plain Celery tasks as steps, canvas callbacks, the gateway's drain)
keeps kombu's record.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual

from joelclaw import keys

log = logging.getLogger("joelclaw.broker")

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


class RunsHeldInMemory(kombu_redis.QoS):
    """kombu's Redis ack emulation, except for a run's message (a joelclaw function's task):
    the worker keeps it in memory while it holds it, with what to push back if it must (a
    requeue, a warm shutdown), and writes nothing to Redis when it takes or acknowledges it."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._runs: dict[str, tuple[Any, str, str]] = {}  # tag -> (payload, exchange, key)

    def append(self, message: Any, delivery_tag: str) -> None:
        if not str((message.headers or {}).get("task", "")).startswith(keys.FUNCTION_TASK_PREFIX):
            super().append(message, delivery_tag)
            return
        delivery = message.delivery_info
        self._runs[delivery_tag] = (message._raw, delivery["exchange"], delivery["routing_key"])
        virtual.QoS.append(self, message, delivery_tag)

    def ack(self, delivery_tag: str) -> None:
        if self._runs.pop(delivery_tag, None) is None:
            super().ack(delivery_tag)
            return
        virtual.QoS.ack(self, delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        held = self._runs.pop(delivery_tag, None)
        if held is None:
            super().reject(delivery_tag, requeue=requeue)
            return
        if requeue:
            with self.channel.conn_or_acquire() as client:
                self._push_back(held, client, leftmost=True)
        virtual.QoS.ack(self, delivery_tag)

    def restore_unacked(self, client: Any = None) -> None:
        """At shutdown: runs' messages go back from memory, the others as kombu does."""
        delivered: Any = self._delivered
        with self.channel.conn_or_acquire(client) as client:
            for tag in list(delivered):
                held = self._runs.pop(tag, None)
                if held is None:
                    self.restore_by_tag(tag, client=client)
                else:
                    self._push_back(held, client)
        delivered.clear()

    def _push_back(self, held: tuple[Any, str, str], client: Any, leftmost: bool = False
                   ) -> None:
        """Requeue a run's message; a broker that cannot take it loses nothing (the run's
        outbox entry, wake-up or lease publishes it again)."""
        payload, exchange, routing_key = held
        try:
            self.channel._do_restore_message(payload, exchange, routing_key, client, leftmost)
        except kombu_redis.Transport.connection_errors:
            log.warning("could not requeue a run's message; its run store entry will publish "
                        "it again", exc_info=True)


class Channel(_KeepsConnectionInfo, kombu_redis.Channel):
    QoS = RunsHeldInMemory


class Transport(kombu_redis.Transport):
    Channel = Channel


class SentinelChannel(_KeepsConnectionInfo, kombu_redis.SentinelChannel):
    """The same for `sentinel://` brokers: the pool asks the Sentinels (listed in the
    connection info) for the current primary, after a failover too."""

    QoS = RunsHeldInMemory

    def _sentinel_managed_pool(self, asynchronous: bool = False) -> Any:
        with self._borrowed():
            return super()._sentinel_managed_pool(asynchronous=asynchronous)


class SentinelTransport(kombu_redis.SentinelTransport):
    Channel = SentinelChannel
