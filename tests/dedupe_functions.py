"""Functions with semantic dedupe: loaded only by tests/test_flow_dedupe.py."""

from __future__ import annotations

from typing import Any

from joelclaw import Context, content, function, similar


@function("t-dedupe-content", trigger="test/doc.content",
          dedupe=content("title", "body", window="1h"))
def by_content(ctx: Context[Any]) -> dict[str, Any]:
    """One run per document, whatever its case, spacing or unicode form."""
    return {"title": ctx.event.data["title"]}


@function("t-dedupe-similar", trigger="test/doc.similar",
          dedupe=similar("body", threshold=0.8, window="1h"))
def by_meaning(ctx: Context[Any]) -> dict[str, Any]:
    """One run per document that says nearly the same thing."""
    return {"body": ctx.event.data["body"]}


@function("t-dedupe-limited", trigger="test/doc.limited", dedupe=content("title", window="1h"),
          rate_limit={"limit": 1, "period": "1h", "key": "event.data.user"})
def limited(ctx: Context[Any]) -> dict[str, Any]:
    """Deduplicated and rate limited per user: a document the limit skipped was not done."""
    return {"title": ctx.event.data["title"]}
