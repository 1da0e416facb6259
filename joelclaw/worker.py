"""The Celery entry point: `celery -A joelclaw.worker worker|beat|flower|inspect ...`.

The only module that builds something at import time, because Celery's CLI needs an attribute.
"""

from __future__ import annotations

import gc
from typing import Any

from celery import signals

from joelclaw import client
from joelclaw.ownerfiles import owner_only
from joelclaw.redaction import install_log_redaction
from joelclaw.runtime import Runtime

owner_only()  # what workers and beat write (agent output, backups, media) is the owner's alone
runtime = Runtime()
install_log_redaction(runtime.settings)  # every worker, beat and flower log line, secrets hidden
client.use(runtime)  # joelclaw.send_event from a plain task sends through this runtime
app = runtime.celery


@signals.worker_init.connect(weak=False)
def _freeze_before_fork(**_: Any) -> None:
    """Move every object built so far (modules, the app, the registry) out of the collector's
    reach before the pool forks: a collection in a pool process would otherwise write to each
    page holding one and copy it, so every process paid again for memory it shared."""
    gc.freeze()
