"""Reading the JSON a triage prompt asked the LLM for: the first JSON array (or object) in the
answer, fenced or not; anything else is a clear error, not a crash."""

from __future__ import annotations

import json
import re
from typing import Any

from joelclaw.errors import JoelclawError

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


class BadAnswer(JoelclawError, ValueError):
    pass


def first_json(text: str, kind: type = list) -> Any:
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    opener, closer = ("[", "]") if kind is list else ("{", "}")
    for candidate in candidates:
        start, end = candidate.find(opener), candidate.rfind(closer)
        if start == -1 or end <= start:
            continue
        try:
            value = json.loads(candidate[start:end + 1])
        except ValueError:
            continue
        if isinstance(value, kind):
            return value
    raise BadAnswer(f"the LLM's answer holds no JSON {kind.__name__}: {text[:200]!r}")
