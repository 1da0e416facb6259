"""The `joelclaw` command line (SPEC §12): one JSON envelope per command when piped or with
`--json`, readable text on a terminal; exit 0 ok, 1 failure, 2 usage error.

The commands live in the modules named below, imported only when their command runs (or when
every command is listed: `--help`, bare `joelclaw`, `capabilities`), so a command answers
without loading what it does not use. `tests/test_cli_start.py` keeps this table exact.
"""

from __future__ import annotations

from joelclaw.cli.app import cli

# command -> the modules that define it (a group's subcommands may come from several)
COMMANDS: dict[str, tuple[str, ...]] = {
    "approvals": ("approvals",), "budgets": ("budgets",), "cache": ("cache",),
    "capabilities": ("capabilities",),
    "cancel": ("runs",), "event": ("runs",), "events": ("runs",), "explain": ("explain",),
    "forget": ("forget",), "forgotten": ("forget",),
    "functions": ("commands",), "gateway": ("gateway", "gateway_ops", "gateway_diagnose"),
    "logs": ("logs",), "otel": ("otel",), "pause": ("commands",), "queues": ("ops",),
    "recall": ("memory",), "recover": ("recover",), "reload": ("reload",), "replay": ("runs",),
    "rerun": ("runs",), "resume": ("commands",), "review": ("memory",), "run": ("runs",),
    "runs": ("runs",), "schedule": ("ops",), "schema": ("schema",), "search": ("otel",),
    "send": ("commands",), "shadow": ("shadow",), "cassettes": ("shadow",),
    "cassette": ("shadow",), "status": ("commands",), "up": ("ops",), "wake": ("runs",),
    "watch": ("watch",), "watchdog": ("watchdog",),
}
cli.lazy = {name: tuple(f"joelclaw.cli.{m}" for m in modules)
            for name, modules in COMMANDS.items()}
cli.lazy_root = "joelclaw.cli.capabilities"  # registers what bare `joelclaw` shows

__all__ = ["COMMANDS", "cli", "main"]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point; exits with the command's status."""
    cli.main(args=argv, prog_name="joelclaw")
