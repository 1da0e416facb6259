"""The error tree of calls to external services (re-exported by `joelclaw.integrations.http`).

    IntegrationError            a call to an external service failed; the message names the service
    ├── NotSent                 deliberately not sent (a shadow run refused it): never retried
    ├── TransportError          no usable answer: connect failure, timeout, broken connection
    └── HTTPStatusError         the service answered with an error status (carries status, body)
        ├── RateLimited         429: slow down (carries retry_after seconds when the service said)
        ├── AuthError           401 / 403: the credential is wrong or lacks the right
        └── HTTPNotFound            404

Apart from the HTTP plumbing so the breakers (`joelclaw.integrations.breaker`), which the
plumbing calls, can classify failures without importing it.
"""

from __future__ import annotations

from joelclaw.errors import JoelclawError

BODY_KEEP = 2000  # bytes of an error body kept on the exception: enough to debug, bounded in logs
SNIPPET = 200  # characters of the body shown in the one-line message


class IntegrationError(JoelclawError):
    """A call to an external service failed."""

    code = "INTEGRATION_ERROR"

    def __init__(self, service: str, message: str) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class NotSent(IntegrationError):
    """The call was deliberately not sent (a shadow run's refusal, `joelclaw.shadow`): callers
    that turn failures into a softer outcome let this one through, so the refusal is seen."""

    code = "SHADOW_REFUSED"


class TransportError(IntegrationError):
    """The request got no usable answer (connect failure, timeout, dropped connection)."""

    code = "INTEGRATION_TRANSPORT"


class HTTPStatusError(IntegrationError):
    """The service answered with a non-2xx status."""

    code = "INTEGRATION_HTTP_STATUS"

    def __init__(self, service: str, status: int, body: str = "", message: str | None = None):
        self.status = status
        self.body = body[:BODY_KEEP]
        super().__init__(service, message or _status_line(status, body))


class RateLimited(HTTPStatusError):
    """429: the service asked us to slow down, for `retry_after` seconds when it said so."""

    code = "INTEGRATION_RATE_LIMITED"

    def __init__(
        self,
        service: str,
        status: int,
        body: str = "",
        retry_after: float | None = None,
        message: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(service, status, body, message)


class AuthError(HTTPStatusError):
    """401/403: the credential is missing, wrong or lacks the right (retrying will not help)."""

    code = "INTEGRATION_AUTH"


class HTTPNotFound(HTTPStatusError):
    """404: the resource (or API method) does not exist."""

    code = "INTEGRATION_NOT_FOUND"


def _status_line(status: int, body: str) -> str:
    import httpx

    reason = httpx.codes.get_reason_phrase(status)
    head = f"HTTP {status} {reason}".rstrip()
    snippet = " ".join(body.split())[:SNIPPET]
    return f"{head}: {snippet}" if snippet else head
