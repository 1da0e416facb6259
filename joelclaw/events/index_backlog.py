"""What a send indexes later: the event logs, the run indexes and the search terms.

The dispatch script appends one entry per new event and per run to a backlog list (one RPUSH
for them all) instead of writing each sorted set itself, four commands a run fewer on the hot
path. The sweeper applies the backlog in batches (one ZADD per set per batch, however many runs
joined it), and every reader of those sets applies it first (`catch_up`), so a view always
lists every event and run stored before it looked. An entry is JSON: `[score, member, terms,
sets]`, the score a receive or creation time in ms; `member` joins each of `sets` (the logs and
indexes, kept) and each search term's set (`keys.event_term`, expiring with the events).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from joelclaw import keys
from joelclaw.redisconn import backlog

if TYPE_CHECKING:
    import redis


def entry(score_ms: int, member: str, sets: Iterable[str], terms: Iterable[str] = ()) -> str:
    """One backlog line: `member` joins `sets` and the term sets of `terms` at `score_ms`."""
    return json.dumps([score_ms, member, list(terms), list(sets)])


# Move up to ARGV[1] backlog entries into their sets, atomically (so two sweepers, or a sweeper
# and a reader, never apply the same entry twice or drop one): one ZADD per set per batch. A
# term set (keys built from ARGV[2], the prefix) then gets its expiry and, when ARGV[4] is '1',
# its trim to EVENT_TTL (ARGV[3]). A process trims at most every TRIM_SECONDS (most term sets
# are young, and a trim per term per batch was a third of the indexing's commands): a long-lived
# term's set holds members at most EVENT_TTL + TRIM_SECONDS old, whose events have expired
# (search skips them). An entry of an older version has no sets (it wrote them itself); one
# that is not an entry (nothing of ours writes such) is skipped, so it never stops the rest.
CATCH_UP = """
local entries = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #entries == 0 then return 0 end
redis.call('LTRIM', KEYS[1], #entries, -1)
local by_term, terms, by_set, sets, newest = {}, {}, {}, {}, 0
local function add(groups, order, name, score, member)
  local members = groups[name]
  if not members then members = {}; groups[name] = members; order[#order + 1] = name end
  members[#members + 1] = score
  members[#members + 1] = member
end
local function list(value)
  if type(value) == 'table' then return value end
  return {}
end
for _, raw in ipairs(entries) do
  local ok, e = pcall(cjson.decode, raw)
  if ok and type(e) == 'table' and type(e[1]) == 'number' and type(e[2]) == 'string' then
    for _, term in ipairs(list(e[3])) do
      if type(term) == 'string' then
        add(by_term, terms, ARGV[2] .. term, e[1], e[2])
        if e[1] > newest then newest = e[1] end
      end
    end
    for _, key in ipairs(list(e[4])) do
      if type(key) == 'string' then add(by_set, sets, key, e[1], e[2]) end
    end
  end
end
local function zadd(key, members)  -- pcall: a key of another type fails alone
  for i = 1, #members, 7000 do
    redis.pcall('ZADD', key, unpack(members, i, math.min(i + 6999, #members)))
  end
end
for _, key in ipairs(sets) do zadd(key, by_set[key]) end
local oldest = newest - tonumber(ARGV[3]) * 1000
for _, key in ipairs(terms) do
  zadd(key, by_term[key])
  if ARGV[4] == '1' then redis.pcall('ZREMRANGEBYSCORE', key, '-inf', oldest) end
  redis.call('EXPIRE', key, ARGV[3])
end
return #entries
"""
CATCH_UP_BATCH = 500
TRIM_SECONDS = 600.0
_trimmed: dict[int, float] = {}  # when this process last trimmed, per client (monotonic)


def catch_up(client: redis.Redis, batch: int = CATCH_UP_BATCH, rounds: int = 1000) -> int:
    """Apply the entries still in the backlog (at most `rounds` batches); how many."""
    script = backlog.script_for(client, CATCH_UP)

    def take() -> int:
        now = time.monotonic()
        trim = now - _trimmed.get(id(client), -TRIM_SECONDS) >= TRIM_SECONDS
        done = int(script(keys=[keys.INDEX_BACKLOG],
                          args=[batch, keys.event_term(""), keys.EVENT_TTL, "1" if trim else "0"]))
        if trim and done:
            _trimmed[id(client)] = now
        return done

    return backlog.drain(take, batch, rounds)
