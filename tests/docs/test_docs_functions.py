"""docs-ingest and docs-backlog in a real worker against real Redis and Typesense: documents
become searchable chunks, the same bytes are never indexed twice, a backlog is queued in paced
batches, and what cannot be ingested is skipped with the reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from joelclaw.docs.index import DocsIndex
from joelclaw.events.model import Event
from joelclaw.events.store import list_events
from joelclaw.runtime import Runtime
from tests.docs.pdf import one_page_pdf
from tests.flow_helpers import all_finished, finished
from tests.support import wait_for

pytestmark = pytest.mark.timeout(120)

MARKDOWN = """---
title: Espresso ratios
---
# Ignored heading

A 1:2 ratio of coffee to water in about thirty seconds is the usual starting point.

Lungo pulls longer; a ristretto pulls shorter and sweeter with a quinoa-like nuttiness.
"""

HTML = """<html><head><title>Milk steaming</title><script>var hidden = "xylophone";</script>
</head><body><h1>Microfoam</h1><p>Stretch the milk briefly, then roll it into a glossy
microfoam near sixty degrees.</p></body></html>"""


def ingest(rt: Runtime, **data: Any) -> str:
    sent = rt.send(Event(name="docs/ingest.requested", data=data))[0]
    return next(r for r in sent.runs if rt.runs.get(r).function == "docs-ingest")  # type: ignore[union-attr]


def hits(index: DocsIndex, query: str) -> list[dict[str, Any]]:
    return index.find(query)


def chunk_count(index: DocsIndex) -> int:
    return index.search.count("docs_chunks")


def test_markdown_and_html_are_indexed_and_searchable(
    start: Callable[..., Runtime], docs_dir: Path, index: DocsIndex,
) -> None:
    (docs_dir / "coffee").mkdir()
    (docs_dir / "coffee" / "ratios.md").write_text(MARKDOWN)
    (docs_dir / "milk.html").write_text(HTML)
    rt = start()
    runs = all_finished(rt, [ingest(rt, path="coffee/ratios.md", tags=["coffee"]),
                             ingest(rt, nasPath=str(docs_dir / "milk.html"))], 60)
    assert [r.status for r in runs] == ["completed", "completed"], [r.error for r in runs]
    assert [r.output["status"] for r in runs] == ["indexed", "indexed"]
    assert runs[0].output["vectors"] is False and "keyword-only" in runs[0].output["search"]

    ratio = hits(index, "ristretto")
    assert [h["title"] for h in ratio] == ["Espresso ratios"]
    assert ratio[0]["path"] == "coffee/ratios.md" and ratio[0]["tags"] == ["coffee"]
    milk = hits(index, "microfoam")
    assert [h["title"] for h in milk] == ["Milk steaming"] and milk[0]["path"] == "milk.html"
    assert hits(index, "xylophone") == [], "script text is not indexed"
    record = index.document(runs[1].output["doc_id"])
    assert record is not None and record["media_kind"] == "html"
    assert record["content_hash"].startswith("sha256:") and record["chunk_count"] >= 1

    completed = list_events(rt.redis, name="docs/ingest.completed")
    assert sorted(e["event"]["data"]["title"] for e in completed) == ["Espresso ratios",
                                                                       "Milk steaming"]
    steps = [s.key for s in rt.runs.steps(runs[0].id)]
    assert steps == ["validate-file", "extract-text", "ensure-docs-collections",
                     "chunk-and-index", "upsert-document", "emit-completed",
                     "cleanup-text-artifact"]
    assert not list((rt.settings.home_dir / "docs" / "artifacts").glob("*.txt"))


def test_the_same_document_again_is_not_indexed_twice(
    start: Callable[..., Runtime], docs_dir: Path, index: DocsIndex,
) -> None:
    target = docs_dir / "long.md"
    target.write_text("# Long\n\n" + "\n\n".join(
        f"Section {n} is about tamping pressure and puck prep number {n}. " * 3
        for n in range(12)))
    rt = start()
    first = finished(rt, ingest(rt, path="long.md"), 60)
    assert first.output["status"] == "indexed" and first.output["chunks"] > 3
    chunks = chunk_count(index)

    again = finished(rt, ingest(rt, path="long.md"), 30)  # same path and key within 24 h
    assert again.status == "skipped" and "idempotency" in again.error["message"]  # type: ignore[index]

    rehashed = finished(rt, ingest(rt, path="long.md", idempotency_key="second"), 30)
    assert rehashed.status == "completed"
    assert rehashed.output["status"] == "unchanged", "same bytes: the content hash says so"
    assert rehashed.output["doc_id"] == first.output["doc_id"]
    (docs_dir / "copy.md").write_bytes(target.read_bytes())
    copy = finished(rt, ingest(rt, path="copy.md"), 30)
    assert copy.output["status"] == "unchanged"
    assert copy.output["duplicate_of"] == first.output["doc_id"]
    assert chunk_count(index) == chunks and index.search.count("docs") == 1

    target.write_text("# Long\n\nNow only about the bloom phase.")
    changed = finished(rt, ingest(rt, path="long.md", idempotency_key="third"), 30)
    assert changed.output["status"] == "indexed" and changed.output["chunks"] == 1
    assert chunk_count(index) == 1, "the chunks of the longer version are gone"
    assert [h["title"] for h in hits(index, "bloom")] == ["Long"] and hits(index, "tamping") == []
    (docs_dir / "other.md").write_text("# Other\n\nAbout the grinder burrs.")
    assert finished(rt, ingest(rt, path="other.md"), 30).output["status"] == "indexed"
    target.write_bytes((docs_dir / "other.md").read_bytes())  # long.md now equals other.md
    moved = finished(rt, ingest(rt, path="long.md", idempotency_key="fourth"), 30)
    assert moved.output["status"] == "indexed", "its own stale record is replaced, not kept"
    assert hits(index, "bloom") == [] and len(hits(index, "burrs")) == 2
    assert len(list_events(rt.redis, name="docs/ingest.completed")) == 4


def test_a_backlog_is_queued_in_batches_with_durable_sleeps_between_them(
    start: Callable[..., Runtime], docs_dir: Path, index: DocsIndex,
) -> None:
    names = [f"note-{n}.md" for n in range(5)]
    for n, name in enumerate(names):
        (docs_dir / name).write_text(f"# Note {n}\n\nBrew method number {n}: aeropress{n}.")
    (docs_dir / "skip.docx").write_text("not listed")
    rt = start()
    sent = rt.send(Event(name="docs/backlog.requested",
                         data={"batch_size": 2, "pace_seconds": 1}))[0]
    run = finished(rt, sent.runs[0], 60)
    assert run.status == "completed", run.error
    assert run.output == {"status": "queued", "files": 5, "already_indexed": 0, "queued": 5,
                          "batches": 3, "pace_seconds": 1}
    steps = {s.key: s for s in rt.runs.steps(run.id)}
    order = [s.key for s in rt.runs.steps(run.id)]
    assert order == ["list-docs-folder", "load-existing-docs", "plan-backlog-events",
                     "queue-backlog-batch-1", "pace-backlog-batch-2", "queue-backlog-batch-2",
                     "pace-backlog-batch-3", "queue-backlog-batch-3"]
    assert steps["pace-backlog-batch-2"].type == "sleep"
    assert steps["pace-backlog-batch-3"].type == "sleep"
    ingests = wait_for(lambda: (ids := rt.runs.newest_ids(function="docs-ingest")) and
                       len(ids) == 5 and ids, 30, message="five docs-ingest runs")
    done = all_finished(rt, ingests, 60)
    assert sorted(r.output["status"] for r in done) == ["indexed"] * 5
    assert index.search.count("docs") == 5 and [h["title"] for h in hits(index, "aeropress3")
                                                 ] == ["Note 3"]

    (docs_dir / "note-5.md").write_text("# Note 5\n\nA new one.")
    again = finished(rt, rt.send(Event(name="docs/backlog.requested",
                                       data={"pace_seconds": 0}))[0].runs[0], 60)
    assert again.output["already_indexed"] == 5 and again.output["queued"] == 1


def test_a_url_from_an_allowed_host_is_fetched_and_others_are_skipped(
    start: Callable[..., Runtime], site: tuple[str, Path], index: DocsIndex,
) -> None:
    base, folder = site
    (folder / "guide.html").write_text(HTML)
    (folder / "paper.pdf").write_bytes(one_page_pdf(
        "Extraction yield and total dissolved solids", "Yield"))
    rt = start(docs_fetch_hosts=[base.removeprefix("http://")])
    runs = all_finished(rt, [ingest(rt, url=f"{base}/guide.html"),
                             ingest(rt, url=f"{base}/paper.pdf"),
                             ingest(rt, url=f"{base}/missing.html"),
                             ingest(rt, url="http://localhost:1/elsewhere.html")], 60)
    assert [r.status for r in runs] == ["completed"] * 4, [r.error for r in runs]
    assert [r.output["status"] for r in runs] == ["indexed", "indexed", "skipped", "skipped"]
    assert "answered 404" in runs[2].output["reason"]
    assert "not in JOELCLAW_DOCS_FETCH_HOSTS" in runs[3].output["reason"]
    assert [h["url"] for h in hits(index, "microfoam")] == [f"{base}/guide.html"]
    assert [h["title"] for h in hits(index, "dissolved")] == ["Yield"]


def test_any_host_means_any_public_host_checked_where_it_connects(
    start: Callable[..., Runtime], site: tuple[str, Path], index: DocsIndex,
) -> None:
    # Given `*` and a document served on this machine
    base, folder = site
    (folder / "guide.html").write_text(HTML)
    port = base.rsplit(":", 1)[1]
    rt = start(docs_fetch_hosts=["*"])
    # When URLs name it by address or by a name that resolves to it (checked at connect time)
    runs = all_finished(rt, [ingest(rt, url=f"{base}/guide.html"),
                             ingest(rt, url=f"http://localhost:{port}/guide.html"),
                             ingest(rt, url=f"http://[::ffff:127.0.0.1]:{port}/guide.html"),
                             ingest(rt, url="http://169.254.169.254/latest/meta-data")], 60)
    # Then nothing is read: loopback, link-local and the metadata address are not public
    assert [r.output["status"] for r in runs] == ["skipped"] * 4, [r.output for r in runs]
    assert all("public" in r.output["reason"] for r in runs)
    assert "resolves to 127.0.0.1" in runs[1].output["reason"]
    assert hits(index, "microfoam") == []  # (a host listed by name is fetched: above)


def test_without_a_docs_folder_or_typesense_ingest_and_backlog_skip_saying_why(
    worker_factory: Callable[..., Any], tmp_path: Path, redis_url: str, docs_dir: Path,
) -> None:
    from tests.docs.conftest import docs_settings

    (docs_dir / "a.md").write_text("# A")
    settings = docs_settings(tmp_path, redis_url, None, docs_dir=None)
    first = worker_factory(settings_override=settings)
    rt = Runtime(settings)
    no_dir = finished(rt, ingest(rt, path="a.md"), 30)
    backlog = finished(rt, rt.send(Event(name="docs/backlog.requested", data={}))[0].runs[0], 30)
    assert no_dir.status == backlog.status == "completed"
    assert no_dir.output == {"status": "skipped",
                             "reason": "no docs folder configured: set JOELCLAW_DOCS_DIR"}
    assert backlog.output == no_dir.output
    first.stop()  # the next worker has a docs folder (and still no Typesense)
    other = docs_settings(tmp_path, redis_url, None)
    rt2 = Runtime(other)
    worker_factory(settings_override=other)
    no_ts = finished(rt2, ingest(rt2, path="a.md", idempotency_key="2"), 30)
    assert no_ts.output["status"] == "skipped" and "no Typesense" in no_ts.output["reason"]


def test_bad_ingest_requests_are_refused_where_they_are_sent(start: Callable[..., Runtime]
                                                             ) -> None:
    from joelclaw.errors import EventError

    with pytest.raises(EventError, match="exactly one of"):
        Event(name="docs/ingest.requested", data={})
    with pytest.raises(EventError, match="exactly one of"):
        Event(name="docs/ingest.requested", data={"path": "a.md", "url": "https://x.org/a"})
    with pytest.raises(EventError, match="http"):
        Event(name="docs/ingest.requested", data={"url": "file:///etc/passwd"})
    with pytest.raises(EventError, match="credentials") as refused:
        Event(name="docs/ingest.requested", data={"url": "https://me:hunter2@x.org/a"})
    assert "hunter2" not in str(refused.value)


def test_with_an_embeddings_endpoint_chunks_carry_vectors(
    start: Callable[..., Runtime], docs_dir: Path, index: DocsIndex,
) -> None:
    from tests.fakes.llm import EMBEDDING_DIMS, FakeLLM

    (docs_dir / "v.md").write_text("# Vectors\n\nA chunk about pressure profiling.")
    with FakeLLM() as llm:
        rt = start(embeddings_api_url=llm.base_url, embeddings_api_key="sk-test",
                   embeddings_model="fake-embed")
        run = finished(rt, ingest(rt, path="v.md"), 60)
        assert run.output["status"] == "indexed" and run.output["vectors"] is True
        assert llm.embedding_calls(), "the chunks were embedded through the endpoint"
    stored = index.search.get("docs_chunks", f"{run.output['doc_id']}:0")
    assert stored is not None and len(stored["embedding"]) == EMBEDDING_DIMS
    assert index.document(run.output["doc_id"])["vectors"] is True  # type: ignore[index]


def test_the_flow_control_is_the_old_systems() -> None:
    from tasks.docs import docs_backlog, docs_ingest

    flow = docs_ingest.flow
    assert flow is not None and docs_ingest.retries == 4
    assert (flow.throttle.limit, flow.throttle.period) == (20, 60.0)  # type: ignore[union-attr]
    assert flow.concurrency[0].limit == 1
    key = flow.idempotency.evaluate  # type: ignore[union-attr]
    assert key({"event": {"data": {"path": "a.md", "idempotency_key": "k"}}}) == "a.md::k"
    assert key({"event": {"data": {"url": "https://x.org/a"}}}) == "https://x.org/a::"
    single = docs_backlog.flow.singleton  # type: ignore[union-attr]
    assert docs_backlog.retries == 2 and single is not None and single.mode == "skip"
