"""Telemetry: OpenTelemetry spans of runs and steps, telemetry events in Typesense's
`otel_events`, and LLM spend against a daily budget. An extension (plugin.py), like the
gateway and memory: the bus only calls its port (joelclaw.bus.execution.telemetry)."""
