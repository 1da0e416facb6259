"""One typed settings object, read from `JOELCLAW_*` variables (and `.env`) and validated at
start; code reads it by concern through read-only views (`settings.telegram.token`).

- `base`: the prefix, the fields mixins' base, the helpers views and validators share;
- `core`, `web`, `workers`, `providers`, `assistant`, `knowledge`, `operations`, `guards`: each
  concern's settings (a fields mixin per view; the variables keep flat names);
- `views`: the read-only views; `settings`: `Settings`, which inherits every mixin;
- `loading`: `load_settings` (errors name the variable), `resolve_redis_url`;
- `quick`: the CLI's reader of the few settings its read commands use, without building
  `Settings` (no pydantic-settings), never disagreeing with it.

Names are imported from their module on first use (PEP 562), so importing one part (the CLI's
quick reader) does not build the whole settings model.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from joelclaw.config.base import PREFIX
    from joelclaw.config.guards import (
        PROVIDERS,
        BreakerSettings,
        BreakerTuning,
        BudgetSettings,
        Caps,
        EffectBudget,
        ProviderBreaker,
    )
    from joelclaw.config.loading import load_settings, resolve_redis_url
    from joelclaw.config.settings import Settings
    from joelclaw.config.views import (
        TOP_LEVEL,
        VIEWS,
        AgentSettings,
        BackupSettings,
        CacheSettings,
        CheckSettings,
        DeadmanSettings,
        DocsSettings,
        EmbeddingsSettings,
        FlowerSettings,
        FrontSettings,
        GatewaySettings,
        GithubSettings,
        HealthSettings,
        LLMSettings,
        MediaSettings,
        MemorySettings,
        O11ySettings,
        RedisSettings,
        RunSettings,
        TelegramSettings,
        TelemetrySettings,
        TodoistSettings,
        TypesenseSettings,
        VercelSettings,
        WebSettings,
        WorkerSettings,
    )

_HOMES = {
    "PREFIX": "base",
    "Settings": "settings",
    "load_settings": "loading", "resolve_redis_url": "loading",
    **dict.fromkeys(("PROVIDERS", "BreakerSettings", "BreakerTuning", "BudgetSettings", "Caps",
                     "EffectBudget", "ProviderBreaker"), "guards"),
    **dict.fromkeys((
        "TOP_LEVEL", "VIEWS", "AgentSettings", "BackupSettings", "CacheSettings",
        "CheckSettings", "DeadmanSettings", "DocsSettings", "EmbeddingsSettings",
        "FlowerSettings", "FrontSettings", "GatewaySettings", "GithubSettings", "HealthSettings",
        "LLMSettings", "MediaSettings", "MemorySettings", "O11ySettings", "RedisSettings",
        "RunSettings", "TelegramSettings", "TelemetrySettings", "TodoistSettings",
        "TypesenseSettings", "VercelSettings", "WebSettings", "WorkerSettings"), "views"),
}
__all__ = [
    "PREFIX",
    "PROVIDERS",
    "TOP_LEVEL",
    "VIEWS",
    "AgentSettings",
    "BackupSettings",
    "BreakerSettings",
    "BreakerTuning",
    "BudgetSettings",
    "CacheSettings",
    "Caps",
    "CheckSettings",
    "DeadmanSettings",
    "DocsSettings",
    "EffectBudget",
    "EmbeddingsSettings",
    "FlowerSettings",
    "FrontSettings",
    "GatewaySettings",
    "GithubSettings",
    "HealthSettings",
    "LLMSettings",
    "MediaSettings",
    "MemorySettings",
    "O11ySettings",
    "ProviderBreaker",
    "RedisSettings",
    "RunSettings",
    "Settings",
    "TelegramSettings",
    "TelemetrySettings",
    "TodoistSettings",
    "TypesenseSettings",
    "VercelSettings",
    "WebSettings",
    "WorkerSettings",
    "load_settings",
    "resolve_redis_url",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
