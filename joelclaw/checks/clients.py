"""The integration clients the checks use, built from the settings (None when not configured)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from joelclaw.integrations.front import FrontClient
from joelclaw.integrations.llm import LLMClient
from joelclaw.integrations.todoist import TodoistClient

if TYPE_CHECKING:
    import redis

    from joelclaw.config import Settings


def todoist(settings: Settings, client: redis.Redis | None = None) -> TodoistClient | None:
    if not settings.todoist.token:
        return None
    return TodoistClient(settings.todoist.token, settings.todoist.api_url, redis_client=client)


def front(settings: Settings) -> FrontClient | None:
    if not settings.front.token:
        return None
    return FrontClient(settings.front.token, settings.front.api_url)


def llm(settings: Settings) -> LLMClient | None:
    """The one OpenAI-compatible client (JOELCLAW_LLM_*); None without a URL and a model."""
    if not settings.llm.api_url or not settings.llm.model:
        return None
    return LLMClient(settings.llm.api_url, settings.llm.api_key, settings.llm.model,
                     timeout=settings.checks.llm_timeout_seconds)
