"""Whether a cron expression is valid, as croniter judges it, without loading croniter for the
plain ones.

Declaring a cron trigger checks its expression, so a typo fails at import; croniter (and
dateutil under it) is most of what that costs a process that only lists the functions (`joelclaw
functions`, `status`, `queues`). The plain five-field expressions that functions and settings
use (`*/15 * * * *`, `30 3 * * *`, `0 9 * * 1-5`, with seconds `* * * * * */2`: numbers in each
field's range, ranges, lists, `*` and `*/n`) are known valid here: a subset of what croniter
accepts, which a test checks against croniter itself. Anything else (names, `L`, `#`, `?`,
hashes, a year) croniter judges.
"""

from __future__ import annotations

import re

# minute, hour, day of month, month, day of week, and optionally seconds (croniter's sixth
# field): the values a plain expression may name
FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6), (0, 59))
_ITEM = re.compile(r"\*(?:/[1-9][0-9]?)?|(0|[1-9][0-9]?)(?:-(0|[1-9][0-9]?))?")


def plainly_valid(expression: str) -> bool:
    """Whether `expression` is a plain cron expression (then croniter accepts it)."""
    parts = expression.split(" ")
    if not 5 <= len(parts) <= len(FIELDS):
        return False
    for part, (low, high) in zip(parts, FIELDS, strict=False):
        for item in part.split(","):
            found = _ITEM.fullmatch(item)
            if found is None:
                return False
            if found.group(1) is not None:
                first = int(found.group(1))
                last = int(found.group(2)) if found.group(2) is not None else first
                if not low <= first <= last <= high:
                    return False
    return True


def is_valid(expression: str) -> bool:
    """croniter's `is_valid`, answered without croniter for a plain expression."""
    if plainly_valid(expression):
        return True
    from croniter import croniter

    return bool(croniter.is_valid(expression))
