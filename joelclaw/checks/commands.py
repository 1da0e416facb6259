"""Running a configured external program (git, a calendar exporter) with a timeout: the
command is a setting, split like a shell line but never run through a shell. Each run is an
external call through the tape (`joelclaw.integrations.tape.local`): recorded inside a step,
answered from its recording (or refused) in a shadow run, never started there."""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from joelclaw.effects import Effect
from joelclaw.errors import JoelclawError
from joelclaw.integrations import tape

SERVICE = "command"


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


def run(command: str, *args: str, cwd: Path | None = None, timeout: float = 30.0,
        effect: Effect = "write") -> Result:
    """Run the program; `effect` says what it does (default `write`: a shadow run never starts
    a program it is not told only reads)."""
    argv = [*shlex.split(command), *args]
    if not argv:
        raise CommandError("empty command")
    call = tape.Call(SERVICE, "EXEC", Path(argv[0]).name, effect, {"argv": argv[1:]})
    done = tape.local(call, lambda: _execute(argv, cwd, timeout))
    return Result(int(done["code"]), str(done["stdout"]), str(done["stderr"]))


def _execute(argv: list[str], cwd: Path | None, timeout: float) -> dict[str, object]:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except FileNotFoundError:
        raise CommandError(f"{argv[0]}: not found (check the setting naming it)") from None
    except subprocess.TimeoutExpired:
        raise CommandError(f"{argv[0]} did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise CommandError(f"{argv[0]}: {exc}") from None
    return {"code": done.returncode, "stdout": done.stdout, "stderr": done.stderr}
