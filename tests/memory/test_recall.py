"""Recall on a real Typesense: hybrid keyword + vector, recency decay, stale halving, allow-only
by default, keyword-only said plainly, cached 300 s and refreshed when observations arrive."""

from __future__ import annotations

import math
import time
from pathlib import Path

from joelclaw.embedded import TypesenseServer
from joelclaw.memory import observe, recall
from joelclaw.memory.model import Fact
from joelclaw.memory.service import Memory
from joelclaw.runtime import Runtime
from tests.fakes.llm import FakeLLM
from tests.memory.conftest import memory_settings

DAY = 86400


def _store(mem: Memory, text: str, *, days_ago: float = 0, verdict: str = "allow",
           session: str = "s") -> str:
    now = time.time() - days_ago * DAY
    result = mem.store.store([Fact(text=text, verdict=verdict)], session_id=session,  # type: ignore[arg-type]
                             source="shutdown", now=now)
    return result.inserted[0]


def test_hybrid_recall_ranks_by_score_times_recency_and_halves_stale(
    mem: Memory, llm: FakeLLM,
) -> None:
    fresh = _store(mem, "Joel deploys the webhook server with gunicorn", session="a")
    old = _store(mem, "Joel deployed the old webhook server by hand with gunicorn", days_ago=100,
                 session="b")
    _store(mem, "Unrelated note about sourdough bread", session="c")
    found = recall.recall(mem, "deploys webhook server gunicorn", use_cache=False)
    assert found["mode"] == "hybrid" and found["note"] == ""
    ids = [h["id"] for h in found["hits"]]
    assert ids[:2] == [fresh, old]
    hit_old = found["hits"][1]
    base = (hit_old["keyword"] + hit_old["vector"]) / 2
    assert math.isclose(hit_old["score"], base * math.exp(-0.01 * hit_old["days"]),
                        rel_tol=0.01)
    mem.store.search.update("memory_observations", fresh, {"stale": True})
    halved = recall.recall(mem, "deploys webhook server gunicorn", use_cache=False)
    stale_hit = next(h for h in halved["hits"] if h["id"] == fresh)
    fresh_before = found["hits"][0]
    assert stale_hit["stale"] and math.isclose(stale_hit["score"], fresh_before["score"] / 2,
                                               rel_tol=0.02)
    assert llm.embedding_calls(), "the query was embedded"


def test_only_allowed_observations_unless_asked(mem: Memory) -> None:
    _store(mem, "The staging cluster is flaky", verdict="hold", session="h")
    _store(mem, "The staging cluster needs a reboot weekly", session="a")
    default = recall.recall(mem, "staging cluster", use_cache=False)
    assert {h["verdict"] for h in default["hits"]} == {"allow"}
    wider = recall.recall(mem, "staging cluster", verdicts=("allow", "hold"), use_cache=False)
    assert {h["verdict"] for h in wider["hits"]} == {"allow", "hold"}


def test_keyword_only_recall_says_so(tmp_path: Path, redis_url: str,
                                     typesense: TypesenseServer) -> None:
    mem = Memory(Runtime(memory_settings(tmp_path, redis_url, typesense)))
    mem.store.ensure(force=True)
    _store(mem, "Joel keeps MEMORY.md in the workspace")
    found = recall.recall(mem, "memory workspace", use_cache=False)
    assert found["mode"] == "keyword" and "keyword-only" in found["note"]
    assert [h["observation"] for h in found["hits"]] == ["Joel keeps MEMORY.md in the workspace"]


def test_results_are_cached_and_new_observations_refresh_them(mem: Memory, llm: FakeLLM) -> None:
    _store(mem, "Joel brews espresso at seven")
    first = recall.recall(mem, "espresso")
    searches = len(llm.embedding_calls())
    assert recall.recall(mem, "espresso") == first
    assert len(llm.embedding_calls()) == searches, "the second recall came from the cache"
    observe.store(mem, [Fact(text="Joel grinds espresso beans fresh").model_dump()],
                  session_id="s2", source="shutdown", dedupe_key="d2")
    again = recall.recall(mem, "espresso")
    assert len(again["hits"]) == 2


def test_the_agent_prompt_block_has_at_most_ten_lines(mem: Memory) -> None:
    words = [f"{name}{n}" for n in range(3) for name in ("alpha", "bravo", "cedar", "delta",
                                                         "ember", "fjord", "garnet", "harbor",
                                                         "iris", "jade", "kelp", "lotus",
                                                         "moss", "nectar")]
    for i in range(14):
        a, b, c = words[3 * i: 3 * i + 3]
        _store(mem, f"Deploy checklist webhook gunicorn {a} {b} {c}", session=f"s{i}")
    block = mem.rt.hooks["recall"](mem.rt, "deploy checklist webhook gunicorn")
    lines = block.splitlines()
    assert 1 <= len(lines) <= 10 and all(line.startswith("- (") for line in lines)


def test_recall_without_typesense_never_breaks_an_agent_turn(tmp_path: Path,
                                                             redis_url: str) -> None:
    from tests.conftest import make_settings

    rt = Runtime(make_settings(tmp_path / "h", redis_url))
    assert rt.hooks["recall"](rt, "anything") == ""
    assert rt.hooks["search"](rt, "anything") is None


def test_the_gateways_search_shows_memories_through_the_runtimes_hook(mem: Memory) -> None:
    from joelclaw.gateway import commands
    from joelclaw.gateway import plugin as gateway_plugin
    from joelclaw.gateway.service import Gateway

    _store(mem, "Joel pulls espresso shots on a Linea Mini every morning")
    reply = commands.run(Gateway(mem.rt), "/search espresso")
    assert "1 memory matching “espresso”" in reply and "Linea Mini" in reply
    assert reply.endswith("Nothing recent matches “espresso”.")  # the events half
    without_memory = Runtime(mem.settings, extensions=(gateway_plugin.install,))
    assert "search" not in without_memory.hooks
    assert commands.run(Gateway(without_memory), "/search espresso") == \
        "Nothing recent matches “espresso”."
