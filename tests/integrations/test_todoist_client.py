"""The Todoist client's writes against the fake (v1 wire format), and the echo suppression that
`complete_task` arms, seen through the real webhook route."""

from __future__ import annotations

import json

import pytest
import redis
from flask.testing import FlaskClient

from joelclaw.integrations.echo import completed_by_system, echo_key
from joelclaw.integrations.http import HTTPNotFound
from joelclaw.integrations.todoist import TodoistClient
from joelclaw.runtime import Runtime
from tests.fakes.todoist import FakeTodoist
from tests.webhooks.conftest import app, client, rt
from tests.webhooks.test_webhook_routes import post
from tests.webhooks.webhook_support import fixture

__all__ = ["app", "client", "rt"]


def test_create_with_labels_list_by_label_across_pages_and_comment(todoist: FakeTodoist) -> None:
    api = TodoistClient(todoist.token, todoist.base_url)
    todoist.page_size = 2
    made = [api.create_task(f"Memory: Patterns (p-20261201-00{i})", labels=["memory-review",
                                                                             "agent"],
                            description=f"Proposal: p-20261201-00{i}", priority=4,
                            due_string="today") for i in range(1, 6)]
    api.create_task("Buy milk", labels=["errand"])
    assert made[0]["labels"] == ["memory-review", "agent"] and made[0]["priority"] == 4
    creates = todoist.calls("/api/v1/tasks")
    assert all(c.headers.get("x-request-id") for c in creates if c.method == "POST")

    listed = api.list_tasks(label="memory-review")
    assert [t["id"] for t in listed] == [t["id"] for t in made]  # 3 pages of 2
    assert len([c for c in todoist.calls("/api/v1/tasks") if c.method == "GET"]) == 3

    comment = api.add_comment(made[0]["id"], "approved by the batch review")
    assert comment["item_id"] == made[0]["id"]
    assert api.get_comments(made[0]["id"])[0]["content"] == "approved by the batch review"
    with pytest.raises(HTTPNotFound):
        api.add_comment("missing", "x")


def test_complete_arms_echo_suppression_and_a_failed_complete_disarms_it(
    todoist: FakeTodoist, redis_url: str,
) -> None:
    r = redis.Redis.from_url(redis_url)
    api = TodoistClient(todoist.token, todoist.base_url, redis_client=r)
    task = api.create_task("Memory: Hard Rules (p-20261201-001)")
    api.complete_task(task["id"])
    assert todoist.tasks[task["id"]]["checked"]
    assert completed_by_system(r, task["id"]) and 0 < r.ttl(echo_key(task["id"])) <= 60
    with pytest.raises(HTTPNotFound):
        api.complete_task("no-such-task")
    assert not completed_by_system(r, "no-such-task")


def test_the_completion_webhook_of_a_task_the_client_closed_is_dropped(
    todoist: FakeTodoist, client: FlaskClient, rt: Runtime,
) -> None:
    raw, headers = fixture("todoist", "item_completed")
    task_id = json.loads(raw)["event_data"]["id"]
    todoist.add_task(task_id, "Draft the webhooks ADR", "p1")
    TodoistClient(todoist.token, todoist.base_url, redis_client=rt.redis).complete_task(task_id)
    body = post(client, "todoist", raw, headers).get_json()
    assert body["events"] == 0 and "suppressed" in body["note"]
