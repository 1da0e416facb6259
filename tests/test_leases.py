"""A lease is renewed only while its execution runs: however the execution ends (an exception,
a write that failed while Redis was down), the renewer lets it go, so the lease can expire and
the sweeper can revive the run."""

from __future__ import annotations

import pytest

from joelclaw import keys
from joelclaw.bus.delivery import leases
from tests.support import lease_passed, wait_for


def test_a_lease_stops_being_renewed_when_its_execution_raises(runtime):
    lease = leases.acquire(runtime.scripts, "run-lease-test", ttl=0.6)
    assert lease is not None
    with pytest.raises(ConnectionError), lease.kept_alive():
        lease_passed(runtime.redis, 0.6)  # a whole lease: renewed while the block runs
        assert runtime.redis.pttl(keys.lease("run-lease-test")) > 0
        raise ConnectionError("Redis went away while the step's result was written")
    # nobody renews it any more: it lapses with its last lease
    wait_for(lambda: runtime.redis.exists(keys.lease("run-lease-test")) == 0, timeout=10,
             message="the lease lapsed")
