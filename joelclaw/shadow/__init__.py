"""Shadow replay: re-execute recorded runs on the current code (or another model) where every
`write` and `notify` step, and every external call inside steps, returns its recorded output
instead of acting; report per run which step outputs and which final outputs differ, with a
diff. `joelclaw shadow` and the dashboard's shadow page show the reports.
"""

from __future__ import annotations

from joelclaw.shadow.report import Options, ReportStore, RunReport, ShadowReport
from joelclaw.shadow.runner import shadow_many, shadow_run

__all__ = ["Options", "ReportStore", "RunReport", "ShadowReport", "shadow_many", "shadow_run"]
