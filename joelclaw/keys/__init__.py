"""Every Redis key joelclaw writes, how long it lives, and every Celery queue it uses.

One leaf package, so nothing collides and `redis-cli --scan --pattern 'jc:*'` shows exactly our
state: every key starts with `jc:`, so a Celery broker sharing the server (its `_kombu.*`, queue
and `unacked` keys) never clashes with it. Who reads and writes each key is said beside it; run
records are encoded only by `joelclaw.bus.records.run_store.RunStore`.

Split by domain (joelclaw.keys.base, .intake, .bus, .coordination, .gateway, .owner), each
re-exported here: callers name every key as `keys.<name>`.
"""

from __future__ import annotations

from joelclaw.keys.base import *  # noqa: F403
from joelclaw.keys.bus import *  # noqa: F403
from joelclaw.keys.coordination import *  # noqa: F403
from joelclaw.keys.gateway import *  # noqa: F403
from joelclaw.keys.intake import *  # noqa: F403
from joelclaw.keys.owner import *  # noqa: F403
