"""A run's statuses, in their own module so a caller that only names them (the CLI's options)
imports nothing else."""

from __future__ import annotations

STATUSES = (
    "queued", "running", "sleeping", "waiting", "completed", "failed", "cancelled", "skipped",
)
TERMINAL = frozenset({"completed", "failed", "cancelled", "skipped"})
