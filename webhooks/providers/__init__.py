"""The webhook providers by URL name: how to verify a request and what events it becomes.

The route looks a provider up here, reads `getattr(settings, provider.secret_setting)` (None →
401), calls `verify(raw, headers, secret, now=time.time())`, answers `challenge(...)` when it
returns a body, and otherwise sends `normalize(json.loads(raw), headers)`; a ValueError from
normalize is a 400. Everything here is pure: no network, Redis or files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from joelclaw.events.model import Event
from webhooks.providers import front, github, telegram, todoist, vercel


class Verify(Protocol):
    def __call__(
        self, raw: bytes, headers: Mapping[str, str], secret: str, *, now: float | None = None
    ) -> bool: ...


class Normalize(Protocol):
    def __call__(self, payload: dict[str, Any], headers: Mapping[str, str]) -> list[Event]: ...


class Challenge(Protocol):
    def __call__(self, headers: Mapping[str, str], raw: bytes) -> dict[str, Any] | None: ...


class Accepts(Protocol):
    def __call__(self, event: Event, owner: Any) -> bool: ...


@dataclass(frozen=True, slots=True)
class Provider:
    """One provider: its name in the URL, the settings attribute holding its secret, its code."""

    name: str
    secret_setting: str
    verify: Verify
    normalize: Normalize
    challenge: Challenge | None = None
    # Who is served at all, given the owner setting named by `owner_setting`: the others'
    # updates are answered 200 and dropped before anything is stored (Telegram: only the owner)
    accepts: Accepts | None = None
    owner_setting: str | None = None


PROVIDERS: dict[str, Provider] = {
    "github": Provider("github", "github_webhook_secret", github.verify, github.normalize),
    "todoist": Provider("todoist", "todoist_client_secret", todoist.verify, todoist.normalize),
    "front": Provider(
        "front", "front_webhook_secret", front.verify, front.normalize, front.challenge
    ),
    "vercel": Provider("vercel", "vercel_webhook_secret", vercel.verify, vercel.normalize),
    "telegram": Provider(
        "telegram", "telegram_webhook_secret", telegram.verify, telegram.normalize,
        accepts=telegram.from_owner, owner_setting="telegram_owner_id",
    ),
}


def get_provider(name: str) -> Provider | None:
    """The provider for a URL segment, or None (the route answers 404)."""
    return PROVIDERS.get(name)


__all__ = ["PROVIDERS", "Accepts", "Challenge", "Normalize", "Provider", "Verify",
           "get_provider"]
