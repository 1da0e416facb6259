"""Keys of events on their way in: the event store, its logs and search index, and the front
door's failure counters."""

from __future__ import annotations

from joelclaw.keys.base import PREFIX

# ---- events -------------------------------------------------------------------------------

EVENT_DEDUP_TTL = 24 * 3600  # Inngest's window: a producer retrying within a day is a duplicate.
EVENT_TTL = 7 * 24 * 3600  # Stored events outlive their dedup window so runs can link to them.


def event(event_id: str) -> str:
    # hash: record (JSON), duplicates (count), "dedupe:<function>" (JSON link to the run a
    # semantic dedupe matched), forgotten (JSON stub: why and when it was forgotten)
    return f"{PREFIX}event:{event_id}"


def event_seen(event_id: str) -> str:
    return f"{PREFIX}event:seen:{event_id}"  # the dedup marker, EVENT_DEDUP_TTL


EVENT_LOG = PREFIX + "events"  # zset: event id by receive time (ms), capped


def events_by_name(name: str) -> str:
    return f"{PREFIX}events:name:{name}"  # zset: event id by ts, for wait_for_event lookback


def event_term(term: str) -> str:
    # zset: event id by receive time (ms) for one search term (joelclaw.events.index); trimmed
    # to EVENT_TTL every index_backlog.TRIM_SECONDS and expiring EVENT_TTL after its last
    return f"{PREFIX}events:term:{term}"


# list: events and runs sent but not yet in their sorted sets (the event logs, the run indexes,
# the search terms; JSON [score ms, id, terms, sets]), applied in batches by the sweeper and
# before every read of those sets (joelclaw.events.index_backlog.catch_up)
INDEX_BACKLOG = PREFIX + "events:unindexed"


def event_search(token: str) -> str:
    return f"{PREFIX}events:search:{token}"  # zset: one search's intersection, 60 s, then gone



# ---- the front door -------------------------------------------------------------------------

WEBHOOK_FAILURE_WINDOW = 60  # signature failures per IP are counted over this window (s)


def webhook_failures(ip: str) -> str:
    return f"{PREFIX}webhooks:authfail:{ip}"  # counter, WEBHOOK_FAILURE_WINDOW


def token_failures(ip: str) -> str:
    return f"{PREFIX}web:authfail:{ip}"  # wrong API tokens and logins, WEBHOOK_FAILURE_WINDOW


ECHO_TTL = 60  # a Todoist task the system completed itself emits nothing for this long (s)


def todoist_echo(task_id: str) -> str:
    return f"{PREFIX}todoist:closed-by-system:{task_id}"  # marker, ECHO_TTL
