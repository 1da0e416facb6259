"""Where every external call of the clients passes on its way out: recorded while runs run,
answered from the recording in a shadow run.

`ApiClient.request` describes each call (`Call`: service, method, path with secrets scrubbed,
effect, what it sends) and hands `through` a `send` that really sends it. Normally the
process's recorder (installed by `joelclaw.cassettes`) keeps the answer; inside `playing(player)`
the player answers instead (from the recording, or by sending when it is allowed to), so a
shadow run decides call by call what may leave the machine. Clients know no recorder, no
player and no run: they describe their calls, with their effect (`joelclaw.effects`).

What is not an HTTP client's call goes the same way through `local`: a configured program
(git, a calendar exporter, the agent command) or a library that speaks its own protocol
(Typesense) hands over a function returning a JSON-able result, kept as a JSON answer.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from joelclaw.effects import Effect

if TYPE_CHECKING:  # imported where a response is built: declaring a call costs nothing
    import httpx

log = logging.getLogger("joelclaw.tape")
LLM_KINDS = {"llm": "chat", "embeddings": "embeddings", "transcription": "transcription"}
KEEP_BYTES = 512 * 1024  # a longer answer is kept cut (and a shadow run will not replay it)

Send = Callable[[dict[str, Any] | None], "httpx.Response"]  # the JSON body to send instead, if any


@dataclass(frozen=True)
class Call:
    """One external call as a recording keeps it (never its credentials)."""

    service: str
    method: str
    path: str
    effect: Effect
    request: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """chat | embeddings | transcription for a model call, http for any other."""
        return LLM_KINDS.get(self.service, "http")


@dataclass(frozen=True)
class Answer:
    """A response as recorded: enough to build it again for the client that asked."""

    status: int
    content: bytes
    content_type: str = "application/json"
    truncated: bool = False

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        content = response.content
        return cls(response.status_code, content[:KEEP_BYTES],
                   response.headers.get("content-type", ""), len(content) > KEEP_BYTES)

    def response(self, call: Call) -> httpx.Response:
        import httpx

        return httpx.Response(self.status, content=self.content,
                              headers={"content-type": self.content_type},
                              request=httpx.Request(call.method, "http://recorded" + call.path))

    def stored(self) -> dict[str, Any]:
        """JSON-able: decoded JSON when it is, text when it is, else base64."""
        try:
            text = self.content.decode()
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(self.content).decode()}
        try:
            import json

            return {"json": json.loads(text)} if text else {"text": ""}
        except ValueError:
            return {"text": text}

    @classmethod
    def from_stored(cls, status: int, body: dict[str, Any], content_type: str,
                    truncated: bool = False) -> Answer:
        if "json" in body:
            import json

            content = json.dumps(body["json"]).encode()
        elif "base64" in body:
            content = base64.b64decode(body["base64"])
        else:
            content = str(body.get("text", "")).encode()
        return cls(status, content, content_type, truncated)


class Recorder(Protocol):
    def record(self, call: Call, answer: Answer) -> None: ...


class Player(Protocol):
    def play(self, call: Call, send: Send) -> httpx.Response: ...

    def usage(self, usage: Any) -> None: ...


_recorder: list[Recorder] = []
_player: contextvars.ContextVar[Player | None] = contextvars.ContextVar(
    "joelclaw_tape_player", default=None)


def set_recorder(recorder: Recorder | None) -> None:
    _recorder[:] = [recorder] if recorder is not None else []


def player() -> Player | None:
    """The player answering this context's calls (a shadow run), or None."""
    return _player.get()


@contextlib.contextmanager
def playing(which: Player) -> Iterator[Player]:
    """Every client call in this context goes to `which` instead of out."""
    token = _player.set(which)
    try:
        yield which
    finally:
        _player.reset(token)


def through(call: Call, send: Send) -> httpx.Response:
    """Send `call` (or let the player answer it), and record what came back."""
    current = _player.get()
    if current is not None:
        return current.play(call, send)
    response = send(None)
    if _recorder:
        try:
            _recorder[0].record(call, Answer.of(response))
        except Exception:  # a recording never fails the call it records
            log.warning("recording a %s call failed", call.service, exc_info=True)
    return response


def local(call: Call, produce: Callable[[], Any]) -> Any:
    """Run `produce` (a subprocess, a library call) as an external call: recorded, or answered
    from the recording (or refused) in a shadow run. Its result must be JSON-able; what it
    raises is raised, and nothing is recorded."""
    def send(_body: dict[str, Any] | None) -> httpx.Response:
        import json

        import httpx

        content = json.dumps({"value": produce()}, default=str).encode()
        return httpx.Response(200, content=content, headers={"content-type": "application/json"},
                              request=httpx.Request(call.method, "local://" + call.service))

    return through(call, send).json()["value"]


def describe(kw: dict[str, Any]) -> dict[str, Any]:
    """What a call sends, as a recording keeps it: bodies and parameters, files by size and
    digest (never their bytes), no headers (credentials live there)."""
    out: dict[str, Any] = {}
    for name in ("json", "params", "data"):
        if kw.get(name) is not None:
            out[name] = kw[name]
    files = kw.get("files")
    if files:
        out["files"] = {name: _file(value) for name, value in dict(files).items()}
    return out


def _file(value: Any) -> dict[str, Any]:
    name, content = (value[0], value[1]) if isinstance(value, tuple) else ("", value)
    data = content if isinstance(content, bytes) else str(content).encode()
    return {"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
