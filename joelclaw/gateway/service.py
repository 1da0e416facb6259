"""The gateway's shared handle: settings, Redis, the queue and the Telegram client, plus the two
operations every producer needs (request a drain, sleep mode)."""

from __future__ import annotations

import logging
import os
import threading
from functools import cached_property
from typing import TYPE_CHECKING

from joelclaw import keys
from joelclaw.bus.delivery import broker_priority
from joelclaw.coordination import cooldown
from joelclaw.gateway.clock import Clock
from joelclaw.gateway.queue import MessageQueue
from joelclaw.integrations.telegram import TelegramClient

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

log = logging.getLogger("joelclaw.gateway")

DRAIN_TASK = "joelclaw.gateway.drain"  # a plain Celery task on the gateway queue
DRAIN_PRIORITY = 0  # the highest: the owner waits behind nothing else on that queue


class Gateway:
    """Cheap to build; connects lazily. One per drain or poller thread."""

    def __init__(self, rt: Bus) -> None:
        self.rt = rt
        self.settings = rt.settings

    @cached_property
    def queue(self) -> MessageQueue:
        return MessageQueue(self.rt.redis, clock=Clock(self.rt.redis),
                            lease_seconds=self.settings.gateway.claim_lease_seconds)

    @cached_property
    def telegram(self) -> TelegramClient | None:
        """None without a bot token: notifications then stay queued, commands still parse."""
        if not self.settings.telegram.token:
            return None
        return CLIENTS.get(self.settings.telegram.token, self.settings.telegram.api_url,
                           self.settings.gateway.chat_interval_seconds)

    @property
    def owner(self) -> int | None:
        return self.settings.telegram.owner_id

    def sleeping(self) -> bool:
        return self.rt.redis.get(keys.GW_MODE) == b"sleep"

    def set_sleeping(self, asleep: bool) -> None:
        if asleep:
            self.rt.redis.set(keys.GW_MODE, "sleep")
        else:
            self.rt.redis.delete(keys.GW_MODE)


class TelegramClients:
    """One Telegram client per process and bot, so per-chat pacing holds across drains and the
    connection is reused. A forked pool process never uses its parent's sockets (keyed by pid);
    the gateway worker closes them when it stops."""

    def __init__(self) -> None:
        self._clients: dict[tuple[int, str, str, float], TelegramClient] = {}
        self._lock = threading.Lock()

    def get(self, token: str, base_url: str, interval: float) -> TelegramClient:
        key = (os.getpid(), token, base_url, interval)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = TelegramClient(token, base_url,
                                                             min_interval_per_chat=interval)
            return client

    def close_all(self) -> None:
        with self._lock:
            mine = [k for k in self._clients if k[0] == os.getpid()]
            for key in mine:
                self._clients.pop(key).close()


CLIENTS = TelegramClients()


def request_drain(rt: Bus, *, force: bool = False) -> bool:
    """Ask the gateway worker to drain its queue, unless a request is already outstanding.

    One plain Celery message on the gateway queue (no event, no run). The flag is a cooldown
    (joelclaw.coordination.cooldown) cleared by the drain when it starts, so a message enqueued
    during a drain requests a new one and no wake-up is lost; a duplicate request only costs an
    empty drain. Without a Telegram token nothing can be delivered: no drain is requested (a gateway
    that has one kicks its own drains when messages wait).
    """
    if not rt.settings.telegram.token:
        return False
    pending, period = keys.GW_DRAIN_PENDING, keys.GW_DRAIN_PENDING_TTL
    if force:
        cooldown.restart(rt.redis, pending, period)
    elif not cooldown.cooldown(rt.redis, pending, period):
        return False
    rt.celery.send_task(DRAIN_TASK, queue=keys.GATEWAY_QUEUE,
                        priority=broker_priority(rt, DRAIN_PRIORITY))
    return True


def drain_idle(rt: Bus) -> bool:
    """No drain requested or running: the watchdog may kick one."""
    return not rt.redis.exists(keys.GW_DRAIN_PENDING, keys.GW_DRAIN_RUNNING)
