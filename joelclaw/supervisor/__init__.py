"""`joelclaw up`: run and supervise web, worker, gateway, beat and flower (and an embedded Redis
and Typesense).

`processes` knows how to run children (prefixed output, restart with backoff, warm then hard
stop); `services` the servers they need (Redis, Typesense); `up` what joelclaw runs (commands,
ports, banner, signals).
"""

from joelclaw.supervisor import deferred

deferred.install()  # before anything below imports httpx (or, preloading, Celery)

from joelclaw.supervisor.processes import Backoff, Output, Supervisor  # noqa: E402
from joelclaw.supervisor.services import check_external_redis  # noqa: E402
from joelclaw.supervisor.up import (  # noqa: E402
    Command,
    UpError,
    check_ports,
    child_env,
    commands,
    port_available,
    print_banner,
    up,
)

__all__ = [
    "Backoff", "Command", "Output", "Supervisor", "UpError", "check_external_redis",
    "check_ports", "child_env", "commands", "port_available",
    "print_banner", "up",
]
