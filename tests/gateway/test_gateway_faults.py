"""Gateway faults through a real gateway worker: a send that fails halfway, a gateway SIGKILLed
mid-turn, a failing primary model."""

from __future__ import annotations

import time

from joelclaw import keys
from joelclaw.gateway.notify import deliver
from tests.gateway.conftest import OWNER, quiet, replies, wait_replies, with_llm
from tests.support import wait_for

LONG_LEASE = 600.0  # longer than any wait here: a reply in time means a lease was taken over
LINES = [f"line {i:03d} " + "x" * 90 for i in range(100)]  # ~10,000 chars: three chunks


def _fail_second_chunk(tg) -> None:
    """The first chunk goes through; the second meets 429 three times (the client's retries)."""
    tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 0", retry_after=0,
                 times=3, skip=1)


def _each_line_once(got: list[str]) -> None:
    text = "\n".join(got)
    assert [line for line in LINES if text.count(line) != 1] == []


def test_chunked_notification_resumes_after_the_last_delivered_chunk(tg, start_gateway) -> None:
    _, rt = start_gateway()
    _fail_second_chunk(tg)
    deliver(rt, "\n".join(LINES), type="report")
    wait_replies(tg, 3)
    got = quiet(tg, rt)
    assert len(got) == 3, f"chunk 1 must not be re-sent: {[t[:12] for t in got]}"
    _each_line_once(got)
    assert len(tg.calls("sendMessage")) == 1 + 3 + 2
    assert not list(rt.redis.scan_iter(keys.gw_delivery("*"))), "progress is dropped with the ack"


def test_owner_reply_is_sent_again_not_answered_again(tg, llm, start_gateway) -> None:
    llm.reply = lambda messages: "\n".join(LINES)
    _, rt = start_gateway(**with_llm(llm))
    _fail_second_chunk(tg)
    tg.push_message(OWNER, OWNER, "write a lot")
    wait_replies(tg, 3)
    got = quiet(tg, rt)
    assert len(llm.completions()) == 1, "the agent turn must not run again"
    assert len(got) == 3
    _each_line_once(got)


def test_restarted_gateway_takes_over_its_dead_predecessors_chat_lock(tg, llm,
                                                                      start_gateway) -> None:
    """A SIGKILLed gateway's chat lock, claim and poller lock must not make the owner wait for
    them to lapse. Their leases here outlast every wait of the test, so the replies can only
    come from the new gateway taking them over."""
    lease = {"gateway_claim_lease_seconds": LONG_LEASE}
    worker, rt = start_gateway(**with_llm(llm), **lease)
    llm.delay = 3.0
    tg.push_message(OWNER, OWNER, "survive a sigkill")
    wait_for(lambda: llm.completions(), message="the turn started")
    wait_for(lambda: rt.redis.exists(keys.gw_chat_lock(OWNER)), message="chat locked")
    worker.kill_all()
    # the poller lock's lease is short by design (5 s): give the dead one a long lease too
    assert rt.redis.pexpire(keys.GW_POLLER_LOCK, int(LONG_LEASE * 1000)), "poller lock held"
    llm.delay = 0.0
    successor, _ = start_gateway(**with_llm(llm), **lease)
    assert wait_replies(tg, 1, timeout=45) == ["echo: survive a sigkill"]
    tg.push_message(OWNER, OWNER, "and the next one")
    assert wait_replies(tg, 2, timeout=45)[1] == "echo: and the next one"
    assert quiet(tg, rt) == ["echo: survive a sigkill", "echo: and the next one"]
    log = successor.output()
    assert "claimed by a gateway that is gone" in log, "the dead drain's claim was waited out"
    assert f"took over the lock of chat {OWNER}" in log, "the dead chat lock was waited out"


