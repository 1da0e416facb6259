"""The `otel_events` collection (reference §5.2), reconciled like `memory_observations`:
created when missing, missing fields added, nothing dropped. Not embedded. `run_id` and
`function_id` are added to the old fields so an event leads to its run."""

from __future__ import annotations

from typing import Any

from joelclaw.integrations.typesense import schema_field

COLLECTION = "otel_events"

FIELDS: list[dict[str, Any]] = [
    schema_field("timestamp", "int64", sort=True),  # ms
    schema_field("date", "string", facet=True),
    schema_field("level", "string", facet=True),
    schema_field("source", "string", facet=True),
    schema_field("component", "string", facet=True),
    schema_field("action", "string", facet=True),
    schema_field("success", "bool", facet=True),
    schema_field("duration_ms", "int32", optional=True),
    schema_field("error", "string", optional=True),
    schema_field("metadata_json", "string", optional=True),
    schema_field("metadata_keys", "string[]", facet=True, optional=True),
    schema_field("search_text", "string"),
    schema_field("run_id", "string", facet=True, optional=True),
    schema_field("function_id", "string", facet=True, optional=True),
    schema_field("cost_usd", "float", optional=True),
    # provenance (joelclaw.provenance): the event and step of the run that emitted it
    schema_field("event_id", "string", facet=True, optional=True),
    schema_field("step", "string", optional=True),
]


def schema() -> dict[str, Any]:
    return {"name": COLLECTION, "fields": list(FIELDS), "default_sorting_field": "timestamp"}
