"""The integration clients the checks use, built from the settings (None when not configured)."""

from __future__ import annotations

import redis

from joelclaw.config import Settings
from joelclaw.integrations.front import FrontClient
from joelclaw.integrations.llm import LLMClient
from joelclaw.integrations.todoist import TodoistClient


def todoist(settings: Settings, client: redis.Redis | None = None) -> TodoistClient | None:
    if not settings.todoist_token:
        return None
    return TodoistClient(settings.todoist_token, settings.todoist_api_url, redis_client=client)


def front(settings: Settings) -> FrontClient | None:
    if not settings.front_token:
        return None
    return FrontClient(settings.front_token, settings.front_api_url)


def llm(settings: Settings) -> LLMClient | None:
    """The one OpenAI-compatible client (JOELCLAW_LLM_*); None without a URL and a model."""
    if not settings.llm_api_url or not settings.llm_model:
        return None
    return LLMClient(settings.llm_api_url, settings.llm_api_key, settings.llm_model,
                     timeout=settings.checks_llm_timeout_seconds)
