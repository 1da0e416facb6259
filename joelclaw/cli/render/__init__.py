"""Terminal views of command results: tables and a run waterfall a person can scan quickly.
JSON mode never comes here; these take the exact `result` the envelope would carry.

- `text`: the styles and helpers every view shares (bold, dim, short JSON, tables);
- `runs`: runs, one run's summary, events and one event;
- `trace`: one run's trace (its waterfall, attempts, tasks, executions, errors);
- `system`: status, functions, send, schedule and queues.
"""

from __future__ import annotations

from joelclaw.cli.output import table
from joelclaw.cli.render.runs import render_event, render_events, render_run, render_runs
from joelclaw.cli.render.system import (
    render_functions,
    render_queues,
    render_schedule,
    render_send,
    render_status,
)
from joelclaw.cli.render.text import bold, dim, short_json
from joelclaw.cli.render.trace import hold_line, render_trace

__all__ = ["bold", "dim", "hold_line", "render_event", "render_events", "render_functions",
           "render_queues", "render_run", "render_runs", "render_schedule", "render_send",
           "render_status", "render_trace", "short_json", "table"]
