"""Previews of step input and output for traces: redacted and size-capped copies (the memo
keeps the original for the function)."""

from __future__ import annotations

import json
from typing import Any

from joelclaw.redaction import redact

PREVIEW_LIMIT = 8 * 1024
_SCALARS = frozenset({bool, int, float})


def preview(value: Any, limit: int = PREVIEW_LIMIT) -> Any:
    """A redacted copy of `value`, or its truncated head when it is larger than `limit`."""
    if value is None or type(value) in _SCALARS:
        return value  # nothing to redact, and far below any limit
    redacted = redact(value)
    text = json.dumps(redacted, default=str)
    if len(text) <= limit:
        return redacted
    return {"truncated": True, "bytes": len(text), "head": text[:limit]}
