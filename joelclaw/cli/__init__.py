"""The `joelclaw` command line (SPEC §12): one JSON envelope per command when piped or with
`--json`, readable text on a terminal; exit 0 ok, 1 failure, 2 usage error."""

from __future__ import annotations

from joelclaw.cli import cache, commands, explain, gateway, memory, ops, runs
from joelclaw.cli.app import cli

__all__ = ["cache", "cli", "commands", "explain", "gateway", "main", "memory", "ops",
           "runs"]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point; exits with the command's status."""
    cli.main(args=argv, prog_name="joelclaw")