def test_failing_primary_is_replaced_within_the_turn_and_alerts_once(tg, llm,
                                                                      start_gateway) -> None:
    _, rt = start_gateway(**with_llm(llm), llm_fallback_model="small-model",
                          llm_probe_interval_seconds=2.0)
    llm.failing_models.add("test-model")
    for i in range(3):
        tg.push_message(OWNER, OWNER, f"try {i}")
        got = wait_replies(tg, i + 1)
        assert got[i] == f"echo: try {i}", "answered by the fallback within the same turn"
        # the next message is sent once this turn has answered: a turn of its own, not merged
    models = [c.body["model"] for c in llm.completions()]
    assert models == ["test-model", "small-model"] * 3
    [alert] = wait_replies(tg, 4)[3:]
    assert "test-model" in alert and "fallback model small-model" in alert
    assert rt.redis.exists(keys.GW_AGENT_FALLBACK)
    tg.push_message(OWNER, OWNER, "again")
    assert wait_replies(tg, 5)[4] == "echo: again"
    assert llm.completions()[-1].body["model"] == "small-model"
    assert len(llm.completions()) == 7, "while switched, the primary is not tried"
    wait_for(lambda: not rt.redis.exists(keys.GW_AGENT_FALLBACK), timeout=5,
             message="probe interval over")
    tg.push_message(OWNER, OWNER, "probe")  # the primary is tried again, still failing
    assert wait_replies(tg, 6)[5] == "echo: probe"
    assert len(quiet(tg, rt)) == 6, "a primary that keeps failing alerts once"
    assert rt.redis.exists(keys.GW_AGENT_FALLBACK), "back on the fallback at once"
    llm.failing_models.clear()
    wait_for(lambda: not rt.redis.exists(keys.GW_AGENT_FALLBACK), timeout=5,
             message="probe interval over")
    tg.push_message(OWNER, OWNER, "recovered?")
    assert wait_replies(tg, 7)[6] == "echo: recovered?"
    assert llm.completions()[-1].body["model"] == "test-model"
    assert not rt.redis.exists(keys.GW_AGENT_FAILURES)


def test_retried_merged_turn_leaves_a_later_message_to_a_turn_of_its_own(tg, llm, tmp_path,
                                                                         redis_url) -> None:
    """The drain in this process: the first attempt fails halfway, "c" arrives, the retry sends
    the stored answer to "a" + "b" only, and "c" gets its own turn (not acked unanswered)."""
    from joelclaw.gateway.drain import drain
    from joelclaw.gateway.inbound import accept_update
    from joelclaw.gateway.service import CLIENTS, Gateway
    from joelclaw.runtime import Runtime
    from tests.gateway.conftest import gateway_settings

    rt = Runtime(gateway_settings(tmp_path, redis_url, tg, **with_llm(llm)))
    gw = Gateway(rt)
    llm.reply = lambda m: "\n".join(LINES) if m[-1]["content"].startswith("a") else "short"

    def owner_says(text: str) -> None:
        accept_update(gw, tg.push_message(OWNER, OWNER, text))

    try:
        _fail_second_chunk(tg)
        owner_says("a")
        owner_says("b")
        drain(rt)
        assert len(replies(tg)) == 1 and rt.redis.zcard(keys.GW_INFLIGHT) == 2
        owner_says("c")
        wait_for(lambda: rt.redis.zcount(keys.GW_INFLIGHT, 0, time.time() * 1000) == 2,
                 timeout=5, message="the failed claims expired")
        drain(rt)
    finally:
        CLIENTS.close_all()
    got = replies(tg)
    assert len(got) == 4 and got[3] == "short"
    _each_line_once(got[:3])
    assert llm.prompts() == ["a\nb", "c"]
    assert gw.queue.ready_count() == 0 and rt.redis.zcard(keys.GW_INFLIGHT) == 0


def test_killed_pool_process_is_taken_over_at_once(tg, llm, start_gateway) -> None:
    """Only the drain's pool process dies (Celery starts another and redelivers the drain):
    its claim and chat lock must not hold the owner for their lease either."""
    worker, rt = start_gateway(**with_llm(llm), gateway_claim_lease_seconds=LONG_LEASE)
    llm.delay = 3.0
    tg.push_message(OWNER, OWNER, "survive a dead pool process")
    wait_for(lambda: llm.completions(), message="the turn started")
    wait_for(lambda: rt.redis.exists(keys.gw_chat_lock(OWNER)), message="chat locked")
    [child] = worker.children()
    llm.delay = 0.0
    worker.kill_child(child.pid)
    # Celery forks a new pool process and redelivers the drain; with the dead one's claim and
    # lock leased far beyond this wait, only taking them over answers in time.
    assert wait_replies(tg, 1, timeout=45) == ["echo: survive a dead pool process"]
    assert quiet(tg, rt) == ["echo: survive a dead pool process"]
    assert len(llm.completions()) == 2
