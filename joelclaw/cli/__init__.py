"""The `joelclaw` command line (SPEC §12): one JSON envelope per command when piped or with
`--json`, readable text on a terminal; exit 0 ok, 1 failure, 2 usage error."""

from __future__ import annotations

from joelclaw.cli import (
    approvals,
    cache,
    capabilities,
    commands,
    explain,
    gateway,
    gateway_diagnose,
    gateway_ops,
    logs,
    memory,
    ops,
    otel,
    recover,
    reload,
    runs,
    schema,
    watch,
)
from joelclaw.cli.app import cli

__all__ = ["approvals", "cache", "capabilities", "cli", "commands", "explain", "gateway",
           "gateway_diagnose", "gateway_ops", "logs", "main", "memory", "ops", "otel", "recover",
           "reload", "runs", "schema", "watch"]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point; exits with the command's status."""
    cli.main(args=argv, prog_name="joelclaw")
