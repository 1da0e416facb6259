"""What every provider module shares: header lookup, HMAC comparison, delivery ids, and the
one way a verified delivery becomes an event."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from joelclaw.events.model import Event
from joelclaw.events.payloads import build_payload

DELIVERY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """HTTP header names are case-insensitive; providers and test clients disagree on case."""
    return {str(k).lower(): v for k, v in headers.items() if isinstance(v, str)}


def signed(headers: Mapping[str, str], header: str, secret: str,
           accepted: Callable[[bytes], Iterable[bytes]]) -> bool:
    """The check every provider's `verify` makes: it fails closed (no secret configured, no
    header sent), then compares the header's value in constant time with each signature the
    scheme accepts, which `accepted(key)` computes from the secret's bytes."""
    given = lower_headers(headers).get(header)
    if not secret or not given:
        return False
    sent = as_bytes(given.strip())
    return any(hmac.compare_digest(candidate, sent) for candidate in accepted(as_bytes(secret)))


def as_bytes(text: str) -> bytes:
    """Secrets and header values as bytes, tolerating lone surrogates from odd clients."""
    return text.encode("utf-8", "surrogatepass")


def hmac_digest(key: bytes, message: bytes, algorithm: str) -> bytes:
    return hmac.new(key, bytes(message), algorithm).digest()


def delivery_id(candidate: Any, payload: Any) -> str:
    """A provider's delivery id when it looks like one, else a hash of the body, so that a
    redelivery without the id still deduplicates."""
    if isinstance(candidate, str) and DELIVERY_ID.match(candidate.strip()):
        return candidate.strip()
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return "sha256-" + hashlib.sha256(canonical.encode("ascii")).hexdigest()[:32]


def provider_event(provider: str, name: str, fields: dict[str, Any], delivery: str,
                   kind: str) -> Event:
    """The event for one delivery: its payload validated by the name's model, and an id made
    from the provider's delivery id, so a redelivery is deduplicated by the bus."""
    source = {"provider": provider, "delivery": delivery, "type": kind}
    return Event(name=name, data=build_payload(name, fields), id=f"{provider}-{delivery}",
                 source=source)
