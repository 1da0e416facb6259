"""Semantic idempotency: `dedupe=content(...)` and `dedupe=similar(...)`. A near-duplicate
event starts no run (its run is skipped before doing anything) and is linked to the run it
matched, on the run, on the event (CLI, API) and in explain; real Redis, workers and the fake
embeddings server."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from joelclaw import content, similar
from joelclaw.bus.flow import explain_run
from joelclaw.bus.functions import content_hash, normalise
from joelclaw.cli import cli
from joelclaw.errors import FunctionDefinitionError
from joelclaw.events.model import Event
from joelclaw.events.store import get_event
from joelclaw.runtime import Runtime
from tests.conftest import make_settings
from tests.fakes.llm import FakeLLM
from tests.flow_helpers import all_finished
from tests.support import ready_together
from webhooks import create_app

pytestmark = pytest.mark.timeout(120)
MODULES = ["tests.dedupe_functions"]


def test_normalisation_ignores_case_spacing_and_unicode_forms() -> None:
    assert normalise("  \uff28ello\u00a0 WORLD\n") == normalise("hello world")
    assert normalise("Cafe\u0301") == normalise("Café")
    spec = content("title", "body")
    same = content_hash(spec, {"data": {"title": "Hi", "body": "A  B"}})
    assert same == content_hash(spec, {"data": {"title": "HI ", "body": "a b"}})
    assert same != content_hash(spec, {"data": {"title": "Hi", "body": "A C"}})


def test_bad_declarations_fail_at_import() -> None:
    with pytest.raises(FunctionDefinitionError, match="at least one field"):
        content()
    with pytest.raises(FunctionDefinitionError, match="threshold"):
        similar("body", threshold=1.5)
    with pytest.raises(FunctionDefinitionError, match="window"):
        content("a", window="soon")
    from joelclaw import function

    with pytest.raises(FunctionDefinitionError, match="dedupe"):
        function("t-bad", trigger="a/b", dedupe="title")(lambda ctx: None)


def _send(rt: Runtime, name: str, event_id: str, **data: str) -> str:
    [result] = rt.send(Event(id=event_id, name=name, data=data))
    return result.runs[0]


def _cli(rt: Runtime, *args: str) -> dict:
    env = {"JOELCLAW_REDIS_URL": rt.settings.redis.url, "JOELCLAW_HOME": str(rt.settings.home),
           "JOELCLAW_FUNCTION_MODULES": ",".join(MODULES)}
    done = CliRunner().invoke(cli, ["--json", *args], env=env)
    return json.loads(done.output)


def test_a_near_duplicate_document_starts_no_run_and_links_to_the_one_that_ran(
        tmp_path, redis_url, worker_factory) -> None:
    rt = Runtime(make_settings(tmp_path / "home", redis_url, function_modules=MODULES,
                               web_open_on_loopback=True))
    worker_factory(settings_override=rt.settings)
    # Given a document, the same document retyped, and a different one
    first = _send(rt, "test/doc.content", "doc-1", title="Quarterly Report", body="Numbers  up.")
    again = _send(rt, "test/doc.content", "doc-2", title="quarterly report ", body="numbers up.")
    other = _send(rt, "test/doc.content", "doc-3", title="Quarterly Report", body="Numbers down.")
    runs = all_finished(rt, [first, again, other])
    # Then one of the two same documents ran (whichever reached the gate first: they were
    # sent together) and the other did nothing, saying which run it duplicates
    assert sorted(r.status for r in runs[:2]) == ["completed", "skipped"]
    assert runs[2].status == "completed"
    ran = next(r for r in runs[:2] if r.status == "completed")
    dup = next(r for r in runs[:2] if r.status == "skipped")
    assert dup.error["dedupe"]["run"] == ran.id
    assert dup.error["dedupe"]["event"] == ran.event["id"]
    assert rt.runs.steps(dup.id) == []  # it did nothing at all
    # ... on the event
    link = get_event(rt.redis, dup.event["id"])["deduplicated"]["t-dedupe-content"]
    assert link["run"] == ran.id and link["kind"] == "content"
    assert "deduplicated" not in get_event(rt.redis, ran.event["id"])
    assert "deduplicated" not in get_event(rt.redis, "doc-3")
    # ... in explain
    told = explain_run(rt, dup.id)
    assert told["detail"]["duplicate_of"] == ran.id and "deduplicated" in told["reason"]
    # ... and in the CLI
    shown = _cli(rt, "event", dup.event["id"])["result"]
    assert shown["deduplicated"]["t-dedupe-content"]["run"] == ran.id
    # ... and on the API and the dashboard's event page
    web = create_app(rt.settings).test_client()
    api = web.get(f"/api/events/{dup.event['id']}").get_json()
    assert api["event"]["deduplicated"]["t-dedupe-content"]["run"] == ran.id
    page = web.get(f"/events/{dup.event['id']}").get_data(as_text=True)
    assert 'data-dedupe="t-dedupe-content"' in page and ran.id in page


def test_similar_meaning_is_deduplicated_with_embeddings(
        tmp_path, redis_url, worker_factory, llm: FakeLLM) -> None:
    rt = Runtime(make_settings(tmp_path / "home", redis_url, function_modules=MODULES,
                               embeddings_api_url=llm.base_url, embeddings_api_key="sk-test",
                               embeddings_model="fake-embed"))
    worker_factory(settings_override=rt.settings)
    body = "the deploy of the billing service failed on friday night after the migration"
    first = _send(rt, "test/doc.similar", "sim-1", body=body)
    all_finished(rt, [first])
    near = _send(rt, "test/doc.similar", "sim-2", body=body + " again")
    far = _send(rt, "test/doc.similar", "sim-3", body="lunch with anna about the garden")
    runs = all_finished(rt, [near, far])
    assert [r.status for r in runs] == ["skipped", "completed"]
    link = runs[0].error["dedupe"]
    assert link["run"] == first and link["kind"] == "similar"
    assert 0.8 <= link["similarity"] < 1.0 and link["model"] == "fake-embed"
    assert get_event(rt.redis, "sim-2")["deduplicated"]["t-dedupe-similar"]["run"] == first
    assert llm.embedding_calls(), "the vectors came from the embeddings server"


def test_near_duplicates_sent_together_to_two_workers_run_once(
        tmp_path, redis_url, worker_factory, llm: FakeLLM) -> None:
    rt = Runtime(make_settings(tmp_path / "home", redis_url, function_modules=MODULES,
                               embeddings_api_url=llm.base_url, embeddings_api_key="sk-test",
                               embeddings_model="fake-embed"))
    ready_together(*(worker_factory(settings_override=rt.settings, concurrency=2, wait=False)
                     for _ in range(2)))
    body = "renew the passport of the owner before the trip to lisbon in march"
    ids = [_send(rt, "test/doc.similar", f"burst-{i}", body=body + " now" * (i % 2))
           for i in range(4)]
    runs = all_finished(rt, ids)
    [ran] = [r for r in runs if r.status == "completed"]
    assert all(r.error["dedupe"]["run"] == ran.id for r in runs if r is not ran)


def test_similar_without_embeddings_compares_normalised_text(
        tmp_path, redis_url, worker_factory) -> None:
    rt = Runtime(make_settings(tmp_path / "home", redis_url, function_modules=MODULES))
    worker_factory(settings_override=rt.settings)
    first = _send(rt, "test/doc.similar", "plain-1", body="Call the Bank")
    all_finished(rt, [first])
    again = _send(rt, "test/doc.similar", "plain-2", body="call  the bank")
    [run] = all_finished(rt, [again])
    assert run.status == "skipped" and run.error["dedupe"]["run"] == first
    assert "no embeddings" in run.error["dedupe"]["model"]


def test_a_document_another_limit_skipped_is_not_a_duplicate_later(
        tmp_path, redis_url, worker_factory) -> None:
    """Dedupe claims a document for the run that does it: a run the rate limit skips did
    nothing, so the same document sent again (by someone the limit lets through) runs."""
    rt = Runtime(make_settings(tmp_path / "home", redis_url, function_modules=MODULES))
    worker_factory(settings_override=rt.settings)
    [first] = all_finished(rt, [_send(rt, "test/doc.limited", "lim-1", title="A", user="ann")])
    [limited] = all_finished(rt, [_send(rt, "test/doc.limited", "lim-2", title="B",
                                        user="ann")])
    assert first.status == "completed"
    assert limited.status == "skipped" and "rate limit" in limited.error["message"]
    [later] = all_finished(rt, [_send(rt, "test/doc.limited", "lim-3", title="B", user="bo")])
    assert later.status == "completed", later.error
