"""A function that spreads an event's text into every store memory, the cache and telemetry
write (each through its real writer, inside a step): loaded only by tests/test_forget.py."""

from __future__ import annotations

from typing import Any

from joelclaw import Context, function
from joelclaw.memory.model import Fact

DAY = "2026-12-06"


@function("t-forget-note", trigger="test/note.saved", retries=0)
def remember_note(ctx: Context[Any]) -> dict[str, Any]:
    """Observe, log, promote, cache and count a note; summarise it without quoting it."""
    text, mem, event_id = ctx.event.data["text"], ctx.memory, ctx.event.id
    ctx.step.run("observe", lambda: mem.store.store(
        [Fact(text=f"Joel noted: {text}")], session_id=event_id, source="test").as_dict())
    ctx.step.run("daily-log", lambda: mem.daily.append_once(
        DAY, f"note:{event_id}", f"### Note\n- {text}"))
    ctx.step.run("promote", lambda: mem.memory_file.append("Patterns", f"Remember: {text}", DAY))
    ctx.step.run("cache", lambda: ctx.cache.set("notes", event_id, {"text": text}, tier="warm"))
    ctx.step.run("telemetry", lambda: ctx.telemetry.emit(
        "note.saved", component="test-notes", metadata={"text": text}))
    ctx.step.run("summary", lambda: {"summary": "an appointment with a doctor"})
    return {"echo": text}
