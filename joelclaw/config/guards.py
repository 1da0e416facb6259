"""The guards' settings: the providers' circuit breakers and the functions' effect budgets,
each a JSON setting with a model of its own, and the views that resolve them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from joelclaw.config.base import Fields, decode_json, shows

if TYPE_CHECKING:  # a view is a frozen dataclass with slots (joelclaw.config.views)
    from dataclasses import dataclass as view
else:
    from joelclaw.config.base import view

# The providers whose client calls feed a circuit breaker (joelclaw.coordination.breakers).
PROVIDERS = ("embeddings", "front", "llm", "telegram", "todoist", "transcription", "typesense")


class ProviderBreaker(BaseModel):
    """One provider's own breaker settings (`JOELCLAW_BREAKER_PROVIDERS`); unset: the defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    failures: int | None = Field(None, ge=1)
    open_seconds: float | None = Field(None, gt=0)
    max_open_seconds: float | None = Field(None, gt=0)


@dataclass(frozen=True, slots=True)
class BreakerTuning:
    """What one provider's breaker uses: its own settings over the defaults."""

    failures: int
    open_seconds: float
    max_open_seconds: float


@view(frozen=True, slots=True)
class BreakerSettings:
    """The providers' circuit breakers: failures in a row that open one, and for how long."""

    failures: int = shows("breaker_failures")
    open_seconds: float = shows("breaker_open_seconds")
    max_open_seconds: float = shows("breaker_max_open_seconds")
    providers: dict[str, ProviderBreaker] = shows("breaker_providers")

    def tuning(self, provider: str) -> BreakerTuning:
        own = self.providers.get(provider) or ProviderBreaker()
        return BreakerTuning(
            own.failures or self.failures, own.open_seconds or self.open_seconds,
            own.max_open_seconds or self.max_open_seconds)


class Caps(BaseModel):
    """Caps on a function's effects: owner messages, external writes, LLM spend (USD)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    notify: int | None = Field(None, ge=0)
    write: int | None = Field(None, ge=0)
    llm_usd: float | None = Field(None, ge=0)


class EffectBudget(BaseModel):
    """One function's budget (`JOELCLAW_EFFECT_BUDGETS`): per window of its runs, and per run."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    window_seconds: float = Field(3600.0, gt=0)
    function: Caps = Caps()
    run: Caps = Caps()


@view(frozen=True, slots=True)
class BudgetSettings:
    """Effect budgets (joelclaw.coordination.budgets): by function id, `*` for the others."""

    budgets: dict[str, EffectBudget] = shows("effect_budgets")

    def of(self, function_id: str) -> EffectBudget | None:
        return self.budgets.get(function_id) or self.budgets.get("*")


class BreakerFields(Fields):
    """Provider circuit breakers (joelclaw/coordination/breakers.py), one per PROVIDERS."""

    # This many failures in a row (transport errors, 5xx, spent 429s) open a provider's
    # breaker: steps about to call it wait (no attempt spent) for the open period, doubled
    # after each failed probe up to the max; a 429's Retry-After is the least.
    breaker_failures: int = Field(5, ge=1)
    breaker_open_seconds: float = Field(30.0, gt=0)
    breaker_max_open_seconds: float = Field(600.0, gt=0)
    # Per provider (PROVIDERS), JSON: {"todoist": {"failures": 3, "open_seconds": 120}}; a
    # field left out takes the default above.
    breaker_providers: dict[str, ProviderBreaker] = Field(default_factory=dict)

    @field_validator("breaker_providers", mode="before")
    @classmethod
    def _decode_providers(cls, value: Any) -> Any:
        return decode_json(value)

    @field_validator("breaker_providers")
    @classmethod
    def _known_providers(cls, value: dict[str, ProviderBreaker]) -> dict[str, ProviderBreaker]:
        unknown = sorted(set(value) - set(PROVIDERS))
        if unknown:
            raise ValueError(f"no breaker for {', '.join(unknown)}; the providers are "
                             f"{', '.join(PROVIDERS)}")
        return value


class BudgetFields(Fields):
    """Effect budgets (joelclaw/coordination/budgets.py)."""

    # By function id ("*": every other function), JSON: {"*": {"run": {"notify": 20}},
    # "digest": {"window_seconds": 3600, "function": {"notify": 5, "write": 10, "llm_usd": 1}}}.
    # A step about to exceed one waits and the owner is asked once (allow once / for the
    # day / stop). The default caps every run at 20 owner messages.
    effect_budgets: dict[str, EffectBudget] = Field(
        default_factory=lambda: {"*": EffectBudget(run=Caps(notify=20))})

    @field_validator("effect_budgets", mode="before")
    @classmethod
    def _decode_budgets(cls, value: Any) -> Any:
        return decode_json(value)
