"""The self-guarding settings: each provider's breaker over the defaults, and effect budgets by
function id (`*` for the rest), read from their JSON variables and refused when malformed."""

from __future__ import annotations

import pytest

from joelclaw.config import PROVIDERS, BreakerTuning, Caps, EffectBudget, Settings, load_settings
from joelclaw.errors import ConfigError


def test_a_provider_takes_its_own_breaker_settings_over_the_defaults(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOELCLAW_BREAKER_FAILURES", "4")
    monkeypatch.setenv("JOELCLAW_BREAKER_PROVIDERS",
                       '{"todoist": {"failures": 2, "open_seconds": 120}, '
                       '"typesense": {"max_open_seconds": 30}}')
    breakers = load_settings(_env_file=None).breakers
    assert breakers.tuning("todoist") == BreakerTuning(2, 120.0, 600.0)
    assert breakers.tuning("typesense") == BreakerTuning(4, 30.0, 30.0)
    assert breakers.tuning("llm") == BreakerTuning(4, 30.0, 600.0)


@pytest.mark.parametrize("value, named", [
    ('{"todoist": {"failures": 0}}', "JOELCLAW_BREAKER_PROVIDERS"),
    ('{"todoist": {"fails": 3}}', "JOELCLAW_BREAKER_PROVIDERS"),
    ('{"slack": {"failures": 3}}', "no breaker for slack"),
])
def test_a_bad_provider_breaker_setting_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                   value: str, named: str) -> None:
    monkeypatch.setenv("JOELCLAW_BREAKER_PROVIDERS", value)
    with pytest.raises(ConfigError, match=named):
        load_settings(_env_file=None)


def test_every_provider_has_a_breaker_name_its_client_uses() -> None:
    from joelclaw.integrations import (
        embeddings,
        front,
        llm,
        telegram_api,
        todoist,
        transcription,
        typesense,
    )

    services = {m.SERVICE for m in (embeddings, front, llm, telegram_api, todoist,
                                    transcription, typesense)}
    assert services == set(PROVIDERS)


def test_effect_budgets_by_function_with_a_default_for_the_rest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).budgets.of("any") == EffectBudget(run=Caps(notify=20))
    assert Settings(_env_file=None, effect_budgets={}).budgets.of("any") is None
    monkeypatch.setenv("JOELCLAW_EFFECT_BUDGETS",
                       '{"digest": {"window_seconds": 600, "function": {"notify": 2, '
                       '"llm_usd": 0.5}}, "*": {"run": {"write": 3}}}')
    budgets = load_settings(_env_file=None).budgets
    digest = budgets.of("digest")
    assert digest is not None and digest.window_seconds == 600
    assert digest.function == Caps(notify=2, llm_usd=0.5) and digest.run == Caps()
    other = budgets.of("other")
    assert other is not None and other.run.write == 3 and other.function.notify is None


@pytest.mark.parametrize("value", ['{"f": {"run": {"notify": -1}}}',
                                   '{"f": {"window_seconds": 0}}',
                                   '{"f": {"run": {"emails": 3}}}'])
def test_a_bad_effect_budget_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("JOELCLAW_EFFECT_BUDGETS", value)
    with pytest.raises(ConfigError, match="JOELCLAW_EFFECT_BUDGETS"):
        load_settings(_env_file=None)
