"""Flower as joelclaw runs it, under `joelclaw up` and from the Procfile alike:
`python -m joelclaw.flower` runs Flower (`joelclaw.supervisor.flower`: celery flower, re-inspecting
workers that boot after it) behind basic auth.

Why always auth, loopback too: Flower 2.2 answers its API without credentials only with
FLOWER_UNAUTHENTICATED_API, and then it also answers `Access-Control-Allow-Origin: *` and skips
its cross-site check, so any web page the owner opens could read it and drive it (resize pools,
apply any task: agent dispatch included). With basic auth Flower sends no CORS header and
refuses cross-site requests (Sec-Fetch-Site / Origin), and a page cannot guess the password.
The credentials are the configured ones or a generated pair (`joelclaw.credentials`); they
travel in Flower's environment (FLOWER_BASIC_AUTH), never its argv, where `ps` shows them.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from joelclaw.config import load_settings
from joelclaw.credentials import flower_credentials
from joelclaw.errors import ConfigError
from joelclaw.ownerfiles import owner_only

if TYPE_CHECKING:
    from joelclaw.config import Settings

UNSAFE = ("FLOWER_UNAUTHENTICATED_API",)


def argv(settings: Settings) -> list[str]:
    return [sys.executable, "-m", "joelclaw.supervisor.flower", "-A", "joelclaw.worker", "flower",
            f"--address={settings.flower.address}", f"--port={settings.flower.port}"]


def environment(settings: Settings, base: dict[str, str]) -> dict[str, str]:
    """`base` without any setting that would open Flower, plus its basic auth."""
    user, password = flower_credentials(settings)
    env = {k: v for k, v in base.items() if k not in UNSAFE}
    env["FLOWER_BASIC_AUTH"] = f"{user}:{password}"
    return env


def main() -> int:
    owner_only()
    try:
        settings = load_settings()
        env = environment(settings, dict(os.environ))
    except ConfigError as exc:
        print(f"flower: {exc}", file=sys.stderr)
        return 78  # EX_CONFIG: a supervisor should not restart it in a loop
    # in this process rather than exec'd: under `joelclaw up` it is forked from the supervisor
    # and shares the libraries it preloaded (joelclaw.supervisor.zygote)
    from joelclaw.supervisor import flower

    os.environ.clear()
    os.environ.update(env)
    sys.argv = argv(settings)[2:]
    flower.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
