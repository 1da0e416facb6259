"""Previews of step input and output for traces: redacted and size-capped copies (the memo
keeps the original for the function)."""

from __future__ import annotations

import json
from typing import Any

PREVIEW_LIMIT = 8 * 1024
SECRET_HINTS = ("token", "secret", "password", "authorization", "api_key", "apikey")


def preview(value: Any, limit: int = PREVIEW_LIMIT) -> Any:
    """A redacted copy of `value`, or its truncated head when it is larger than `limit`."""
    redacted = _redact(value)
    text = json.dumps(redacted, default=str)
    if len(text) <= limit:
        return redacted
    return {"truncated": True, "bytes": len(text), "head": text[:limit]}


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "[redacted]" if any(h in str(k).lower() for h in SECRET_HINTS) else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value
