"""One way to talk HTTP to every service: a client factory, a retry loop and a typed error tree.

The error tree lives in `joelclaw.integrations.errors`; every call feeds the service's circuit
breaker (`joelclaw.integrations.breaker`). Retried: connect failures, 5xx and 429, up to
`max_attempts`, waiting `Retry-After` when the service sends one and capped exponential backoff
with jitter otherwise. A read timeout or broken connection on a non-idempotent request is *not*
retried: the service may already have acted, and a second POST could duplicate a message. Messages,
reprs and log lines never carry credentials: secrets handed to `ApiClient` are scrubbed from error
bodies, and declared to the process's one log redaction (`joelclaw.redaction`) while each request
runs, so httpx's request log hides them.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from joelclaw import effects
from joelclaw.durations.backoff import exponential
from joelclaw.integrations import charges, tape
from joelclaw.integrations.breaker import guarded
from joelclaw.integrations.errors import (
    BODY_KEEP,
    AuthError,
    HTTPNotFound,
    HTTPStatusError,
    IntegrationError,
    RateLimited,
    TransportError,
)
from joelclaw.redaction import install_log_redaction, secrets_in_scope

if TYPE_CHECKING:  # httpx is imported by the calls that use it: declaring a client costs nothing
    import httpx

__all__ = [
    "ApiClient",
    "AuthError",
    "HTTPNotFound",
    "HTTPStatusError",
    "IntegrationError",
    "RateLimited",
    "RetryPolicy",
    "TransportError",
    "backoff_delay",
    "make_client",
    "parse_retry_after",
    "request_json",
]

USER_AGENT = "joelclaw/0.1 (+httpx)"
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
READS = frozenset({"GET", "HEAD", "OPTIONS"})

Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try. Defaults follow common bot practice: 3 attempts, 30 s cap, 10% jitter."""

    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.1
    # A Retry-After longer than this is not slept through: the caller gets RateLimited at once
    # rather than a worker blocked for minutes.
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")


