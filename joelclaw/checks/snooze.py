"""Snooze buttons: `s4h:<key>` on a check's notice snoozes that notice for 4 hours.

A check offers one with `button(key)` (and `remember(redis, key, text)` so the press can edit
the original message), and asks `snoozed(redis, key)` before notifying. The owner's press
reaches `telegram-callback-received` (tasks/checks.py), which calls `snooze(...)` and edits the
message. Any check (the o11y triage too) uses the same keys: a key is at most 60 characters of
`A-Z a-z 0-9 _ . : -` (Telegram's callback data holds 64 bytes) — `key_for(text)` makes one from
anything.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from typing import TYPE_CHECKING

from joelclaw import keys
from joelclaw.coordination import cooldown
from joelclaw.errors import JoelclawError

if TYPE_CHECKING:
    import redis

ACTION = "s4h"
LABEL = "😴 Snooze 4h"
KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,60}$")


class BadSnoozeKey(JoelclawError, ValueError):
    pass


def valid(key: str) -> str:
    if not KEY.fullmatch(key or ""):
        raise BadSnoozeKey(f"not a snooze key: {key!r} (1-60 of A-Z a-z 0-9 _ . : -)")
    return key


def key_for(text: str) -> str:
    """A stable key for anything (e.g. a normalized error): base64url SHA-256, 43 chars."""
    digest = hashlib.sha256(text.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def button(key: str, label: str = LABEL) -> list[str]:
    """One inline button `[label, "s4h:<key>"]` (a row is a list of these)."""
    return [label, f"{ACTION}:{valid(key)}"]


def remember(client: redis.Redis, key: str, text: str) -> None:
    """Keep the text of the message carrying the button, so the press can edit it."""
    client.set(keys.snooze_text(valid(key)), text, ex=keys.SNOOZE_TEXT_TTL)


def snooze(client: redis.Redis, key: str, seconds: float = keys.SNOOZE_SECONDS) -> float:
    """Snooze `key` from now (a second press restarts it); returns when it ends (unix s)."""
    cooldown.restart(client, keys.snooze(valid(key)), seconds)
    return time.time() + seconds


def snoozed(client: redis.Redis, key: str) -> float:
    """Seconds left of the snooze of `key` (0: not snoozed)."""
    return cooldown.remaining(client, keys.snooze(valid(key)))


def remembered(client: redis.Redis, key: str) -> str | None:
    raw = client.get(keys.snooze_text(valid(key)))
    return raw.decode() if raw is not None else None


def parse(raw_data: str) -> str | None:
    """The key of `s4h:<key>` callback data; None for anything else or a malformed key."""
    action, _, key = raw_data.partition(":")
    if action != ACTION or not KEY.fullmatch(key):
        return None
    return key
