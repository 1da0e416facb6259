"""`joelclaw gateway restart` reads the gateway's stamps to see it stop and come back: a
supervisor that starts it again quicker than the silence that means "stopped" shows as a new
process stamping; a worker that does not say its pid is judged by the silence alone."""

from __future__ import annotations

from joelclaw.cli.gateway_ops import STOPPED_SECONDS, _Restarts

NODE = "gateway@host"


def test_a_restart_quicker_than_the_silence_is_seen_by_the_new_pid() -> None:
    watch = _Restarts({NODE: (100.0, 41)}, asked=100.2)
    watch.look({NODE: (100.5, 41)}, now=100.6)  # still the old process, finishing
    assert not watch.all_stopped()
    watch.look({NODE: (102.0, 42)}, now=102.1)  # a new process already stamps: 1.5 s later
    assert watch.all_stopped() and watch.all_back()
    assert 100.2 < watch.stopped[NODE] < watch.back[NODE]


def test_a_slow_restart_is_seen_stopped_then_back() -> None:
    watch = _Restarts({NODE: (100.0, 41)}, asked=100.2)
    watch.look({NODE: (100.4, 41)}, now=100.4 + STOPPED_SECONDS)
    assert watch.all_stopped() and not watch.all_back()
    watch.look({NODE: (100.4, 41)}, now=106.0)
    assert not watch.all_back()
    watch.look({NODE: (110.0, 43)}, now=110.2)
    assert watch.all_back() and watch.stopped[NODE] < watch.back[NODE]


def test_the_same_process_stamping_again_is_not_back() -> None:
    """A stall longer than the silence is not a restart: only a new process is."""
    watch = _Restarts({NODE: (100.0, 41)}, asked=100.2)
    watch.look({NODE: (100.0, 41)}, now=100.0 + STOPPED_SECONDS)
    watch.look({NODE: (104.0, 41)}, now=104.1)
    assert watch.all_stopped() and not watch.all_back()


def test_a_worker_without_a_pid_is_judged_by_the_silence() -> None:
    watch = _Restarts({NODE: (100.0, None)}, asked=100.2)
    watch.look({NODE: (100.5, None)}, now=101.0)
    assert not watch.all_stopped()
    watch.look({NODE: (100.5, None)}, now=100.5 + STOPPED_SECONDS)
    assert watch.all_stopped() and not watch.all_back()
    watch.look({NODE: (105.0, None)}, now=105.2)
    assert watch.all_back()
