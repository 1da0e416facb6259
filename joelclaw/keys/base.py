"""What every key shares: the `jc:` prefix, and the lock and cooldown keys that many parts
take (joelclaw.coordination's Lock and cooldown take these full keys)."""

from __future__ import annotations

PREFIX = "jc:"


def lock(name: str) -> str:
    return f"{PREFIX}lock:{name}"  # holder token, PX = the lease its holder renews


def cooldown(name: str) -> str:
    return f"{PREFIX}cooldown:{name}"  # when the period started (s), PX = the period
