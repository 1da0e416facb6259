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


def test_the_renewer_tells_an_execution_of_its_cancellation_and_acknowledges_it(runtime):
    """Steps read no cancel flag: the process's renewer reads the cancellations asked of the
    runs it executes, marks their leases and answers, which is what `cancel_run` waits for."""
    lease = leases.acquire(runtime.scripts, "run-cancel-ask", ttl=20)
    other = leases.acquire(runtime.scripts, "run-cancel-other", ttl=20)
    assert lease is not None and other is not None
    assert leases.learn_cancellations([lease, other]) == []  # nobody asked
    runtime.redis.set(keys.cancel_ask("run-cancel-ask"), "enough")
    with lease.kept_alive(), other.kept_alive():
        wait_for(lambda: lease.cancel_reason is not None, timeout=20,
                 message="the renewer learned of the cancellation")
    assert lease.cancel_reason == "enough"
    assert other.cancel_reason is None  # only the run that was asked
    assert runtime.redis.get(keys.cancel_ack("run-cancel-ask")) == lease.token.encode()
    assert runtime.redis.exists(keys.cancel_ack("run-cancel-other")) == 0
    lease.release()
    other.release()


def test_a_member_lease_is_never_told_to_cancel(runtime):
    """A parallel member finishes its own callable whatever happens to the run."""
    member = leases.acquire(runtime.scripts, "run-cancel-member|step|0", ttl=20)
    assert member is not None
    runtime.redis.set(keys.cancel_ask("run-cancel-member|step|0"), "enough")
    assert leases.learn_cancellations([member]) == []
    member.release()
