"""Telemetry: OpenTelemetry spans of runs and steps, telemetry events in Typesense's
`otel_events`, and LLM spend against a daily budget. An extension (plugin.py), like the
gateway and memory: the bus only calls its port (joelclaw.bus.execution.telemetry)."""

# The public modules, all that function modules (`tasks/`) may import from here, each
# loaded when taken (`from joelclaw.telemetry import triage`); tests/test_door.py holds them to it.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from joelclaw.telemetry import systemlog, triage

__all__ = ["systemlog", "triage"]
