"""Running a configured external program (git, a calendar exporter) with a timeout: the
command is a setting, split like a shell line but never run through a shell."""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from joelclaw.errors import JoelclawError


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.code == 0


class CommandError(JoelclawError):
    """The program could not be started, or did not finish in time."""


def run(command: str, *args: str, cwd: Path | None = None, timeout: float = 30.0) -> Result:
    argv = [*shlex.split(command), *args]
    if not argv:
        raise CommandError("empty command")
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except FileNotFoundError:
        raise CommandError(f"{argv[0]}: not found (check the setting naming it)") from None
    except subprocess.TimeoutExpired:
        raise CommandError(f"{argv[0]} did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise CommandError(f"{argv[0]}: {exc}") from None
    return Result(done.returncode, done.stdout, done.stderr)
