"""Background agents: the configured tool command a `system/agent.requested` runs
(dispatch), the inbox its results go to, and the owner's approvals of agent operations."""

# The public modules, all that function modules (`tasks/`) may import from here, each
# loaded when taken (`from joelclaw.agents import approvals`); tests/test_door.py holds them to it.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from joelclaw.agents import approvals, dispatch, inbox

__all__ = ["approvals", "dispatch", "inbox"]
