"""Webhook providers: signature known answers, fixture normalisation, redelivery, fuzzing.

Fixtures live in tests/fixtures/webhooks/<provider>/: request bodies in the provider's wire
format, `<name>.headers.json` sidecars signed with the provider's `fixture_secret`, and
`vectors.json` known-answer signatures computed by a standalone script (see each file's `how`).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joelclaw.config import Settings
from joelclaw.events.model import NAME_RE, Event
from joelclaw.events.payloads import PAYLOAD_MODELS, build_payload
from webhooks.providers import PROVIDERS, Provider, front, get_provider

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "webhooks"
NAMES = ("github", "todoist", "front", "vercel", "telegram")


def _vectors(provider: str) -> dict[str, Any]:
    return json.loads((FIXTURES / provider / "vectors.json").read_text(encoding="utf-8"))


def _fixture(provider: str, name: str) -> tuple[bytes, dict[str, str]]:
    folder = FIXTURES / provider
    headers = json.loads((folder / f"{name}.headers.json").read_text(encoding="utf-8"))
    return (folder / f"{name}.json").read_bytes(), headers


def _fixture_names(provider: str) -> list[str]:
    folder = FIXTURES / provider
    return sorted(
        p.stem
        for p in folder.glob("*.json")
        if p.name != "vectors.json" and ".headers" not in p.name
    )


ALL_FIXTURES = [(p, n) for p in NAMES for n in _fixture_names(p)]
ALL_VECTORS = [(p, v) for p in NAMES for v in _vectors(p)["vectors"]]
VALID_VECTORS = [(p, v) for p, v in ALL_VECTORS if v["valid"]]


def _ids(params: list[tuple[str, Any]]) -> list[str]:
    return [f"{p}-{v['name'] if isinstance(v, dict) else v}" for p, v in params]


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() != name.lower()}


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def _verify(provider: str, vector: dict[str, Any], **changes: Any) -> bool:
    args = {
        "raw": vector["body"].encode("utf-8"),
        "headers": vector["headers"],
        "secret": vector["secret"],
        "now": vector.get("now"),
        **changes,
    }
    return PROVIDERS[provider].verify(args["raw"], args["headers"], args["secret"], now=args["now"])


# --------------------------------------------------------------------------- registry


def test_registry_lists_every_provider_with_a_real_setting() -> None:
    assert set(PROVIDERS) == set(NAMES)
    for name, provider in PROVIDERS.items():
        assert isinstance(provider, Provider)
        assert provider.name == name
        assert provider.secret_setting in Settings.model_fields
        assert callable(provider.verify) and callable(provider.normalize)
    assert PROVIDERS["front"].challenge is front.challenge
    assert all(PROVIDERS[n].challenge is None for n in NAMES if n != "front")
    assert get_provider("github") is PROVIDERS["github"]
    assert get_provider("nope") is None


def test_payload_models_have_valid_names_and_allow_extra_fields() -> None:
    for name, model in PAYLOAD_MODELS.items():
        assert NAME_RE.match(name), name
        assert model.model_config.get("extra") == "allow", name
    for name in (
        "github/workflow_run.completed",
        "github/package.published",
        "todoist/comment.added",
        "front/message.received",
        "vercel/deploy.error",
        "telegram/message.received",
        "telegram/callback.received",
    ):
        assert name in PAYLOAD_MODELS


def test_build_payload_reports_the_missing_field() -> None:
    with pytest.raises(ValueError, match=r"todoist/comment\.added.*comment_id: Field required"):
        build_payload("todoist/comment.added", {"task_id": "1", "comment_content": "hi"})
    assert build_payload("nobody/has.model", {"free": "form"}) == {"free": "form"}


# --------------------------------------------------------------------------- known answers


@pytest.mark.parametrize(("provider", "vector"), ALL_VECTORS, ids=_ids(ALL_VECTORS))
def test_known_answer_vectors(provider: str, vector: dict[str, Any]) -> None:
    assert vector["headers"][vector["signature_header"]] == vector["expected_signature"]
    assert _verify(provider, vector) is vector["valid"]


@pytest.mark.parametrize(("provider", "vector"), VALID_VECTORS, ids=_ids(VALID_VECTORS))
def test_header_lookup_ignores_case(provider: str, vector: dict[str, Any]) -> None:
    upper = {k.upper(): v for k, v in vector["headers"].items()}
    lower = {k.lower(): v for k, v in vector["headers"].items()}
    assert _verify(provider, vector, headers=upper)
    assert _verify(provider, vector, headers=lower)


@pytest.mark.parametrize(("provider", "vector"), VALID_VECTORS, ids=_ids(VALID_VECTORS))
def test_one_flipped_byte_is_rejected(provider: str, vector: dict[str, Any]) -> None:
    signature = vector["expected_signature"].encode()
    for index in (0, len(signature) // 2, len(signature) - 1):
        flipped = _flip(signature, index).decode("latin-1")
        headers = {**vector["headers"], vector["signature_header"]: flipped}
        assert not _verify(provider, vector, headers=headers)
    if provider == "telegram":
        return  # Telegram does not sign the body
    body = vector["body"].encode("utf-8")
    for index in {0, len(body) // 2, len(body) - 1}:
        assert not _verify(provider, vector, raw=_flip(body, index))


@pytest.mark.parametrize(("provider", "vector"), VALID_VECTORS, ids=_ids(VALID_VECTORS))
def test_wrong_or_empty_secret_is_rejected(provider: str, vector: dict[str, Any]) -> None:
    assert not _verify(provider, vector, secret=vector["secret"] + "x")
    assert not _verify(provider, vector, secret=vector["secret"][:-1])
    assert not _verify(provider, vector, secret="")


@pytest.mark.parametrize(("provider", "vector"), VALID_VECTORS, ids=_ids(VALID_VECTORS))
def test_missing_signature_header_is_rejected(provider: str, vector: dict[str, Any]) -> None:
    assert not _verify(
        provider, vector, headers=_without(vector["headers"], vector["signature_header"])
    )
    assert not _verify(provider, vector, headers={})


GARBAGE = [
    "",
    " ",
    "garbage",
    "sha256=",
    "sha1=deadbeef",
    "sha256=" + "zz" * 32,
    "====",
    "\x00\x01\x02",
    "ключ-🔑",
    "\udcff",
    "A" * 10_000,
]


@pytest.mark.parametrize(("provider", "vector"), VALID_VECTORS, ids=_ids(VALID_VECTORS))
def test_garbage_signature_header_is_rejected(provider: str, vector: dict[str, Any]) -> None:
    for garbage in GARBAGE:
        headers = {**vector["headers"], vector["signature_header"]: garbage}
        assert not _verify(provider, vector, headers=headers), repr(garbage)


def test_front_app_rejects_a_garbage_timestamp_and_rules_scheme_is_not_a_fallback() -> None:
    vector = next(v for v in _vectors("front")["vectors"] if v["name"] == "app-no-clock")
    for stamp in ("", "soon", "1771531000512.5", "-1771531000512", "9" * 40):
        headers = {**vector["headers"], "X-Front-Request-Timestamp": stamp}
        assert not _verify("front", vector, headers=headers), stamp
    rules = next(v for v in _vectors("front")["vectors"] if v["name"] == "rules-compact")
    headers = {**rules["headers"], "X-Front-Request-Timestamp": "1771531000512"}
    assert not _verify("front", rules, headers=headers)


def test_front_app_replay_window_is_300_seconds_either_way() -> None:
    vector = next(v for v in _vectors("front")["vectors"] if v["name"] == "app-fresh")
    assert _verify("front", vector, now=1771531000.512 + 299.9)
    assert not _verify("front", vector, now=1771531000.512 + 300.1)
    assert _verify("front", vector, now=1771531000.512 - 299.9)
    assert not _verify("front", vector, now=1771531000.512 - 300.1)
    assert not _verify("front", vector, now=float("nan"))


def test_front_rules_signature_is_over_the_compacted_body() -> None:
    vector = next(v for v in _vectors("front")["vectors"] if v["name"] == "rules-pretty-non-ascii")
    assert vector["body"] != vector["signed_string"]
    assert _verify("front", vector)
    assert _verify("front", vector, raw=vector["signed_string"].encode())
    assert not _verify("front", vector, raw=vector["body"].replace("👍", "👎").encode())


# --------------------------------------------------------------------------- fixtures


@pytest.mark.parametrize(("provider", "name"), ALL_FIXTURES, ids=_ids(ALL_FIXTURES))
def test_fixture_bodies_verify_with_their_sidecar_headers(provider: str, name: str) -> None:
    raw, headers = _fixture(provider, name)
    secret = _vectors(provider)["fixture_secret"]
    assert PROVIDERS[provider].verify(raw, headers, secret)
    assert not PROVIDERS[provider].verify(raw, headers, secret + "-rotated")


EXPECTED: dict[tuple[str, str], tuple[str, str, dict[str, Any]] | None] = {
    ("github", "workflow_run_completed"): (
        "github/workflow_run.completed",
        "github-6a3f1e20-0db1-11f1-8f6e-3c2b1a0e9d4c",
        {
            "action": "completed",
            "run_id": 13412345678,
            "run_number": 482,
            "run_attempt": 1,
            "workflow_id": 81234567,
            "workflow_name": "CI",
            "conclusion": "failure",
            "status": "completed",
            "branch": "main",
            "head_sha": "9c1e5f0d2b7a4e8f3c6d1a0b5e9f2c7d4a8b3e6f",
            "actor_login": "joelhooks",
            "repository": "joelhooks/joelclaw",
            "head_repository": "joelhooks/joelclaw",
            "html_url": "https://github.com/joelhooks/joelclaw/actions/runs/13412345678",
            "logs_url": "https://api.github.com/repos/joelhooks/joelclaw/actions/runs/13412345678/logs",
            "completed_at": "2026-02-19T18:24:51Z",
        },
    ),
    ("github", "push"): (
        "github/push.received",
        "github-7b4e2f31-0db1-11f1-9a1c-5e4d3c2b1a0f",
        {
            "ref": "refs/heads/main",
            "branch": "main",
            "tag": None,
            "after": "9c1e5f0d2b7a4e8f3c6d1a0b5e9f2c7d4a8b3e6f",
            "pusher": "joelhooks",
            "repository": "joelhooks/joelclaw",
            "commit_count": 1,
            "head_commit": {
                "id": "9c1e5f0d2b7a4e8f3c6d1a0b5e9f2c7d4a8b3e6f",
                "message": "feat(webhooks): typed payloads per provider",
                "author": "joelhooks",
                "url": "https://github.com/joelhooks/joelclaw/commit/9c1e5f0d2b7a4e8f3c6d1a0b5e9f2c7d4a8b3e6f",
            },
        },
    ),
    ("github", "pull_request_opened"): (
        "github/pull_request.opened",
        "github-8c5f3a42-0d4f-11f1-8b2e-7a6b5c4d3e2f",
        {
            "number": 218,
            "title": "chore(deps): bump inngest from 3.31.1 to 3.31.2",
            "state": "open",
            "author": "dependabot[bot]",
            "head_ref": "dependabot/npm_and_yarn/inngest-3.31.2",
            "base_ref": "main",
            "labels": ["dependencies"],
            "merged": False,
            "sender": "dependabot[bot]",
        },
    ),
    ("github", "issues_opened"): (
        "github/issues.opened",
        "github-9d6a4b53-0db9-11f1-8d3f-8b7c6d5e4f30",
        {
            "number": 219,
            "title": "Gateway drain loses messages under load",
            "labels": ["bug"],
            "assignees": ["joelhooks"],
            "author": "joelhooks",
        },
    ),
    ("github", "package_published"): (
        "github/package.published",
        "github-ae7b5c64-0db1-11f1-8e40-9c8d7e6f5041",
        {
            "action": "published",
            "package_name": "system-bus",
            "ecosystem": "CONTAINER",
            "version_name": "sha-9c1e5f0",
            "repository": "joelhooks/joelclaw",
            "sender": "joelhooks",
        },
    ),
    ("github", "ping"): (
        "github/ping.received",
        "github-bf8c6d75-0dae-11f1-8f51-ad9e8f706152",
        {"repository": "joelhooks/joelclaw", "sender": "joelhooks", "action": None},
    ),
    ("todoist", "note_added"): (
        "todoist/comment.added",
        "todoist-2b9f5a3e-8d1c-4f7a-9e60-1c2d3e4f5a6b",
        {
            "task_id": "6X7rM8997g3RQmvh",
            "comment_id": "6X7rfFVPjhvv84XG",
            "comment_content": "@agent can you take a first pass at this?",
            "task_content": "Draft the webhooks ADR",
            "project_id": "6Jf8VQXxpwv56VQ7",
            "initiator_id": "2671355",
            "user_id": "2671355",
        },
    ),
    ("todoist", "item_added"): (
        "todoist/task.created",
        "todoist-3c0a6b4f-9e2d-4a8b-8f71-2d3e4f5a6b7c",
        {
            "task_id": "6X7rQw4Fh2pVx9Jm",
            "task_content": "Proposal: p-20260219-007",
            "task_description": "Promote: Redis must not run allkeys-lru.",
            "labels": ["memory-review"],
            "project_id": "6Jf8VQXxpwv56VQ8",
        },
    ),
    ("todoist", "item_completed"): (
        "todoist/task.completed",
        "todoist-4d1b7c50-af3e-4b9c-9082-3e4f5a6b7c8d",
        {
            "task_id": "6X7rM8997g3RQmvh",
            "checked": True,
            "completed_at": "2026-02-19T21:14:09.000000Z",
            "labels": ["agent"],
        },
    ),
    ("todoist", "item_updated"): (
        "todoist/task.updated",
        "todoist-5e2c8d61-b04f-4cad-a193-4f5a6b7c8d9e",
        {
            "task_id": "6X7rM8997g3RQmvh",
            "update_intent": "item_updated",
            "changed_fields": ["priority", "labels"],
            "priority": 4,
        },
    ),
    ("todoist", "item_deleted"): (
        "todoist/task.deleted",
        "todoist-6f3d9e72-c150-4dbe-b2a4-5a6b7c8d9e0f",
        {"task_id": "6X7rZ3mKp8LqW2nV", "task_content": "Old scratch task", "labels": []},
    ),
    ("todoist", "project_added"): None,
    ("front", "rules_inbound"): (
        "front/message.received",
        "front-evt_3ah1k0s8",
        {
            "conversation_id": "cnv_yo1kg5q",
            "message_id": "msg_1q15qmtu",
            "from_email": "grace@example.org",
            "from_name": "Grace Hopper",
            "to": ["joel@example.com"],
            "cc": ["producer@example.org"],
            "subject": "Podcast next week? ☕",
            "body_plain": "Hi Joel — would you join us on the show next Thursday?",
            "preview": "Hi Joel — would you join us on the show next Thursday?",
            "is_inbound": True,
            "attachment_count": 1,
        },
    ),
    ("front", "rules_outbound"): (
        "front/message.sent",
        "front-evt_3ah1p4k2",
        {
            "conversation_id": "cnv_yo1kg5q",
            "to": ["grace@example.org"],
            "subject": "Re: Podcast next week? ☕",
            "is_inbound": False,
            "author_email": "joel@example.com",
        },
    ),
    ("front", "rules_assign"): (
        "front/assignee.changed",
        "front-evt_3ah1m2c9",
        {
            "conversation_id": "cnv_yo1kg5q",
            "assignee_email": "joel@example.com",
            "assignee_name": "Joel Hooks",
            "is_unassign": False,
        },
    ),
    ("front", "rules_tag"): (
        "front/tag.added",
        "front-evt_3ah1m2d0",
        {"conversation_id": "cnv_yo1kg5q", "tag_id": "tag_2oxhvy", "tag_name": "vip"},
    ),
    ("front", "rules_comment"): (
        "front/comment.added",
        "front-evt_3ah1n7qq",
        {
            "conversation_id": "cnv_yo1kg5q",
            "comment_id": "com_1ywg3f2",
            "comment_body": "@agent draft a yes for Thursday",
            "author_email": "joel@example.com",
        },
    ),
    ("front", "rules_archive"): (
        "front/conversation.archived",
        "front-evt_3ah1q8w1",
        {"conversation_id": "cnv_yo1kg5q", "action": "archived", "status": "archived"},
    ),
    ("front", "app_inbound_received"): (
        "front/message.received",
        "front-evt_3ah1r5v7",
        {
            "conversation_id": "cnv_yo1kg5q",
            "message_id": "msg_1q17c8d4",
            "from_email": "grace@example.org",
            "is_inbound": True,
            "attachment_count": 0,
            "front_type": "inbound_received",
        },
    ),
    ("front", "app_assignee_changed"): (
        "front/assignee.changed",
        "front-evt_3ah1s0a2",
        {"conversation_id": "cnv_yo1kg5q", "assignee_id": "tea_6r55a", "is_unassign": False},
    ),
    ("front", "app_sync"): None,
    ("vercel", "deployment_created"): (
        "vercel/deploy.created",
        "vercel-wh_0a1b2c3d4e5f6a7b8c9d0e1f",
        {"deployment_id": "dpl_Chgf1F8Dm7wiSC5rNtwkgvBLKfz3", "target": "production"},
    ),
    ("vercel", "deployment_succeeded"): (
        "vercel/deploy.succeeded",
        "vercel-wh_1b2c3d4e5f6a7b8c9d0e1f2a",
        {"deployment_id": "dpl_Chgf1F8Dm7wiSC5rNtwkgvBLKfz3"},
    ),
    ("vercel", "deployment_error"): (
        "vercel/deploy.error",
        "vercel-wh_2c3d4e5f6a7b8c9d0e1f2a3b",
        {
            "deployment_id": "dpl_Chgf1F8Dm7wiSC5rNtwkgvBLKfz3",
            "vercel_type": "deployment.error",
            "deployment_url": "https://joelclaw-web-8f3k2m1qx-joelhooks.vercel.app",
            "project_name": "joelclaw-web",
            "project_id": "prj_Qm4N8cVbX2zL6kJh9GfD3sA1",
            "target": "production",
            "dashboard_url": "https://vercel.com/joelhooks/joelclaw-web/Chgf1F8Dm7wiSC5rNtwkgvBLKfz3",
            "project_dashboard_url": "https://vercel.com/joelhooks/joelclaw-web",
            "git_commit_sha": "9c1e5f0d2b7a4e8f3c6d1a0b5e9f2c7d4a8b3e6f",
            "git_commit_message": "feat(web): memory timeline",
            "git_commit_author": "Joel Hooks",
            "git_branch": "main",
            "git_repo": "joelhooks/joelclaw",
            "plan": "pro",
            "regions": ["iad1"],
            "team_id": "team_JzN3v8qWkQ2mX5rT",
            "created_at": 1771944455170,
        },
    ),
    ("vercel", "deployment_canceled"): (
        "vercel/deploy.canceled",
        "vercel-wh_3d4e5f6a7b8c9d0e1f2a3b4c",
        {"deployment_id": "dpl_Chgf1F8Dm7wiSC5rNtwkgvBLKfz3"},
    ),
    ("vercel", "deployment_promoted"): (
        "vercel/deploy.promoted",
        "vercel-wh_4e5f6a7b8c9d0e1f2a3b4c5d",
        {"deployment_id": "dpl_Chgf1F8Dm7wiSC5rNtwkgvBLKfz3"},
    ),
    ("vercel", "deployment_ready_legacy"): (
        "vercel/deploy.ready",
        "vercel-wh_5f6a7b8c9d0e1f2a3b4c5d6e",
        {"deployment_id": "dpl_8kLmN3pQ5rS7tU9vW1xY3zA5", "target": None},
    ),
    ("vercel", "project_created"): None,
    ("telegram", "message_text"): (
        "telegram/message.received",
        "telegram-912345678",
        {
            "update_id": 912345678,
            "message_id": 4821,
            "chat_id": 7718912466,
            "chat_type": "private",
            "from_id": 7718912466,
            "from_username": "joelhooks",
            "text": "/status what is the gateway doing? 🦞",
            "media_type": None,
        },
    ),
    ("telegram", "message_photo"): (
        "telegram/message.received",
        "telegram-912345679",
        {
            "text": None,
            "caption": "whiteboard from today",
            "media_type": "photo",
            "file_id": "AgACAgEAAxkBAAISs2Wf_large",
            "reply_to_message_id": 4820,
        },
    ),
    ("telegram", "callback_query"): (
        "telegram/callback.received",
        "telegram-912345680",
        {
            "callback_query_id": "3315384862129781234",
            "action": "approve",
            "context": "p-20260219-007",
            "raw_data": "approve:p-20260219-007",
            "chat_id": 7718912466,
            "message_id": 4823,
        },
    ),
    ("telegram", "edited_message"): None,
}


def test_every_fixture_has_an_expectation() -> None:
    assert set(EXPECTED) == set(ALL_FIXTURES)


def _normalize(provider: str, name: str) -> list[Event]:
    raw, headers = _fixture(provider, name)
    return PROVIDERS[provider].normalize(json.loads(raw), headers)


@pytest.mark.parametrize(("provider", "name"), ALL_FIXTURES, ids=_ids(ALL_FIXTURES))
def test_normalize_fixture(provider: str, name: str) -> None:
    events = _normalize(provider, name)
    expected = EXPECTED[(provider, name)]
    if expected is None:
        assert events == []
        return
    event_name, event_id, subset = expected
    assert [(e.name, e.id) for e in events] == [(event_name, event_id)]
    event = events[0]
    data = event.as_dict()["data"]
    assert {k: data.get(k, "<missing>") for k in subset} == subset
    assert event.source["provider"] == provider
    assert event_id == f"{provider}-{event.source['delivery']}"
    model = PAYLOAD_MODELS.get(event_name)
    if model is not None:  # only github/<other events> are free-form
        assert isinstance(event.data, model)  # functions receive the validated model
        assert model.model_validate(data).model_dump(mode="json") == data
    else:
        assert event_name == "github/ping.received"
    assert Event.model_validate(event.as_dict()) == event  # the stored form validates again


@pytest.mark.parametrize(("provider", "name"), ALL_FIXTURES, ids=_ids(ALL_FIXTURES))
def test_redelivery_gives_identical_ids(provider: str, name: str) -> None:
    raw, headers = _fixture(provider, name)
    first = PROVIDERS[provider].normalize(json.loads(raw), headers)
    lowered = {k.lower(): v for k, v in headers.items()}
    again = PROVIDERS[provider].normalize(json.loads(raw), lowered)
    assert [e.id for e in first] == [e.id for e in again]
    assert [e.data for e in first] == [e.data for e in again]


@pytest.mark.parametrize(
    ("provider", "name", "header"),
    [
        ("github", "workflow_run_completed", "X-GitHub-Delivery"),
        ("todoist", "note_added", "X-Todoist-Delivery-ID"),
    ],
)
def test_delivery_header_sets_the_id_and_a_body_hash_replaces_it(
    provider: str, name: str, header: str
) -> None:
    raw, headers = _fixture(provider, name)
    payload = json.loads(raw)
    other = PROVIDERS[provider].normalize(payload, {**headers, header: "another-delivery"})
    assert other[0].id == f"{provider}-another-delivery"
    bare = _without(headers, header)
    hashed = PROVIDERS[provider].normalize(payload, bare)
    assert hashed[0].id.startswith(f"{provider}-sha256-")
    assert PROVIDERS[provider].normalize(copy.deepcopy(payload), bare)[0].id == hashed[0].id
    for junk in ("", "x" * 600, "white space", "é"):
        assert (
            PROVIDERS[provider].normalize(payload, {**headers, header: junk})[0].id == hashed[0].id
        )
    changed = {**payload, "triggered_at": "later"} if provider == "todoist" else {**payload, "x": 1}
    assert PROVIDERS[provider].normalize(changed, bare)[0].id != hashed[0].id


def test_front_redelivery_without_event_id_hashes_the_body() -> None:
    raw, headers = _fixture("front", "rules_tag")
    payload = json.loads(raw)
    del payload["id"]
    first = front.normalize(payload, headers)
    assert first[0].id.startswith("front-sha256-")
    assert front.normalize(copy.deepcopy(payload), headers)[0].id == first[0].id


def test_vercel_without_webhook_id_falls_back_to_type_and_deployment() -> None:
    raw, headers = _fixture("vercel", "deployment_error")
    payload = json.loads(raw)
    del payload["id"]
    events = PROVIDERS["vercel"].normalize(payload, headers)
    assert events[0].id == "vercel-deployment.error-dpl_Chgf1F8Dm7wiSC5rNtwkgvBLKfz3"


def test_front_challenge_echoes_the_validation_header() -> None:
    raw, headers = _fixture("front", "app_sync")
    assert front.challenge(headers, raw) == {"challenge": "f3Kx9QbV2mLr7TzA"}
    assert front.challenge({"x-front-challenge": "abc"}, b"") == {"challenge": "abc"}
    assert front.normalize(json.loads(raw), headers) == []
    for other in ("rules_inbound", "app_inbound_received"):
        assert front.challenge(*reversed(_fixture("front", other))) is None
    assert front.challenge({"X-Front-Challenge": ""}, raw) is None


def test_front_unassign_and_other_conversation_events() -> None:
    raw, headers = _fixture("front", "rules_assign")
    payload = json.loads(raw)
    unassign = front.normalize({**payload, "type": "unassign"}, headers)
    assert unassign[0].name == "front/assignee.changed"
    assert unassign[0].data.is_unassign is True
    app_unassign = {
        "type": "assignee_changed",
        "payload": {**payload, "target": None, "conversation": {"id": "cnv_1", "assignee": None}},
    }
    assert front.normalize(app_unassign, {})[0].data.is_unassign is True
    untag = front.normalize({**json.loads(_fixture("front", "rules_tag")[0]), "type": "untag"}, {})
    assert untag[0].name == "front/tag.removed"
    reminder = front.normalize({**payload, "type": "reminder_activated"}, headers)
    assert reminder[0].name == "front/conversation.reminder_activated"
    app_trash = {"type": "conversation_trashed", "payload": {**payload, "target": None}}
    assert front.normalize(app_trash, {})[0].name == "front/conversation.trashed"
    assert front.normalize({"type": "mention", "id": "evt_1"}, {}) == []


def test_telegram_callback_without_colon_and_game_callbacks() -> None:
    raw, headers = _fixture("telegram", "callback_query")
    payload = json.loads(raw)
    payload["callback_query"]["data"] = "snooze"
    event = PROVIDERS["telegram"].normalize(payload, headers)[0]
    assert (event.data.action, event.data.context) == ("snooze", "")
    del payload["callback_query"]["data"]
    assert PROVIDERS["telegram"].normalize(payload, headers) == []


def test_github_tag_push_and_unknown_event() -> None:
    raw, headers = _fixture("github", "push")
    payload = {**json.loads(raw), "ref": "refs/tags/v1.2.0"}
    event = PROVIDERS["github"].normalize(payload, headers)[0]
    assert (event.data.branch, event.data.tag) == (None, "v1.2.0")
    star = PROVIDERS["github"].normalize(
        {"action": "created", "repository": {"full_name": "a/b"}},
        {**headers, "X-GitHub-Event": "star"},
    )
    assert star[0].name == "github/star.created"
    assert star[0].data["repository"] == "a/b"


# --------------------------------------------------------------------------- malformed


MALFORMED: list[tuple[str, dict[str, Any], dict[str, str], str]] = [
    ("github", {"action": "completed"}, {}, "X-GitHub-Event"),
    ("github", {"action": "completed"}, {"X-GitHub-Event": "Workflow Run!"}, "X-GitHub-Event"),
    ("github", {"action": "Done!"}, {"X-GitHub-Event": "issues"}, "invalid action"),
    ("github", {"action": "completed"}, {"X-GitHub-Event": "workflow_run"}, "run_id"),
    ("github", {"ref": 5}, {"X-GitHub-Event": "push"}, "github/push.received"),
    ("todoist", {"event_name": "note:added"}, {}, "event_data"),
    ("todoist", {"event_name": "note:added", "event_data": {"id": "1"}}, {}, "comment_content"),
    ("todoist", {"event_name": "item:completed", "event_data": {"content": "x"}}, {}, "task_id"),
    ("front", {"type": "inbound", "id": "evt_1", "target": {"data": {}}}, {}, "conversation_id"),
    ("front", {"type": "inbound", "conversation": {"id": "cnv_1"}}, {}, "message_id"),
    ("front", {"type": "tag", "conversation": {"id": 7}}, {}, "conversation_id"),
    ("vercel", {"type": "deployment.error"}, {}, "payload"),
    ("vercel", {"type": "deployment.error", "payload": {}}, {}, "deployment_id"),
    ("telegram", {"message": {"text": "hi"}}, {}, "update_id"),
    ("telegram", {"update_id": True, "message": {}}, {}, "update_id"),
    ("telegram", {"update_id": 1, "message": {"text": "hi"}}, {}, "message_id"),
    ("telegram", {"update_id": 1, "callback_query": {"data": "a:b"}}, {}, "callback_query_id"),
]


@pytest.mark.parametrize(("provider", "payload", "headers", "match"), MALFORMED)
def test_malformed_payloads_raise_value_error(
    provider: str, payload: dict[str, Any], headers: dict[str, str], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        PROVIDERS[provider].normalize(payload, headers)


@pytest.mark.parametrize("provider", NAMES)
def test_non_object_payload_raises_value_error(provider: str) -> None:
    for payload in ([], "text", 3, None):
        with pytest.raises(ValueError):
            PROVIDERS[provider].normalize(payload, {"X-GitHub-Event": "push"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("provider", "payload"),
    [
        ("todoist", {"event_name": "project:added", "event_data": {}}),
        ("todoist", {}),
        ("front", {"type": "sync", "authorization": {"id": "cmp_1"}}),
        ("front", {}),
        ("vercel", {"type": "project.created", "payload": {}}),
        ("vercel", {"type": "deployment.rollback", "payload": {}}),
        ("telegram", {"update_id": 5, "channel_post": {"message_id": 1}}),
        ("telegram", {"update_id": 5}),
    ],
)
def test_ignored_shapes_give_no_events(provider: str, payload: dict[str, Any]) -> None:
    assert PROVIDERS[provider].normalize(payload, {}) == []


# --------------------------------------------------------------------------- fuzzing

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
KEYS = st.sampled_from(
    [
        "action", "type", "id", "event_name", "event_data", "event_data_extra", "payload",
        "update_id", "message", "callback_query", "data", "conversation", "target", "ref",
        "workflow_run", "deployment", "item", "content", "item_id", "recipients", "from", "chat",
        "message_id", "number", "pull_request", "issue", "package", "repository",
    ]
)  # fmt: skip
TYPES = st.sampled_from(
    [
        "note:added", "item:added", "item:completed", "item:updated", "item:deleted",
        "inbound", "outbound", "assign", "unassign", "tag", "comment", "archive", "sync",
        "inbound_received", "assignee_changed", "conversation_moved", "deployment.error",
        "deployment-ready", "completed", "published", "opened",
    ]
)  # fmt: skip
LEAF_OR_TYPE = TYPES | JSON
PAYLOADS = st.dictionaries(KEYS | st.text(max_size=8), LEAF_OR_TYPE, max_size=8)
EVENT_HEADERS = st.fixed_dictionaries(
    {
        "X-GitHub-Event": st.sampled_from(
            ["workflow_run", "push", "pull_request", "issues", "package", "ping", "", "Bad Name"]
        ),
    },
    optional={
        "X-GitHub-Delivery": st.text(max_size=40),
        "X-Todoist-Delivery-ID": st.text(max_size=40),
    },
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_normalize(provider: str, payload: dict[str, Any], headers: dict[str, str]) -> None:
    try:
        events = PROVIDERS[provider].normalize(payload, headers)
    except ValueError:
        return
    for event in events:
        assert isinstance(event, Event)
        Event.model_validate(event.as_dict())  # what is stored validates again at execution


@FUZZ
@given(provider=st.sampled_from(NAMES), payload=PAYLOADS, headers=EVENT_HEADERS)
def test_normalize_raises_only_value_error_on_random_objects(
    provider: str, payload: dict[str, Any], headers: dict[str, str]
) -> None:
    _check_normalize(provider, payload, headers)


def _mutate(value: Any, path: list[int], replacement: Any) -> Any:
    """Replace (or drop, when replacement is ...) one nested value picked by `path`."""
    if not path or not isinstance(value, dict | list) or not value:
        return None if replacement is ... else replacement
    keys = list(value) if isinstance(value, dict) else list(range(len(value)))
    key = keys[path[0] % len(keys)]
    result = copy.copy(value)
    if replacement is ... and len(path) == 1:
        del result[key]
        return result
    result[key] = _mutate(value[key], path[1:], replacement)
    return result


@FUZZ
@given(
    fixture=st.sampled_from(ALL_FIXTURES),
    mutations=st.lists(
        st.tuples(st.lists(st.integers(0, 50), min_size=1, max_size=5), st.just(...) | JSON),
        min_size=1,
        max_size=4,
    ),
)
def test_normalize_raises_only_value_error_on_mutated_fixtures(
    fixture: tuple[str, str], mutations: list[tuple[list[int], Any]]
) -> None:
    provider, name = fixture
    raw, headers = _fixture(provider, name)
    payload = json.loads(raw)
    for path, replacement in mutations:
        payload = _mutate(payload, path, replacement)
    if isinstance(payload, dict):
        _check_normalize(provider, payload, headers)


HEADER_NAMES = st.sampled_from(
    [
        "X-Hub-Signature-256", "x-todoist-hmac-sha256", "X-Front-Signature",
        "X-Front-Request-Timestamp", "x-vercel-signature", "X-Telegram-Bot-Api-Secret-Token",
    ]
) | st.text(max_size=10)  # fmt: skip


@FUZZ
@given(
    provider=st.sampled_from(NAMES),
    raw=st.binary(max_size=300),
    headers=st.dictionaries(HEADER_NAMES, st.text(max_size=80), max_size=4),
    secret=st.text(max_size=20),
    now=st.none() | st.floats(allow_nan=True, allow_infinity=True),
)
def test_verify_never_raises_on_random_input(
    provider: str, raw: bytes, headers: dict[str, str], secret: str, now: float | None
) -> None:
    assert PROVIDERS[provider].verify(raw, headers, secret, now=now) in (True, False)


@FUZZ
@given(vector=st.sampled_from(VALID_VECTORS), raw=st.binary(min_size=1, max_size=200))
def test_verify_rejects_other_bodies_under_a_real_signature(
    vector: tuple[str, dict[str, Any]], raw: bytes
) -> None:
    provider, data = vector
    if provider == "telegram" or raw == data["body"].encode():
        return
    if provider == "front" and "signed_string" in data and raw == data["signed_string"].encode():
        return
    assert not _verify(provider, data, raw=raw)
