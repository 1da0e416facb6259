"""Cassettes: every external call a step makes, and every model call (chat, embeddings,
transcription) wherever it is made, recorded with what was sent and what came back, linked to
its run and step; a model call also with its model, tokens and cost.

A shadow run (`joelclaw.shadow`) and tests answer calls from them instead of sending them. They
live in Redis beside the runs they belong to and expire with them (`keys.CASSETTE_TTL`); every
view redacts them (`joelclaw.redaction`).
"""

from __future__ import annotations

from joelclaw.cassettes.model import Cassette
from joelclaw.cassettes.store import CassetteStore

__all__ = ["Cassette", "CassetteStore"]
