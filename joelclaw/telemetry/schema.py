"""The `otel_events` collection (reference §5.2), reconciled like `memory_observations`:
created when missing, missing fields added, nothing dropped. Not embedded. `run_id` and
`function_id` are added to the old fields so an event leads to its run."""

from __future__ import annotations

from typing import Any


def _f(name: str, kind: str, *, facet: bool = False, optional: bool = False,
       sort: bool = False) -> dict[str, Any]:
    field: dict[str, Any] = {"name": name, "type": kind}
    if facet:
        field["facet"] = True
    if optional:
        field["optional"] = True
    if sort:
        field["sort"] = True
    return field


COLLECTION = "otel_events"

FIELDS: list[dict[str, Any]] = [
    _f("timestamp", "int64", sort=True),  # ms
    _f("date", "string", facet=True),
    _f("level", "string", facet=True),
    _f("source", "string", facet=True),
    _f("component", "string", facet=True),
    _f("action", "string", facet=True),
    _f("success", "bool", facet=True),
    _f("duration_ms", "int32", optional=True),
    _f("error", "string", optional=True),
    _f("metadata_json", "string", optional=True),
    _f("metadata_keys", "string[]", facet=True, optional=True),
    _f("search_text", "string"),
    _f("run_id", "string", facet=True, optional=True),
    _f("function_id", "string", facet=True, optional=True),
    _f("cost_usd", "float", optional=True),
]


def schema() -> dict[str, Any]:
    return {"name": COLLECTION, "fields": list(FIELDS), "default_sorting_field": "timestamp"}
