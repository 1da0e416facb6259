"""The webhook notifiers enrich their prompt from Todoist and Front through the checks' clients
(a Todoist client shares its rate limits across processes): names when the lookup works, the
provider's error when it fails, nothing when the provider is not configured."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from joelclaw.bus.execution import Context
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tasks.notifiers import _front_context, _todoist_context
from tests.conftest import make_settings
from tests.fakes.front import FakeFront
from tests.fakes.todoist import FakeTodoist


def _ctx(tmp_path: Path, redis_url: str, **settings: Any) -> Context[Any]:
    rt = Runtime(make_settings(tmp_path / "home", redis_url, **settings))
    return Context(event=Event(name="todoist/comment.added"), step=None,  # type: ignore[arg-type]
                   run_id="run-1", attempt=1, function_id="todoist-comment-notify",
                   log=logging.getLogger("test"), _runtime=rt)


def test_todoist_names_the_task_and_project_or_says_what_failed(
        tmp_path: Path, redis_url: str, todoist: FakeTodoist) -> None:
    todoist.add_project("p1", "Home")
    todoist.add_task("t1", "Fix the gate", "p1", labels=["diy"])
    ctx = _ctx(tmp_path, redis_url, todoist_token=todoist.token,
               todoist_api_url=todoist.base_url)
    found = _todoist_context(ctx, "t1", None)
    assert found["task"]["content"] == "Fix the gate" and found["project"] == "Home"
    assert "error" in _todoist_context(ctx, "no-such-task", None)
    assert _todoist_context(_ctx(tmp_path, redis_url), "t1", None) == {}


def test_front_describes_the_conversation_or_says_what_failed(
        tmp_path: Path, redis_url: str, front: FakeFront) -> None:
    front.add_conversation("cnv_1", "Invoice", assignee_email="a@example.com", tags=["vip"])
    ctx = _ctx(tmp_path, redis_url, front_token=front.token, front_api_url=front.base_url)
    assert _front_context(ctx, "cnv_1") == {"subject": "Invoice", "status": "unassigned",
                                            "assignee": "a@example.com", "tags": ["vip"]}
    assert "error" in _front_context(ctx, "cnv_missing")
    assert _front_context(_ctx(tmp_path, redis_url), "cnv_1") == {}
