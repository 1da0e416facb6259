"""Where a document is, whether it may be read, and reading it.

A path must resolve (symlinks followed) inside JOELCLAW_DOCS_DIR; a URL's host (or host:port)
must be in JOELCLAW_DOCS_FETCH_HOSTS, where `*` means any public host (checked where the
connection is made: `joelclaw.docs.public_net`). Anything else is a DocumentSkipped with the
reason, never a read.
Transport failures of a fetch are IntegrationErrors (the step retries); a 4xx answer is a
DocumentSkipped. A fetch is a `read` call through the tape (`joelclaw.integrations.tape`):
recorded inside a step, replayed (or refused) in a shadow run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from joelclaw.docs.model import DocumentSkipped, Located, doc_id_for
from joelclaw.integrations import tape
from joelclaw.integrations.http import TransportError, make_client

if TYPE_CHECKING:
    import httpx

    from joelclaw.config import Settings

SERVICE = "docs-fetch"
NO_DOCS_DIR = "no docs folder configured: set JOELCLAW_DOCS_DIR"
NO_FETCH = "URL fetching is not configured: add the host to JOELCLAW_DOCS_FETCH_HOSTS"


@dataclass(frozen=True)
class Raw:
    data: bytes
    media_type: str  # a MIME type, or "" when only the name can tell
    name: str  # a file name (for the extension and a default title)


def docs_root(settings: Settings) -> Path | None:
    return settings.docs.dir.expanduser().resolve() if settings.docs.dir else None


def locate(settings: Settings, *, path: str | None = None, url: str | None = None) -> Located:
    if url:
        return _locate_url(settings, url)
    root = docs_root(settings)
    if root is None:
        raise DocumentSkipped(NO_DOCS_DIR)
    given = Path(path or "").expanduser()
    target = (given if given.is_absolute() else root / given).resolve()
    if not target.is_relative_to(root):
        raise DocumentSkipped(f"{path!r} is outside the docs folder {root}")
    if not target.is_file():
        raise DocumentSkipped(f"no such file under the docs folder: {target.relative_to(root)}")
    rel = target.relative_to(root).as_posix()
    return Located("path", str(target), rel, doc_id_for(rel))


def _locate_url(settings: Settings, url: str) -> Located:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DocumentSkipped(f"not an http(s) URL: {url!r}")
    if not settings.docs.fetch_hosts:
        raise DocumentSkipped(NO_FETCH)
    host = parts.hostname.lower()
    netloc = f"{host}:{parts.port}" if parts.port else host
    if not named_host(settings, url):
        if "*" not in {h.lower() for h in settings.docs.fetch_hosts}:
            raise DocumentSkipped(f"host {netloc!r} is not in JOELCLAW_DOCS_FETCH_HOSTS")
        literal = host.strip("[]")
        from joelclaw.docs.public_net import is_public  # with httpcore: only for a literal IP

        if _is_ip(literal) and not is_public(literal):
            raise DocumentSkipped(f"{netloc!r} is not a public address: `*` in "
                                  "JOELCLAW_DOCS_FETCH_HOSTS allows public hosts only (list a "
                                  "local host by name to allow it)")
    return Located("url", url, url, doc_id_for(url))


def named_host(settings: Settings, url: str) -> bool:
    """The URL's host (or host:port) is listed by the owner, not only allowed by `*`."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    netloc = f"{host}:{parts.port}" if parts.port else host
    allowed = {h.lower() for h in settings.docs.fetch_hosts}
    return host in allowed or netloc in allowed


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def read(settings: Settings, located: Located) -> Raw:
    limit = settings.docs.max_bytes
    if located.kind == "path":
        target = Path(located.source)
        try:
            size = target.stat().st_size
            if size > limit:
                raise DocumentSkipped(f"{located.rel} is {size} bytes, over "
                                      f"JOELCLAW_DOCS_MAX_BYTES ({limit})")
            return Raw(target.read_bytes(), "", target.name)
        except FileNotFoundError:
            raise DocumentSkipped(f"{located.rel} disappeared before it could be read") from None
        except PermissionError:
            raise DocumentSkipped(f"{located.rel} cannot be read: permission denied") from None
    return _fetch(settings, located.source, limit)


def _fetch(settings: Settings, url: str, limit: int) -> Raw:
    name = Path(urlsplit(url).path).name or urlsplit(url).hostname or "document"
    parts = urlsplit(url)  # a user:password or the query may carry a credential: left out
    port = f":{parts.port}" if parts.port else ""
    call = tape.Call(SERVICE, "GET", f"{parts.scheme}://{parts.hostname}{port}{parts.path}",
                     "read")
    got = tape.through(call, lambda _body: _download(settings, url, limit))
    return Raw(got.content, got.headers.get("content-type", ""), name)


def _download(settings: Settings, url: str, limit: int) -> httpx.Response:
    import httpx  # the HTTP client, loaded by a download, not by declaring the docs functions

    from joelclaw.docs.public_net import NotPublic, PublicOnlyTransport

    public_only = not named_host(settings, url)
    transport = PublicOnlyTransport() if public_only else None
    try:
        with make_client(url, timeout=settings.docs.fetch_timeout_seconds,
                         transport=transport) as client, \
                client.stream("GET", url, follow_redirects=False) as answer:
            if answer.status_code >= 400:
                if answer.status_code >= 500 or answer.status_code == 429:
                    raise TransportError(SERVICE, f"GET {url}: {answer.status_code}")
                raise DocumentSkipped(f"GET {url} answered {answer.status_code}")
            if answer.status_code >= 300:
                raise DocumentSkipped(f"GET {url} redirects ({answer.status_code}) to "
                           f"{answer.headers.get('location')!r}: ingest that URL instead")
            body = bytearray()
            for piece in answer.iter_bytes():
                body += piece
                if len(body) > limit:
                    raise DocumentSkipped(f"{url} is over JOELCLAW_DOCS_MAX_BYTES ({limit} bytes)")
            media = answer.headers.get("content-type", "").split(";")[0].strip().lower()
            return httpx.Response(200, content=bytes(body), headers={"content-type": media},
                                  request=answer.request)
    except httpx.ConnectError as exc:
        if isinstance(exc.__cause__ or exc.__context__, NotPublic) or "not a public" in str(exc):
            raise DocumentSkipped(f"GET {url}: {exc}: `*` in JOELCLAW_DOCS_FETCH_HOSTS allows "
                                  "public hosts only") from None
        raise TransportError(SERVICE, f"GET {url}: {type(exc).__name__}: {exc}") from None
    except httpx.HTTPError as exc:
        raise TransportError(SERVICE, f"GET {url}: {type(exc).__name__}: {exc}") from None
