"""A function reporting what its pool process inherited: loaded only by tests/test_footprint.py."""

from __future__ import annotations

import gc
import os

from joelclaw import Context, function, trigger


@function("t-pool-frozen", triggers=[trigger("test/pool.frozen")], retries=0)
def pool_frozen(ctx: Context) -> dict[str, int]:
    return {"frozen": gc.get_freeze_count(), "pid": os.getpid()}
