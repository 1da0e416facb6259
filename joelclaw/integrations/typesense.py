"""Typesense through the `typesense` package, with our error tree and schema reconciliation.

Every call goes through `_call`, which feeds Typesense's circuit breaker and maps the package's
exceptions (and httpx's, which it lets through) onto `joelclaw.integrations.http`: a server that is
down or slow is a TransportError the caller may retry, a missing collection or document is
HTTPNotFound, a bad key is AuthError. Collections are *reconciled*, never recreated: a missing
collection is created, missing fields are added with a schema PATCH, and nothing that exists is
dropped. Every call is also an external call through the tape (`joelclaw.integrations.tape`),
a `read` or a `write` by its verb: recorded inside a step, and in a shadow run answered from the
recording (or refused), so a shadow run never changes a collection."""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from joelclaw.integrations import tape
from joelclaw.integrations.breaker import guarded
from joelclaw.integrations.http import (
    AuthError,
    HTTPNotFound,
    HTTPStatusError,
    IntegrationError,
    TransportError,
)
from joelclaw.redaction import install_log_redaction, secrets_in_scope

if TYPE_CHECKING:
    from joelclaw.config import Settings

SERVICE = "typesense"
WRITES = frozenset({"snapshot", "create", "add", "drop", "upsert", "import", "update", "delete"})
log = logging.getLogger("joelclaw.typesense")
T = TypeVar("T")



def _errors() -> tuple[tuple[type[Exception], ...], dict[type[Exception], int],
                       type[Exception]]:
    """The client's transport errors, its error answers by HTTP status, and its base error:
    imported by the first call, so a module that only declares a client (a function module
    read by `joelclaw functions`) does not load the search engine's client."""
    import httpx
    from typesense import exceptions as ts

    transport = (ts.Timeout, ts.ServiceUnavailable, ts.HTTPStatus0Error, httpx.TransportError)
    status = {ts.RequestMalformed: 400, ts.RequestUnauthorized: 401, ts.RequestForbidden: 403,
              ts.ObjectNotFound: 404, ts.ObjectAlreadyExists: 409, ts.ObjectUnprocessable: 422,
              ts.ServerError: 500}
    return transport, status, ts.TypesenseClientError


class SearchUnavailable(TransportError):
    """Typesense is not configured, or not reachable: say how to fix it."""

    code = "TYPESENSE_UNAVAILABLE"


def schema_field(name: str, kind: str, *, facet: bool = False, optional: bool = False,
                 sort: bool = False) -> dict[str, Any]:
    """One field of a collection schema, with only the flags that differ from Typesense's
    defaults (so a reconciled schema compares equal to what the server reports)."""
    out: dict[str, Any] = {"name": name, "type": kind}
    if facet:
        out["facet"] = True
    if optional:
        out["optional"] = True
    if sort:
        out["sort"] = True
    return out


def vector_field(name: str, dimensions: int) -> dict[str, Any]:
    """An optional embedding field: documents written without a vector stay valid."""
    return {"name": name, "type": "float[]", "num_dim": dimensions, "optional": True}


@dataclass(frozen=True)
class Endpoint:
    url: str
    api_key: str = field(repr=False)


def resolve_endpoint(settings: Settings) -> Endpoint | None:
    """JOELCLAW_TYPESENSE_URL/_API_KEY, else what a running `joelclaw up` recorded."""
    if settings.typesense.url:
        return Endpoint(settings.typesense.url.rstrip("/"), settings.typesense.api_key or "")
    directory = settings.home_dir / "typesense"
    with contextlib.suppress(OSError):
        url = (directory / "url").read_text().strip()
        key = (directory / "api-key").read_text().strip()
        if url and key:
            return Endpoint(url, key)
    return None


def require_endpoint(settings: Settings) -> Endpoint:
    found = resolve_endpoint(settings)
    if found is None:
        raise SearchUnavailable(SERVICE, "no Typesense configured: run `joelclaw up` (it starts "
                                "an embedded one) or set JOELCLAW_TYPESENSE_URL and "
                                "JOELCLAW_TYPESENSE_API_KEY")
    return found


