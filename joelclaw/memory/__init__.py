"""Memory (SPEC §7): observe -> reflect -> triage -> review -> promote, and recall.

The logic lives here; `tasks/memory.py` only wires it to events, crons and flow control.
Observations live in Typesense (`memory_observations`), proposals in Redis, and what was
learned for good in MEMORY.md.
"""

# The public modules, all that function modules (`tasks/`) may import from here, each
# loaded when taken (`from joelclaw.memory import decide`); tests/test_door.py holds them to it.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from joelclaw.memory import decide, observe, proposals, reflect, review, service

__all__ = ["decide", "observe", "proposals", "reflect", "review", "service"]
