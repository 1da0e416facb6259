"""What a shadow run found, per run and in total, and where reports are kept.

Every value in a report is a redacted preview and every diff is computed over redacted text, so a
report can be shown anywhere (CLI, JSON, dashboard) as it is stored.
"""

from __future__ import annotations

import difflib
import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from joelclaw import keys
from joelclaw.redaction import redact

if TYPE_CHECKING:
    import redis

DIFF_LINES = 200  # a diff longer than this is cut: the report names what differs either way


class Options(BaseModel):
    """What a shadow run may do beyond replaying: re-ask the model (`reask`, or `model` to ask
    another one), send read calls with no recording to the services in `allow`."""

    reask: bool = False
    model: str | None = None
    allow: list[str] = Field(default_factory=list)

    @property
    def asks_models(self) -> bool:
        return self.reask or self.model is not None


class StepOutcome(BaseModel):
    key: str
    type: str
    effect: str
    mode: str  # re-executed | replayed | missing
    same: bool = True
    recorded: Any = None
    shadow: Any = None
    diff: str | None = None
    error: str | None = None


class ModelCall(BaseModel):
    step: str | None
    seq: int
    service: str
    model: str | None = None
    mode: str  # replayed | re-asked
    request_changed: bool = False  # the prompt (or any input) differs from the recording
    same: bool = True
    recorded: str | None = None
    shadow: str | None = None
    diff: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class Held(BaseModel):
    """A call or service use a shadow run did not let out (answered from the recording, or
    refused when there was none)."""

    step: str | None
    what: str
    effect: str
    outcome: str  # replayed | refused | ignored


class RunReport(BaseModel):
    run_id: str
    function: str
    status: str = "same"  # same | differs | error
    error: str | None = None
    steps: list[StepOutcome] = Field(default_factory=list)
    output_same: bool = True
    recorded_output: Any = None
    shadow_output: Any = None
    output_diff: str | None = None
    model_calls: list[ModelCall] = Field(default_factory=list)
    held: list[Held] = Field(default_factory=list)
    undeclared: list[str] = Field(default_factory=list)  # calls beyond their step's effect
    provider_calls: int = 0  # calls that left the machine (allowed ones only)
    cost_usd: float = 0.0

    def settle(self) -> None:
        differs = not self.output_same or any(not s.same for s in self.steps)
        self.status = "error" if self.error else "differs" if differs else "same"


class ShadowReport(BaseModel):
    id: str = Field(default_factory=lambda: f"shadow-{int(time.time() * 1000):013d}-"
                                            f"{uuid.uuid4().hex[:6]}")
    created_at: float = Field(default_factory=time.time)
    selection: dict[str, Any] = Field(default_factory=dict)
    options: Options = Field(default_factory=Options)
    runs: list[RunReport] = Field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        return {"runs": len(self.runs),
                "differ": sum(r.status == "differs" for r in self.runs),
                "errors": sum(r.status == "error" for r in self.runs),
                "same": sum(r.status == "same" for r in self.runs),
                "provider_calls": sum(r.provider_calls for r in self.runs),
                "held": sum(len(r.held) for r in self.runs),
                "cost_usd": round(sum(r.cost_usd for r in self.runs), 8)}

    def view(self) -> dict[str, Any]:
        return {**self.model_dump(), "totals": self.totals()}

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "created_at": self.created_at, "selection": self.selection,
                "options": self.options.model_dump(), "totals": self.totals()}


def comparable(value: Any) -> Any:
    """A value as the run store keeps it (JSON), so a tuple and a list compare equal."""
    return json.loads(json.dumps(value, default=str))


def diff(recorded: Any, shadow: Any) -> str | None:
    """A unified diff of two values' redacted, pretty JSON (None when equal)."""
    if comparable(recorded) == comparable(shadow):
        return None
    before, after = (_pretty(redact(comparable(v))) for v in (recorded, shadow))
    lines = list(difflib.unified_diff(before, after, "recorded", "shadow", lineterm="", n=2))
    if len(lines) > DIFF_LINES:
        lines = [*lines[:DIFF_LINES], f"... {len(lines) - DIFF_LINES} more lines"]
    return "\n".join(lines)


def _pretty(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.splitlines() or [""]
    return json.dumps(value, indent=2, sort_keys=True, default=str).splitlines()


class ReportStore:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def save(self, report: ShadowReport) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(keys.shadow_report(report.id), report.model_dump_json(), ex=keys.SHADOW_TTL)
        pipe.zadd(keys.SHADOW_REPORTS, {report.id: report.created_at})
        pipe.zremrangebyrank(keys.SHADOW_REPORTS, 0, -(keys.SHADOW_KEEP + 1))
        pipe.execute()

    def get(self, report_id: str) -> ShadowReport | None:
        raw = self.redis.get(keys.shadow_report(report_id))
        return ShadowReport.model_validate_json(raw) if raw else None

    def recent(self, limit: int = 20) -> list[ShadowReport]:
        ids = [r.decode() for r in self.redis.zrevrange(keys.SHADOW_REPORTS, 0, limit - 1)]
        raws = self.redis.mget([keys.shadow_report(i) for i in ids]) if ids else []
        return [ShadowReport.model_validate_json(raw) for raw in raws if raw]
