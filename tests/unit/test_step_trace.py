"""A step's trace record is a typed model; the run store alone turns it into JSON and back.

What was set is what is stored (a field set to None stays, one never set stays absent, a field
dropped is gone), a kind's own details survive as extra fields, and the engine's mapping-style
building (`get`, `update`, `pop`) agrees with the attributes readers use.
"""

from __future__ import annotations

from joelclaw.bus.records import StepTrace
from joelclaw.runtime import Runtime


def test_what_was_set_round_trips_through_the_run_store(runtime: Runtime) -> None:
    record = StepTrace(key="reply", type="wait", attempts=1)
    record.update(status="completed", error=None, timed_out=False,
                  matched={"id": "e-1", "name": "test/reply", "ts": 1})
    runtime.runs.write_step("run-trace-1", "reply", record)
    again = runtime.runs.step("run-trace-1", "reply")
    assert again == record
    assert again.fields() == {"key": "reply", "type": "wait", "attempts": 1,
                              "status": "completed", "error": None, "timed_out": False,
                              "matched": {"id": "e-1", "name": "test/reply", "ts": 1}}
    assert "ended_at" not in again and again.ended_at is None
    assert again.matched == {"id": "e-1", "name": "test/reply", "ts": 1}


def test_the_mapping_view_and_the_attributes_agree() -> None:
    record = StepTrace(key="flaky", type="run")
    record["attempts"] = 2
    record.update({"status": "retrying", "next_attempt_at": 5.0}, worker="w0@host")
    assert (record.attempts, record.status, record.worker) == (2, "retrying", "w0@host")
    assert record.get("next_attempt_at") == 5.0 == record["next_attempt_at"]
    assert record.pop("next_attempt_at") == 5.0
    assert "next_attempt_at" not in record and record.next_attempt_at is None
    assert record.pop("next_attempt_at", "gone") == "gone"
    assert record.get("until", "none") == "none"
    record.update(until=9.0)
    assert record.pop("until") == 9.0 and "until" not in record.fields()


def test_a_record_written_as_plain_fields_reads_back_as_the_model(runtime: Runtime) -> None:
    runtime.runs.write_step("run-trace-2", "nap",
                            {"key": "nap", "type": "sleep", "status": "sleeping", "until": 12.5})
    record = runtime.runs.step("run-trace-2", "nap")
    assert isinstance(record, StepTrace)
    assert (record.key, record.type, record.status, record.until) == (
        "nap", "sleep", "sleeping", 12.5)
