"""Draining a backlog list with a script, one batch per call: the search index's (events) and
the metrics' (bus records) backlogs are applied this way, by the sweeper and by each reader."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis
    from redis.commands.core import Script

_SCRIPTS: dict[tuple[int, str], Script] = {}  # registered once per client and source
ScriptCall = Callable[..., Any]  # script(keys=[...], args=[...]) -> its reply


def script_for(client: redis.Redis, source: str) -> ScriptCall:
    """`source` as a callable on `client`: redis-py's registered Script (EVALSHA, loaded again
    if lost), or plain EVAL on the CLI's small client (a reader's one call: no redis-py)."""
    if not hasattr(type(client), "register_script"):
        return lambda keys, args: client.eval(source, len(keys), *keys, *args)
    key = (id(client), source)
    script = _SCRIPTS.get(key)
    if script is None or script.registered_client is not client:
        script = _SCRIPTS[key] = client.register_script(source)
    return script


def drain(take: Callable[[], int], batch: int, rounds: int) -> int:
    """Call `take` (one batch: at most `batch` items, returns how many) until a batch comes
    back short or `rounds` batches ran; how many items in all."""
    total = 0
    for _ in range(rounds):
        done = take()
        total += done
        if done < batch:
            break
    return total