def make_client(
    base_url: str,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """The one httpx client factory: shared timeout, user agent and (for tests) transport."""
    import httpx

    return httpx.Client(
        base_url=base_url,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        timeout=httpx.Timeout(timeout),
        transport=transport,
    )


def backoff_delay(
    policy: RetryPolicy, attempt: int, rng: Callable[[], float] = random.random
) -> float:
    """Capped exponential backoff with jitter: the wait after failed attempt `attempt` (1-based)."""
    return exponential(attempt, base=policy.base_delay, cap=policy.max_delay,
                       jitter=policy.jitter, rng=rng)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class ApiClient:
    """An httpx client plus the retry loop and error mapping for one named service.

    Subclasses adapt a provider's error format by overriding `retry_after` and `error_for`.
    """

    def __init__(
        self,
        client: httpx.Client,
        *,
        service: str,
        policy: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
        secrets: Iterable[str] = (),
        rng: Callable[[], float] = random.random,
        writes: bool = False,
    ) -> None:
        self.client = client
        self.service = service
        # A request that is not a read changes the service: a `write` effect, charged to the
        # running function's budget (joelclaw.integrations.effects) before it is sent.
        self.writes = writes
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._rng = rng
        self._secrets = tuple(s for s in secrets if s)
        install_log_redaction()  # httpx logs full URLs: Telegram's carry the token

    def __repr__(self) -> str:
        return f"{type(self).__name__}(service={self.service!r}, base_url={self._base()!r})"

    def close(self) -> None:
        self.client.close()

    def request(
        self, method: str, path: str, *, idempotent: bool | None = None,
        effect: effects.Effect | None = None, charge: str | None = None, **kw: Any
    ) -> httpx.Response:
        """Send with retries; return the 2xx response or raise the typed error.

        The call passes through `joelclaw.integrations.tape` (recorded, or answered from a
        recording in a shadow run); `effect` says what it does (default: GET reads, the rest
        writes). A call that really goes out is charged to the running function's budget
        (`charges`: `charge` names the effect, else a write client's non-read is a `write`) and
        is, its retries included, one outcome for the service's breaker."""
        call = tape.Call(self.service, method.upper(), self.scrub(path),
                         effect or effects.of_method(method), tape.describe(kw))

        def send(body: Any = None) -> httpx.Response:
            sent = kw if body is None else {**kw, "json": body}

            def out() -> httpx.Response:  # charged once the breaker lets it go, not before
                kind = charge if charge is not None else charges.WRITE if (
                    self.writes and method.upper() not in READS) else None
                if kind is not None:
                    charges.charge(kind)
                return self._send(method, path, idempotent, **sent)

            return guarded(self.service, out)

        return tape.through(call, send)

    def _send(self, method: str, path: str, idempotent: bool | None,
              **kw: Any) -> httpx.Response:
        import httpx

        unsent = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
        safe = method.upper() in IDEMPOTENT if idempotent is None else idempotent
        attempts = self.policy.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                with secrets_in_scope(self._secrets):
                    response = self.client.request(method, path, **kw)
            except httpx.TransportError as exc:
                if attempt == attempts or not (safe or isinstance(exc, unsent)):
                    raise self._transport_error(exc) from None
                self._sleep(backoff_delay(self.policy, attempt, self._rng))
                continue
            if response.is_success:
                return response
            wait = self._wait_before_retry(response, attempt)
            if wait is None:
                raise self.error_for(response)
            self._sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def request_json(self, method: str, path: str, **kw: Any) -> Any:
        """`request`, then the decoded JSON body (None for an empty body)."""
        response = self.request(method, path, **kw)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise IntegrationError(
                self.service, f"invalid JSON in HTTP {response.status_code} answer"
            ) from None

    def retry_after(self, response: httpx.Response) -> float | None:
        """How long the service asked us to wait (the Retry-After header by default)."""
        return parse_retry_after(response.headers.get("Retry-After"))

    def error_for(self, response: httpx.Response) -> IntegrationError:
        """Map a failed response to the error tree."""
        status, body = response.status_code, self.scrub(_text(response))
        if status in (401, 403):
            return AuthError(self.service, status, body)
        if status == 404:
            return HTTPNotFound(self.service, status, body)
        if status == 429:
            return RateLimited(self.service, status, body, self.retry_after(response))
        return HTTPStatusError(self.service, status, body)

    def scrub(self, text: str) -> str:
        """Remove every known secret from text headed for a message, body or log."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _wait_before_retry(self, response: httpx.Response, attempt: int) -> float | None:
        status = response.status_code
        if attempt >= self.policy.max_attempts or not (status == 429 or status >= 500):
            return None
        asked = self.retry_after(response)
        if asked is None:
            return backoff_delay(self.policy, attempt, self._rng)
        return asked if asked <= self.policy.max_retry_after else None

    def _transport_error(self, exc: httpx.TransportError) -> TransportError:
        detail = self.scrub(str(exc)).splitlines()[0] if str(exc) else ""
        kind = type(exc).__name__
        return TransportError(self.service, f"{kind}: {detail}" if detail else kind)

    def _base(self) -> str:
        return self.scrub(str(self.client.base_url))


def request_json(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    max_attempts: int = 3,
    service: str | None = None,
    policy: RetryPolicy | None = None,
    sleep: Sleep = time.sleep,
    **kw: Any,
) -> Any:
    """One JSON call with the default error mapping; the service name defaults to the host."""
    policy = replace(policy or RetryPolicy(), max_attempts=max_attempts)
    name = service or client.base_url.host or "http"
    return ApiClient(client, service=name, policy=policy, sleep=sleep).request_json(
        method, path, **kw
    )


def _text(response: httpx.Response) -> str:
    try:
        return response.text[:BODY_KEEP]
    except (UnicodeDecodeError, LookupError):
        return response.content[:BODY_KEEP].decode("utf-8", "replace")
