"""`joelclaw up`: run and supervise web, worker, gateway, beat and flower (and an embedded Redis).

`processes` knows how to run children (prefixed output, restart with backoff, warm then hard
stop); `up` knows what joelclaw runs (commands, ports, Redis, banner, signals).
"""

from joelclaw.supervisor.processes import Backoff, Output, Supervisor
from joelclaw.supervisor.up import (
    Command,
    UpError,
    check_external_redis,
    check_ports,
    child_env,
    commands,
    flower_auth_env,
    is_loopback,
    port_available,
    print_banner,
    up,
)

__all__ = [
    "Backoff", "Command", "Output", "Supervisor", "UpError", "check_external_redis",
    "check_ports", "child_env", "commands", "flower_auth_env", "is_loopback", "port_available",
    "print_banner", "up",
]
