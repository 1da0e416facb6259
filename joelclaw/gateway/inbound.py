"""Telegram inbound: long polling in the gateway worker's main process.

Each update is stored in the durable queue (deduplicated by `update_id`) *before* the offset in
Redis advances past it, so a restart at any point neither loses nor repeats an update: an update
stored but not yet confirmed is fetched again and dropped as a duplicate. Only the owner
(JOELCLAW_TELEGRAM_OWNER_ID) is served; anyone else is logged and ignored.

The same thread writes the gateway heartbeat and, as a watchdog, requests a drain when messages
wait with no drain requested or running (e.g. replays after a crash). The gateway worker starts
and stops these threads with its bootstep (joelclaw.gateway.plugin).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.coordination.locks import Lock
from joelclaw.durations.backoff import exponential
from joelclaw.events.payloads.telegram import forwarded_from, media_of, quote_forwarded
from joelclaw.gateway import holders
from joelclaw.gateway.service import CLIENTS, Gateway, drain_idle, request_drain

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

log = logging.getLogger("joelclaw.gateway.inbound")

ALLOWED_UPDATES = ("message", "callback_query")
WATCHDOG_SECONDS = 1.0


def accept_update(gw: Gateway, update: dict[str, Any]) -> str | None:
    """Store one update as a P0 message; the message id, or None (ignored or duplicate)."""
    update_id = int(update["update_id"])
    if "callback_query" in update:
        return _accept_callback(gw, update_id, update["callback_query"])
    message = update.get("message")
    if not isinstance(message, dict):
        return None
    sender: Any = (message.get("from") or {}).get("id")  # Telegram's JSON, checked next
    if not _is_owner(gw, sender, update_id):
        return None
    chat = int(message["chat"]["id"])
    text = message.get("text") or message.get("caption") or ""
    media_type, _ = media_of(message)
    forwarded = forwarded_from(message)
    if forwarded is not None and (text or not media_type):
        text = quote_forwarded(forwarded, text)  # someone else's words: data, not a command
    kind = "media" if media_type else "command" if text.startswith("/") else "text"
    if kind == "command" and (message["chat"].get("type") or "private") != "private":
        chat = int(sender)  # the owner's command in a group is answered to them alone
    meta = {"update_id": update_id, "message_id": message.get("message_id"),
            "media_type": media_type}
    if kind == "media":
        meta["message"] = message
    merge_key = str(chat) if kind == "text" else None
    if merge_key:
        gw.rt.redis.set(keys.gw_last_inbound(chat), int(time.time() * 1000), ex=3600)
    # The same text sent again within 30 s is dropped, as the old queue did (ADR-0104's dedup):
    # one agent turn, not two. Commands and media always go through.
    return gw.queue.enqueue(f"telegram:{chat}", text, kind=kind, meta=meta, chat=chat,
                            merge_key=merge_key, dedup=kind == "text",
                            idem_key=f"tg-update-{update_id}", idem_ttl=keys.GW_UPDATE_TTL)


def _accept_callback(gw: Gateway, update_id: int, query: dict[str, Any]) -> str | None:
    if not _is_owner(gw, (query.get("from") or {}).get("id"), update_id):
        return None
    chat = ((query.get("message") or {}).get("chat") or {}).get("id")
    return gw.queue.enqueue("callback_query", str(query.get("data") or ""), kind="callback",
                            meta={"update_id": update_id, "query": query}, chat=chat,
                            dedup=False, idem_key=f"tg-update-{update_id}",
                            idem_ttl=keys.GW_UPDATE_TTL)


def _is_owner(gw: Gateway, sender: Any, update_id: int) -> bool:
    if gw.owner is not None and sender == gw.owner:
        return True
    gw.rt.redis.hincrby(keys.GW_STATS, "ignored", 1)
    log.info("ignoring update %s from %s: not the owner", update_id, sender)
    return False


def poll_once(gw: Gateway, timeout: int) -> int:
    """One getUpdates round: store every update, then advance the stored offset past it."""
    assert gw.telegram is not None
    stored = gw.rt.redis.get(keys.GW_TG_OFFSET)
    updates = gw.telegram.get_updates(offset=int(stored) if stored else None, timeout=timeout,
                                      allowed_updates=ALLOWED_UPDATES)
    accepted = 0
    for update in updates:
        if accept_update(gw, update) is not None:
            accepted += 1
        gw.rt.redis.set(keys.GW_TG_OFFSET, int(update["update_id"]) + 1)
    if accepted:
        request_drain(gw.rt)
    return accepted


class GatewayService:
    """The threads the gateway worker runs beside its pool: poller and heartbeat/watchdog."""

    def __init__(self, rt: Bus) -> None:
        self.rt = rt
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # One poller per bot token: only its holder renews or releases it
        # (joelclaw.coordination.locks); the token names host and pid, so a successor on this
        # host takes over from a dead one.
        self._poller_lock = Lock(rt.redis, keys.GW_POLLER_LOCK, keys.GW_POLLER_LOCK_TTL,
                                 token=holders.new_token())

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._watchdog, name="gateway-watchdog",
                                          daemon=True)]
        if self.rt.settings.telegram.token:
            self._threads.append(threading.Thread(target=self._poll, name="gateway-poller",
                                                  daemon=True))
        for thread in self._threads:
            thread.start()
        log.info("gateway service started (%s)", ", ".join(t.name for t in self._threads))

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=3)
        self._poller_lock.release()
        CLIENTS.close_all()

    def _poll(self) -> None:
        gw = Gateway(self.rt)
        self._register_menu(gw)
        failures = 0
        while not self._stop.is_set():
            try:
                if not self._hold_poller_lock():
                    self._stop.wait(1.0)  # another gateway polls
                    continue
                poll_once(gw, self.rt.settings.gateway.poll_timeout_seconds)
                failures = 0
            except Exception as exc:
                failures += 1
                log.warning("getUpdates failed (%d in a row): %s", failures, exc)
                self._stop.wait(exponential(failures, base=2.0, cap=60.0))

    def _hold_poller_lock(self) -> bool:
        """One poller per bot token (Telegram answers 409 to a second one): take the lock, renew
        it when it is already ours, or take it over from a SIGKILLed gateway on this host."""
        if self._poller_lock.acquire():
            return True
        holder = self._poller_lock.holder()
        return holder is not None and holders.gone(holder) and self._poller_lock.take_over(holder)

    def _register_menu(self, gw: Gateway) -> None:
        from joelclaw.gateway.commands import MENU

        try:
            gw.telegram.set_my_commands(MENU)  # type: ignore[union-attr]  # the poller has a client
        except Exception as exc:
            log.warning("setMyCommands failed: %s", exc)

    def _watchdog(self) -> None:
        gw = Gateway(self.rt)
        first = True
        while first or not self._stop.wait(WATCHDOG_SECONDS):
            try:
                self._tick(gw, force=first)
                first = False
            except Exception as exc:
                log.warning("gateway watchdog tick failed: %s", exc)

    def _tick(self, gw: Gateway, *, force: bool) -> None:
        """Heartbeat (also in sleep mode: no false alarms), then kick a drain if work waits."""
        self.rt.redis.set(keys.GATEWAY_HEARTBEAT, time.time())
        self._poller_lock.renew()  # ours only: a long poll keeps it (no-op for a non-holder)
        if gw.telegram is None:  # nothing can be delivered: no drain loop, queue kept as is
            return
        if force:  # at start: replay whatever a previous gateway left in flight
            request_drain(self.rt, force=True)
            return
        depth = gw.queue.depth()
        waiting = depth["expired"] + depth["p0"] + (
            0 if gw.sleeping() else depth["p1"] + depth["p2"] + depth["p3"])
        if waiting and drain_idle(self.rt):
            request_drain(self.rt)
