"""What the bus stores and how: a run's record (`Run`, its statuses and field codec), step
memos and traces (`Memo`, `Done`, `Failed`, ...), attempts, redacted previews, the `RunStore`,
the Lua scripts that change several keys at once, metrics written with the runs, the code
generation a reload bumps (`codestate`), and each worker's presence stamp (`presence`).
Below the `Bus` port: nothing here calls the bus."""

from __future__ import annotations

from typing import TYPE_CHECKING

from joelclaw.bus.lazy import door

if TYPE_CHECKING:
    from joelclaw.bus.records import codestate, metrics, presence, wakeups
    from joelclaw.bus.records.attempts import OPEN, attempts_of
    from joelclaw.bus.records.codestate import CodeWatch
    from joelclaw.bus.records.memo import Done, Failed, Memo, Sleeping, trace_fields
    from joelclaw.bus.records.previews import preview
    from joelclaw.bus.records.run_store import RunStore, trace_of
    from joelclaw.bus.records.runs import Run, StepTrace
    from joelclaw.bus.records.runs import encode as encode_run
    from joelclaw.bus.records.scripts import Scripts
    from joelclaw.bus.records.statuses import STATUSES, TERMINAL, RunStatus

__all__ = [
    "OPEN",
    "STATUSES",
    "TERMINAL",
    "CodeWatch",
    "Done",
    "Failed",
    "Memo",
    "Run",
    "RunStatus",
    "RunStore",
    "Scripts",
    "Sleeping",
    "StepTrace",
    "attempts_of",
    "codestate",
    "encode_run",
    "metrics",
    "presence",
    "preview",
    "trace_fields",
    "trace_of",
    "wakeups",
]

__getattr__, __dir__ = door(__name__, {
    "CodeWatch": "codestate:CodeWatch",
    "Done": "memo:Done",
    "Failed": "memo:Failed",
    "Memo": "memo:Memo",
    "OPEN": "attempts:OPEN",
    "Run": "runs:Run",
    "RunStatus": "statuses:RunStatus",
    "RunStore": "run_store:RunStore",
    "STATUSES": "statuses:STATUSES",
    "Scripts": "scripts:Scripts",
    "Sleeping": "memo:Sleeping",
    "StepTrace": "runs:StepTrace",
    "TERMINAL": "statuses:TERMINAL",
    "attempts_of": "attempts:attempts_of",
    "codestate": "codestate",
    "encode_run": "runs:encode",
    "metrics": "metrics",
    "presence": "presence",
    "preview": "previews:preview",
    "trace_fields": "memo:trace_fields",
    "trace_of": "run_store:trace_of",
    "wakeups": "wakeups",
})
