"""The Celery entry point: `celery -A joelclaw.worker worker|beat|flower|inspect ...`.

The only module that builds something at import time, because Celery's CLI needs an attribute.
"""

from __future__ import annotations

from joelclaw.runtime import Runtime

runtime = Runtime()
app = runtime.celery
