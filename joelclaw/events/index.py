"""The search index of stored events: find events by a data field's value or by a word, over
every stored event (not a scan of the newest few).

One sorted set per term, holding event ids by receive time and living as long as the events (a
term not seen for `EVENT_TTL` expires with them). Sending stays cheap: the dispatch script only
appends the event's terms (worked out by the sender, secrets already left out) to a backlog list
(joelclaw.events.index_backlog); the sweeper moves the backlog into the term sets in batches (a
term shared by many events costs one write per batch, not three per event), and every search
first does the same, so a search always sees every event stored before it. Two kinds of term:

- `f:<path>=<value>`: a scalar at a dotted path of `data` (list items share their list's path),
  compared case-insensitively: `order_id=o-1`, `customer.email=a@b.c`;
- `w:<word>`: a word of a string value or of the event's name (letters and digits).

A search ANDs its terms: `order_id=o-1 refund`. Secrets stay out: a value under a secret-looking
key, or one the redaction would change, is never indexed, so a search cannot confirm a secret.
Each event indexes at most `MAX_FIELDS` fields and `MAX_WORDS` words, values of at most
`MAX_VALUE` characters.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.events import index_backlog
from joelclaw.redaction import redact_text, secret_key
from joelclaw.redisconn import paging

if TYPE_CHECKING:
    import redis

MAX_FIELDS = 24
MAX_WORDS = 32
MAX_VALUE = 80
MAX_PATH = 64
WORD = re.compile(r"[^\W_]{2,40}")
PAGE = 200


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


def _leaves(value: Any, path: str = "", depth: int = 0) -> Iterator[tuple[str, Any]]:
    if depth > 8:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if secret_key(key):
                continue
            yield from _leaves(item, f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(value, list):
        for item in value[:50]:
            yield from _leaves(item, path, depth + 1)
    else:
        yield path, value


def terms(event: dict[str, Any], secrets: tuple[str, ...] = ()) -> list[str]:
    """The terms an event is indexed under (at most MAX_FIELDS + MAX_WORDS)."""
    fields: list[str] = []
    words: list[str] = [w.lower() for w in WORD.findall(event.get("name", ""))]
    for path, value in _leaves(event.get("data") or {}):
        if isinstance(value, str) and redact_text(value, secrets) != value:
            continue
        text = _scalar(value)
        if path and len(path) <= MAX_PATH and len(text) <= MAX_VALUE \
                and len(fields) < MAX_FIELDS:
            fields.append(f"f:{path.lower()}={text}")
        if isinstance(value, str) and len(words) < MAX_WORDS * 2:
            words += [w.lower() for w in WORD.findall(value)]
    unique_words = list(dict.fromkeys(words))[:MAX_WORDS]
    return list(dict.fromkeys(fields)) + [f"w:{w}" for w in unique_words]


def query_terms(query: str) -> list[str]:
    """`order_id=o-1 refund` -> ['f:order_id=o-1', 'w:refund']; a `data.` prefix is optional."""
    out: list[str] = []
    for part in query.split():
        path, eq, value = part.partition("=")
        if eq and path:
            out.append(f"f:{path.lower().removeprefix('data.')}={_scalar(value)}")
        else:
            out += [f"w:{w.lower()}" for w in WORD.findall(part)]
    return list(dict.fromkeys(out))


def search(client: redis.Redis, query: str, *, name: str | None = None,
           prefix: str | None = None, since: float | None = None,
           limit: int = 50) -> list[dict[str, Any]]:
    """Stored events matching every term of `query`, newest first (an id matches itself)."""
    from joelclaw.events.store import get_event

    index_backlog.catch_up(client)  # every event stored before this search is found
    found: list[dict[str, Any]] = []
    exact = get_event(client, query.strip()) if query.strip() else None
    if exact is not None and _fits(exact, name, prefix, since):
        found.append(exact)
    wanted = query_terms(query)
    if not wanted:
        return found
    term_keys = [keys.event_term(t) for t in wanted]
    source = term_keys[0]
    scratch = None
    if len(term_keys) > 1:
        scratch = keys.event_search(uuid.uuid4().hex)
        pipe = client.pipeline(transaction=True)
        pipe.zinterstore(scratch, term_keys, aggregate="MAX")
        pipe.expire(scratch, 60)
        pipe.execute()
        source = scratch
    try:
        low = "-inf" if since is None else since * 1000
        for ids in paging.newest_first(client, source, "+inf", low, page=PAGE):
            if len(found) >= limit:  # the exact match alone filled it
                break
            pipe = client.pipeline(transaction=False)
            for event_id in ids:
                pipe.hget(keys.event(event_id.decode()), "record")
                pipe.hget(keys.event(event_id.decode()), "duplicates")
            replies = pipe.execute()
            for raw, dups in zip(replies[::2], replies[1::2], strict=True):
                if raw is None:
                    continue  # expired
                record = json.loads(raw)
                record["duplicates"] = int(dups or 0)
                if exact is not None and record["event"]["id"] == exact["event"]["id"]:
                    continue
                if _fits(record, name, prefix, None):
                    found.append(record)
                    if len(found) >= limit:
                        break
            if len(found) >= limit:
                break
    finally:
        if scratch is not None:
            client.delete(scratch)
    return found


def _fits(record: dict[str, Any], name: str | None, prefix: str | None,
          since: float | None) -> bool:
    event_name = record["event"]["name"]
    if (name and event_name != name) or (prefix and not event_name.startswith(prefix)):
        return False
    return since is None or (record.get("received_at") or 0) >= since
