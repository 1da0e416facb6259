"""Reading a sorted set newest first, page by page, while others add to it and remove from it.

The run index, the event log and the search terms are such sets (scored by time, written by
every sender and worker while a listing reads them). Paging them by offset (`ZREVRANGEBYSCORE
... LIMIT offset n`) is wrong as soon as one member is added above the part already read: every
later member moves down one place, so the next page starts with the last member read and lists
it again (a listing of two runs showed one of them twice and not the new one), and a member
removed meanwhile makes the next page skip one.

`newest_first` starts each page at the lowest score read so far instead, so what is added above
it no longer moves anything, and leaves out the members of that score it already gave. Each
member comes at most once; a member added while the pages are read may or may not come (as if
it had been added just before or just after the listing).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

PAGE = 200


def newest_first(client: Any, key: str, high: float | str = "+inf", low: float | str = "-inf",
                 *, page: int = PAGE) -> Iterator[list[bytes]]:
    """The members of sorted set `key` scored from `high` down to `low` (inclusive), highest
    score first, in pages of at most `page`; one ZREVRANGEBYSCORE per page. `client` is a
    redis-py client (or one speaking its `zrevrangebyscore`)."""
    bound: float | str = high
    given: set[bytes] = set()  # the members scored `bound` already given
    while True:
        # The members at the bound that were given are read again (and left out), not skipped
        # by count: one of them removed meanwhile would make a count skip a member not given.
        want = len(given) + page
        rows = client.zrevrangebyscore(key, bound, low, start=0, num=want, withscores=True)
        fresh = [(member, score) for member, score in rows if member not in given]
        if fresh:
            yield [member for member, _ in fresh]
            last = fresh[-1][1]
            if last != bound:
                bound, given = last, set()
            given.update(member for member, score in fresh if score == last)
        if len(rows) < want or not fresh:
            return
