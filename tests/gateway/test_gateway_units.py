"""Pure pieces of the gateway: triage, command parsing, callback labels, media lookup."""

from __future__ import annotations

from joelclaw.events.payloads.telegram import media_of
from joelclaw.gateway.commands import parse
from joelclaw.gateway.handlers import callback_label
from joelclaw.gateway.notify import triage_for


def test_triage_classes() -> None:
    assert triage_for("todoist.task.completed") == "suppressed"
    assert triage_for("media/received") == "suppressed"
    assert triage_for("front.message.received") == "batched"
    assert triage_for("vercel.deploy.succeeded") == "batched"
    assert triage_for("vercel.deploy.error") == "immediate"
    assert triage_for("todoist.comment.added") == "immediate"


def test_command_parsing() -> None:
    assert parse('/send@joelclaw_bot app/thing {"a": 1}') == ("send", 'app/thing {"a": 1}')
    assert parse("/STATUS") == ("status", "")


def test_callback_labels_carry_the_outcome() -> None:
    assert callback_label("memory:approve:p-20260223-002") == "✅ Approved"
    assert callback_label("memory:reject:p-20260223-002") == "❌ Rejected"
    assert callback_label("snooze:abc") == "⏰ Snoozed for 4h"
    assert callback_label("cmd:status") == "▶️ /status"
    assert callback_label("other") == "✔️ Received"


def test_media_of_takes_the_largest_photo() -> None:
    kind, ref = media_of({"photo": [{"file_id": "small"}, {"file_id": "big"}]})
    assert (kind, ref["file_id"]) == ("photo", "big")
    assert media_of({"text": "hi"}) == (None, {})
