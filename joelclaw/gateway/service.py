"""The gateway's shared handle: settings, Redis, the queue and the Telegram client, plus the two
operations every producer needs (request a drain, sleep mode)."""

from __future__ import annotations

import logging
import os
import threading
import time
from functools import cached_property
from typing import TYPE_CHECKING

from joelclaw.events.model import Event
from joelclaw.gateway import keys
from joelclaw.gateway.queue import MessageQueue
from joelclaw.integrations.telegram import TelegramClient

if TYPE_CHECKING:
    from joelclaw.runtime import Runtime

log = logging.getLogger("joelclaw.gateway")

DRAIN_EVENT = "gateway/drain.requested"
DRAIN_RUNNING = keys.PREFIX + "drain:running"  # held by the drain loop while it works
PENDING_TTL = 60


class Gateway:
    """Cheap to build; connects lazily. One per drain run or poller thread."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.settings = rt.settings

    @cached_property
    def queue(self) -> MessageQueue:
        return MessageQueue(self.rt.redis, lease_seconds=self.settings.gateway_claim_lease_seconds)

    @cached_property
    def telegram(self) -> TelegramClient | None:
        """None without a bot token: notifications then stay queued, commands still parse."""
        if not self.settings.telegram_token:
            return None
        return shared_client(self.settings.telegram_token, self.settings.telegram_api_url,
                             self.settings.gateway_chat_interval_seconds)

    @property
    def owner(self) -> int | None:
        return self.settings.telegram_owner_id

    def sleeping(self) -> bool:
        return self.rt.redis.get(keys.MODE) == b"sleep"

    def set_sleeping(self, asleep: bool) -> None:
        if asleep:
            self.rt.redis.set(keys.MODE, "sleep")
        else:
            self.rt.redis.delete(keys.MODE)

    def close(self) -> None:
        """Nothing to release: the Telegram client is shared by the process (see below)."""


_clients: dict[tuple[int, str, str, float], TelegramClient] = {}
_clients_lock = threading.Lock()


def shared_client(token: str, base_url: str, interval: float) -> TelegramClient:
    """One client per process and bot, so per-chat pacing holds across drain runs and the
    connection is reused. Keyed by pid: a forked pool process never shares its parent's sockets.
    """
    key = (os.getpid(), token, base_url, interval)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = TelegramClient(token, base_url,
                                                    min_interval_per_chat=interval)
        return client


def request_drain(rt: Runtime, *, force: bool = False) -> bool:
    """Start a drain run on the gateway queue unless one is already requested.

    The flag is cleared by the drain when it starts, so a message enqueued during a drain
    requests a new one and no wake-up is lost; duplicates only cost an empty run.
    """
    if not force and not rt.redis.set(keys.DRAIN_PENDING, "1", nx=True, ex=PENDING_TTL):
        return False
    rt.redis.set(keys.DRAIN_PENDING, "1", ex=PENDING_TTL)
    rt.send(Event(name=DRAIN_EVENT, data={"at": time.time()}))
    return True


def drain_idle(rt: Runtime) -> bool:
    """No drain requested or running: the watchdog may kick one."""
    return not rt.redis.exists(keys.DRAIN_PENDING, DRAIN_RUNNING)
