"""Semantic idempotency, as a function declares it: `dedupe=content(...)` or `dedupe=similar(...)`.

`content("title", "body", window="1h")` deduplicates events whose chosen fields say the same
thing once case, whitespace and unicode forms are set aside (a normalised content hash);
`similar("body", threshold=0.9, window="1h")` deduplicates events whose field means nearly the
same (cosine similarity of embeddings, when an embeddings endpoint is configured; without one
it falls back to the normalised text being equal, and says so in the link). A field is a dotted
path into the event (`data.title`); a bare name means a field of the event's data.

Pure declaration and text handling: the check against Redis lives in `joelclaw.bus.flow.dedupe`.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from joelclaw.durations import Duration, seconds
from joelclaw.errors import FunctionDefinitionError

DEFAULT_WINDOW = "1h"


@dataclass(frozen=True)
class ContentDedupe:
    fields: tuple[str, ...]
    window: float

    kind = "content"

    def describe(self) -> str:
        return f"content of {', '.join(self.fields)} within {self.window:g}s"


@dataclass(frozen=True)
class SimilarDedupe:
    field: str
    threshold: float
    window: float

    kind = "similar"

    def describe(self) -> str:
        return f"{self.field} similar >= {self.threshold:g} within {self.window:g}s"


Dedupe = ContentDedupe | SimilarDedupe


def content(*fields: str, window: Duration = DEFAULT_WINDOW) -> ContentDedupe:
    """Deduplicate events whose `fields` are equal after normalisation, within `window`."""
    if not fields or not all(isinstance(f, str) and f.strip() for f in fields):
        raise FunctionDefinitionError("content(): name at least one field, e.g. "
                                      "content('title', 'body')")
    return ContentDedupe(tuple(_path(f) for f in fields), _window(window))


def similar(field: str, threshold: float = 0.9, window: Duration = DEFAULT_WINDOW
            ) -> SimilarDedupe:
    """Deduplicate events whose `field` embeds within cosine `threshold` of a recent one."""
    if not isinstance(field, str) or not field.strip():
        raise FunctionDefinitionError("similar(): name the field to compare, e.g. "
                                      "similar('body', 0.9)")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) \
            or not 0 < threshold <= 1:
        raise FunctionDefinitionError(f"similar(): threshold must be in (0, 1], "
                                      f"got {threshold!r}")
    return SimilarDedupe(_path(field), float(threshold), _window(window))


def _path(field: str) -> str:
    field = field.strip()
    return field if field.startswith(("data.", "name", "id")) else f"data.{field}"


def _window(value: Duration) -> float:
    try:
        result = seconds(value)
    except (FunctionDefinitionError, TypeError):
        raise FunctionDefinitionError(f"dedupe window must be a duration like '1h', "
                                      f"got {value!r}") from None
    if result <= 0:
        raise FunctionDefinitionError(f"dedupe window must be positive, got {value!r}")
    return result


def normalise(value: Any) -> str:
    """Text that two events saying the same thing share: NFKC, case-folded, spaces collapsed."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def field_value(event: dict[str, Any], path: str) -> Any:
    """The value at a dotted path of the event dict (None when absent)."""
    value: Any = event
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def content_hash(spec: ContentDedupe, event: dict[str, Any]) -> str:
    """The normalised content hash of the spec's fields (their order counts, not their case)."""
    parts = [normalise(field_value(event, path)) for path in spec.fields]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
