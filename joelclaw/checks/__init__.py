"""The heartbeat's checks (reference §1.2, issue 11): one concept per module, each returning
plain JSON so a function can memoize it as a step. The functions are in `tasks/checks.py`,
`tasks/health.py` and `tasks/digest.py`; each check owns its cooldown
(`joelclaw.coordination.cooldown`) and says whether it has something actionable, and only then
does its function contact the gateway."""

# The public modules, all that function modules (`tasks/`) may import from here, each
# loaded when taken (`from joelclaw.checks import calendar`); tests/test_door.py holds them to it.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from joelclaw.checks import (
        calendar,
        clients,
        digest,
        email_triage,
        sessions,
        system_health,
        task_triage,
        tracked,
        triggers_audit,
        vault,
        window,
    )

__all__ = [
    "calendar",
    "clients",
    "digest",
    "email_triage",
    "sessions",
    "system_health",
    "task_triage",
    "tracked",
    "triggers_audit",
    "vault",
    "window",
]
