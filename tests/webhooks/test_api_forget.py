"""`POST /api/forget` (preview, then forget exactly what was previewed) and the audit under
`GET /api/forgotten`, behind the bearer token like every other action; real Redis."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from joelclaw.events.model import Event
from joelclaw.events.store import get_event
from joelclaw.runtime import Runtime
from tests.test_forget import redis_hits
from tests.webhooks.webhook_support import bearer

MARKER = "Qvell9921 Abernathy"


def _post(client: FlaskClient, body: dict[str, Any], **headers: str) -> Any:
    return client.post("/api/forget", json=body, headers=headers or bearer())


def test_forgetting_through_the_api_previews_then_forgets_what_was_seen(
        client: FlaskClient, rt: Runtime) -> None:
    rt.send(Event(id="api-forget-1", name="test/steps", data={"note": f"met {MARKER}"}))
    rt.send(Event(id="api-forget-2", name="test/steps", data={"note": "kept as it is"}))
    assert redis_hits(rt.redis, MARKER)

    # No token, no forgetting (and no preview: it shows the text where it was found)
    assert _post(client, {"event": "api-forget-1"}, Authorization="Bearer wrong"
                 ).status_code == 401
    # Bad bodies are 400 with the reason; an unknown event is 404
    for body in ({}, {"event": "a", "match": "bbbbbb"}, {"event": 3}, {"event": "x", "no": 1},
                 {"match": MARKER, "reason": f"because of {MARKER}"},
                 {"event": "api-forget-1", "confirm": True}):
        assert _post(client, body).status_code == 400, body
    assert _post(client, {"event": "nope"}).status_code == 404

    preview = _post(client, {"event": "api-forget-1", "reason": "asked by the owner"})
    assert preview.status_code == 200
    shown = preview.get_json()["preview"]
    assert shown["dry_run"] and "events" in shown["counts"] and shown["events"] == [
        "api-forget-1"]
    assert redis_hits(rt.redis, MARKER)  # a preview changes nothing

    stale = _post(client, {"event": "api-forget-1", "reason": "asked by the owner",
                           "confirm": len(shown["found"]) + 1})
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "FORGET_CHANGED"
    assert redis_hits(rt.redis, MARKER)

    done = _post(client, {"event": "api-forget-1", "reason": "asked by the owner",
                          "confirm": len(shown["found"])})
    assert done.status_code == 200, done.get_json()
    forgotten = done.get_json()["forgotten"]
    assert forgotten["by"] == "owner (api)" and forgotten["reason"] == "asked by the owner"
    assert redis_hits(rt.redis, MARKER) == []
    assert get_event(rt.redis, "api-forget-2")["event"]["data"]["note"] == "kept as it is"

    audit = client.get("/api/forgotten", headers=bearer()).get_json()["forgotten"]
    assert [r["id"] for r in audit] == [forgotten["id"]]
    one = client.get(f"/api/forgotten/{forgotten['id']}", headers=bearer())
    assert one.status_code == 200 and one.get_json()["forgotten"]["selector"] == {
        "kind": "event", "event": "api-forget-1"}
    assert client.get("/api/forgotten/fg-none", headers=bearer()).status_code == 404
    assert client.get("/api/forgotten").status_code == 401
