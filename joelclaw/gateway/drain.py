"""The drain: take the next message by the ADR-0104 rules, hold its chat's lock, handle it, ack.

It runs as the plain Celery task `joelclaw.gateway.drain` on the `gateway` queue (one worker,
concurrency 1) and loops until the queue is empty. The chat lock keeps turns one-at-a-time per
chat even if the gateway is scaled out; a keeper thread extends the claim (and the lock) while
a long turn runs, so only a dead gateway's claims expire and are replayed. Locks and claims name
their holder's host and pid (joelclaw.gateway.holders): a restarted gateway takes over what its
SIGKILLed predecessor held at once instead of waiting out the lease.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.coordination import cooldown
from joelclaw.coordination.locks import Lock
from joelclaw.gateway import holders, progress
from joelclaw.gateway.handlers import handle
from joelclaw.gateway.queue import Message
from joelclaw.gateway.service import Gateway, request_drain

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

log = logging.getLogger("joelclaw.gateway.drain")

BATCH_CLOSE_SECONDS = 7.5  # openclaw: a merged batch closes after 7.5 s however chatty
LONG_PASTE = 4000  # a long paste gets a longer quiet window (Telegram splits big pastes)
LONG_PASTE_WINDOW = 1.5


def drain(rt: Bus, *, budget_seconds: float = 50.0) -> dict[str, Any]:
    """Handle messages until the queue is empty (or the budget is spent: then re-request)."""
    gw = Gateway(rt)
    rt.redis.delete(keys.GW_DRAIN_PENDING)
    if gw.telegram is None:  # nowhere to deliver: keep everything queued until configured
        warn_unconfigured(rt)
        return {"handled": 0, "reason": "no telegram token"}
    lease = gw.settings.gateway.claim_lease_seconds
    rt.redis.set(keys.GW_DRAIN_RUNNING, "1", ex=max(1, int(lease)))
    started, handled = time.monotonic(), 0
    reclaimed = gw.queue.reclaim_dead()
    if reclaimed:
        log.info("replaying %d message(s) claimed by a gateway that is gone", reclaimed)
    try:
        while time.monotonic() - started < budget_seconds:
            msg = gw.queue.claim(sleeping=gw.sleeping())
            if msg is None:
                break
            handled += process(gw, msg)
        else:
            request_drain(rt, force=True)
    finally:
        rt.redis.delete(keys.GW_DRAIN_RUNNING)
    return {"handled": handled}


def warn_unconfigured(rt: Bus) -> None:
    """Say once an hour (not once a drain) that messages wait for a Telegram token."""
    if cooldown.cooldown(rt.redis, keys.GW_UNCONFIGURED_WARNED, keys.GW_UNCONFIGURED_WARN_TTL):
        log.warning("JOELCLAW_TELEGRAM_TOKEN is not set: %d gateway message(s) stay queued "
                    "until it is (said again in an hour)", Gateway(rt).queue.ready_count())


def process(gw: Gateway, msg: Message) -> int:
    """Handle one claimed message (plus the rapid ones merged into it); returns how many."""
    batch = [msg]
    chat = msg.chat or gw.owner or 0
    with Keeper(gw, [msg.id], chat) as keeper:
        if not keeper.locked:
            gw.queue.release(msg)
            time.sleep(0.2)
            return 0
        if msg.kind == "text" and msg.mk:
            batch += _merge(gw, msg)
            keeper.ids = [m.id for m in batch]
        try:
            handle(gw, batch)
        except Exception:
            # Left in flight: its claim expires and it is replayed (at most max_attempts).
            log.exception("handling message %s (%s) failed", msg.id, msg.kind)
            return 0
        gw.queue.ack(keeper.ids)
        progress.forget(gw.rt.redis, keeper.ids)
        _record_delivery(gw, batch)
    return len(batch)


def _record_delivery(gw: Gateway, batch: list[Message]) -> None:
    """Keep the latest handled messages for `joelclaw gateway events` and the dashboard."""
    entry = json.dumps({"ids": [m.id for m in batch], "kind": batch[0].kind,
                        "source": batch[0].source, "chat": batch[0].chat, "at": time.time(),
                        "type": batch[0].meta.get("type"),
                        "prompt": (batch[0].prompt or "")[:300]})
    pipe = gw.rt.redis.pipeline(transaction=False)
    pipe.lpush(keys.GW_DELIVERED, entry)
    pipe.ltrim(keys.GW_DELIVERED, 0, keys.GW_DELIVERED_KEEP - 1)
    pipe.execute()


def _merge(gw: Gateway, first: Message) -> list[Message]:
    """Wait until the owner has been quiet for the merge window, then take what arrived.

    A retried batch whose answer is already stored takes exactly the messages it answered
    (given back: whatever arrived since, for the next turn)."""
    stored = progress.Delivery(gw.rt.redis, first.id)
    if stored.answered:
        more = gw.queue.claim_more(first.mk or "")
        for extra in (m for m in more if m.id not in stored.covers):
            gw.queue.release(extra)
        return [m for m in more if m.id in stored.covers]
    window = gw.settings.gateway.merge_window_seconds
    if len(first.prompt) >= LONG_PASTE:
        window = max(window, LONG_PASTE_WINDOW)
    deadline = time.time() + BATCH_CLOSE_SECONDS
    while time.time() < deadline:
        last = float(gw.rt.redis.get(keys.gw_last_inbound(first.mk or "")) or 0) / 1000
        quiet_in = last + window - time.time()
        if quiet_in <= 0:
            break
        time.sleep(min(quiet_in, 0.1) + 0.005)
    return gw.queue.claim_more(first.mk or "")


class Keeper:
    """Holds the chat lock and keeps the claims and the drain marker alive during a turn.

    The chat lock is a `joelclaw.coordination.locks.Lock` (its own token, a lease of the claim
    lease): only its holder renews or releases it, so a keeper whose lease ran out cannot extend
    or delete the lock another gateway took over."""

    def __init__(self, gw: Gateway, ids: list[str], chat: int | str) -> None:
        self.gw, self.ids, self.chat = gw, ids, chat
        self.lease = gw.settings.gateway.claim_lease_seconds
        self.lock = Lock(gw.rt.redis, keys.gw_chat_lock(chat), self.lease,
                         token=holders.new_token())
        self.token = self.lock.token
        self.locked = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="gateway-keeper", daemon=True)

    def __enter__(self) -> Keeper:
        self.locked = self._lock()
        if self.locked:
            self._thread.start()
        return self

    def _lock(self) -> bool:
        """Take the chat lock, or take it over from a holder whose process is gone."""
        if self.lock.acquire():
            return True
        holder = self.lock.holder()
        if holder is None or not holders.gone(holder) or not self.lock.take_over(holder):
            return False
        log.info("took over the lock of chat %s from %s (its process is gone)", self.chat, holder)
        return True

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        if self.locked:
            self.lock.release()

    def _loop(self) -> None:
        r = self.gw.rt.redis
        while not self._stop.wait(max(0.2, self.lease / 3)):
            try:
                self.gw.queue.extend(list(self.ids))
                if not self.lock.renew():
                    log.warning("the chat lock of %s lapsed during a turn", self.chat)
                r.set(keys.GW_DRAIN_RUNNING, "1", ex=max(1, int(self.lease)))
            except Exception as exc:
                log.warning("could not extend the claim on %s: %s", self.ids, exc)
