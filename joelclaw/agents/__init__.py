"""Background agents: the configured tool command a `system/agent.requested` runs
(dispatch), the inbox its results go to, and the owner's approvals of agent operations."""
