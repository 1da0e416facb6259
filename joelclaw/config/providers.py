"""The outside services' settings: Telegram, GitHub, Todoist, Front, Vercel (webhook secrets,
tokens, API addresses), the search server, the LLM endpoint and the embeddings endpoint."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from joelclaw.config.base import Fields, decode_json


class TelegramFields(Fields):
    """The bot (`TelegramSettings`)."""

    telegram_token: str | None = None
    telegram_owner_id: int | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_webhook_secret: str | None = None


class GithubFields(Fields):
    """GitHub's webhook (`GithubSettings`)."""

    github_webhook_secret: str | None = None


class TodoistFields(Fields):
    """Todoist (`TodoistSettings`)."""

    todoist_client_secret: str | None = None
    todoist_token: str | None = None
    todoist_api_url: str = "https://api.todoist.com/api/v1"


class FrontFields(Fields):
    """Front (`FrontSettings`)."""

    front_webhook_secret: str | None = None
    front_token: str | None = None
    front_api_url: str = "https://api2.frontapp.com"


class VercelFields(Fields):
    """Vercel's webhook (`VercelSettings`)."""

    vercel_webhook_secret: str | None = None


class TypesenseFields(Fields):
    """The search server; unset: the embedded one `joelclaw up` starts (`TypesenseSettings`)."""

    typesense_url: str | None = None
    typesense_api_key: str | None = None
    typesense_timeout_seconds: float = Field(5.0, gt=0)


class LLMFields(Fields):
    """The OpenAI-compatible chat endpoint, its fallback, prices, budget (`LLMSettings`)."""

    llm_api_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None
    llm_fallback_model: str | None = None
    llm_fallback_after_failures: int = Field(3, ge=1)
    llm_probe_interval_seconds: float = Field(600.0, gt=0)
    llm_vision: bool = False  # the model accepts images (media)
    # LLM prices in USD per million tokens, JSON: {"model": {"input": 3.0, "output": 15.0}};
    # "*" is the default for unlisted models (none: such calls cost 0 and are counted).
    llm_prices: dict[str, dict[str, float]] = Field(default_factory=dict)
    llm_daily_budget_usd: float | None = Field(None, gt=0)  # unset: no budget

    @field_validator("llm_prices", mode="before")
    @classmethod
    def _decode_prices(cls, value: Any) -> Any:
        return decode_json(value)


class EmbeddingsFields(Fields):
    """The embeddings endpoint (`EmbeddingsSettings`)."""

    # Embeddings: an OpenAI-compatible `POST {url}/embeddings`; unset = keyword-only search.
    # `local` uses the packaged all-MiniLM-L6-v2 (the `local-embeddings` extra) instead.
    embeddings_api_url: str | None = None
    embeddings_api_key: str | None = None
    embeddings_model: str = "text-embedding-3-small"
    embeddings_timeout_seconds: float = Field(15.0, gt=0)
