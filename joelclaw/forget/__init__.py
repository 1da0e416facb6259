"""Forgetting on request (`joelclaw forget`): everything derived from an event, a text or a
person, found in every store (Redis keys, Typesense collections, the cache's files, the daily
logs, MEMORY.md) through provenance and by content, removed with a stub and an audit record."""

from __future__ import annotations

from joelclaw.forget.plan import ForgetError, Plan, audit, execute, plan, record

__all__ = ["ForgetError", "Plan", "audit", "execute", "plan", "record"]