@dataclass(frozen=True)
class Reconciled:
    """What `ensure_collection` did: created the collection, added fields, or nothing."""

    name: str
    created: bool = False
    added: tuple[str, ...] = ()
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)


class SearchClient:
    """A thin, typed face of `typesense.Client` for one server."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 5.0, retries: int = 2) -> None:
        parts = urlsplit(url)
        node = {"host": parts.hostname or "127.0.0.1", "protocol": parts.scheme or "http",
                "port": str(parts.port or (443 if parts.scheme == "https" else 8108))}
        self.url = url
        self._key = api_key
        install_log_redaction()  # the key is declared to it around each call (_call)
        with warnings.catch_warnings():  # the package warns about v30 APIs we do not use
            warnings.simplefilter("ignore", DeprecationWarning)
            import typesense

            self._client = typesense.Client({
                "nodes": [node], "api_key": api_key, "connection_timeout_seconds": timeout,
                "num_retries": retries, "retry_interval_seconds": 0.2,
                "healthcheck_interval_seconds": 1, "suppress_deprecation_warnings": True,
            })

    @classmethod
    def from_settings(cls, settings: Settings) -> SearchClient:
        endpoint = require_endpoint(settings)
        return cls(endpoint.url, endpoint.api_key, timeout=settings.typesense.timeout_seconds)

    def __repr__(self) -> str:
        return f"SearchClient(url={self.url!r})"

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """`fn` through the breaker and the tape; `what` names the call, its first word its
        effect (WRITES). An error answer (a missing document, a collection another process
        created first) is part of the answer, so it is recorded and replays too."""
        verb = what.split(" ", 1)[0]
        effect: Any = "write" if verb in WRITES else "read"
        call = tape.Call(SERVICE, "POST" if effect == "write" else "GET", f"/{what}", effect)

        def produce() -> dict[str, Any]:
            try:
                return {"value": guarded(SERVICE, lambda: self._mapped(what, fn))}
            except HTTPStatusError as exc:
                return {"status": exc.status,
                        "error": str(exc).removeprefix(f"{SERVICE}: ")}

        got = tape.local(call, produce)
        if "error" in got:
            status = int(got["status"])
            kind = HTTPNotFound if status == 404 else AuthError if status in (401, 403) \
                else HTTPStatusError
            raise kind(SERVICE, status, message=str(got["error"]))
        return got["value"]

    def _mapped(self, what: str, fn: Callable[[], T]) -> T:
        transport, statuses, client_error = _errors()
        try:
            with warnings.catch_warnings(), secrets_in_scope((self._key,)):
                warnings.simplefilter("ignore", DeprecationWarning)
                return fn()
        except transport as exc:
            raise SearchUnavailable(SERVICE, f"{what}: {type(exc).__name__}: "
                                    f"{self._scrub(exc)} (is Typesense running at "
                                    f"{self.url}?)") from None
        except client_error as exc:
            status = next((code for kind, code in statuses.items() if isinstance(exc, kind)), 0)
            message = f"{what}: {self._scrub(exc)}"
            if status == 404:
                raise HTTPNotFound(SERVICE, status, message=message) from None
            if status in (401, 403):
                raise AuthError(SERVICE, status, message=message) from None
            if status:
                raise HTTPStatusError(SERVICE, status, message=message) from None
            raise IntegrationError(SERVICE, message) from None

    def _scrub(self, exc: BaseException) -> str:
        text = str(exc) or type(exc).__name__
        return text.replace(self._key, "***") if self._key else text

    # -- server and collections ----------------------------------------------------------

    def healthy(self) -> bool:
        try:
            return bool(self._call("health", lambda: self._client.operations.is_healthy()))
        except IntegrationError:
            return False

    def snapshot(self, path: str) -> dict[str, Any]:
        """`POST /operations/snapshot?snapshot_path=...`: the server writes a snapshot of its
        data to that directory, on its own file system."""
        answer = self._call("snapshot", lambda: self._client.operations.perform(
            "snapshot", {"snapshot_path": path}))
        return dict(answer) if isinstance(answer, dict) else {"success": bool(answer)}

    def collection(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self._call(f"retrieve {name}",
                                   lambda: self._client.collections[name].retrieve()))
        except HTTPNotFound:
            return None

    def collection_names(self) -> list[str]:
        listed = self._call("list collections", lambda: self._client.collections.retrieve())
        return sorted(str(c["name"]) for c in listed)

    def export(self, name: str) -> list[dict[str, Any]]:
        """Every document of a collection (JSONL export): for sweeps such as forgetting."""
        text = self._call(f"export {name}",
                          lambda: self._client.collections[name].documents.export())
        return [json.loads(line) for line in str(text).splitlines() if line.strip()]

    def ensure_collection(self, schema: dict[str, Any]) -> Reconciled:
        """Create `schema` if missing, else add the fields it lacks (nothing is ever dropped)."""
        name = schema["name"]
        existing = self.collection(name)
        if existing is None:
            try:
                created = self._call(f"create {name}",
                                     lambda: self._client.collections.create(schema))
            except HTTPStatusError as exc:
                if exc.status != 409:  # another process created it first: reconcile that one
                    raise
            else:
                return Reconciled(name, created=True, fields=_fields(created))
            existing = self.collection(name) or {}
        have = _fields(existing)
        # Documents already stored lack the new fields: they can only be added as optional.
        missing = [{**f, "optional": True} for f in schema["fields"] if f["name"] not in have]
        if not missing:
            return Reconciled(name, fields=have)
        self._call(f"add fields to {name}", lambda: self._client.collections[name].update(
            {"fields": missing}))
        log.info("typesense: added %s to %s", ", ".join(f["name"] for f in missing), name)
        return Reconciled(name, added=tuple(f["name"] for f in missing),
                          fields=_fields(self.collection(name) or {}))

    def drop_collection(self, name: str) -> None:
        with contextlib.suppress(HTTPNotFound):
            self._call(f"drop {name}", lambda: self._client.collections[name].delete())

    # -- documents -----------------------------------------------------------------------

    def upsert(self, collection: str, document: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call(f"upsert into {collection}", lambda: self._client.collections[
            collection].documents.upsert(document)))

    def import_documents(self, collection: str, documents: Iterable[dict[str, Any]],
                         action: str = "upsert") -> list[dict[str, Any]]:
        """Bulk import; raises IntegrationError naming the first document Typesense refused."""
        docs = list(documents)
        if not docs:
            return []
        results = self._call(f"import into {collection}", lambda: self._client.collections[
            collection].documents.import_(docs, {"action": action}))
        failed = [r for r in results if not r.get("success")]
        if failed:
            raise IntegrationError(SERVICE, f"import into {collection}: {len(failed)} of "
                                   f"{len(docs)} refused, first: {failed[0].get('error')}")
        return list(results)

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        try:
            return dict(self._call(f"get {collection}/{doc_id}", lambda: self._client.collections[
                collection].documents[doc_id].retrieve()))
        except HTTPNotFound:
            return None

    def update(self, collection: str, doc_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call(f"update {collection}/{doc_id}", lambda: self._client.collections[
            collection].documents[doc_id].update(fields)))

    def delete(self, collection: str, doc_id: str) -> None:
        with contextlib.suppress(HTTPNotFound):
            self._call(f"delete {collection}/{doc_id}", lambda: self._client.collections[
                collection].documents[doc_id].delete())

    def search(self, collection: str, params: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call(f"search {collection}", lambda: self._client.collections[
            collection].documents.search(params)))

    def multi_search(self, searches: list[dict[str, Any]],
                     common: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Several searches in one request (vectors go in the body, never the URL)."""
        answer = self._call("multi_search", lambda: self._client.multi_search.perform(
            {"searches": searches}, common or {}))
        results = list(answer.get("results", []))
        for result in results:
            if "error" in result:
                code = int(result.get("code") or 400)
                kind = HTTPNotFound if code == 404 else HTTPStatusError
                raise kind(SERVICE, code, message=f"multi_search: {result['error']}")
        return results

    def count(self, collection: str, filter_by: str | None = None) -> int:
        params: dict[str, Any] = {"q": "*", "per_page": 0}
        if filter_by:
            params["filter_by"] = filter_by
        return int(self.search(collection, params).get("found", 0))


def _fields(schema: Any) -> dict[str, dict[str, Any]]:
    return {f["name"]: dict(f) for f in (schema or {}).get("fields", [])}
