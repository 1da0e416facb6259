"""Keys of coordination between runs: provider circuit breakers, effect budgets and the tiered
cache."""

from __future__ import annotations

from joelclaw.keys.base import PREFIX, lock

# ---- provider circuit breakers (joelclaw.coordination.breakers), no TTL ------------------

def breaker(service: str) -> str:
    # hash: state (closed|open), failures (in a row), opens, opened_at, retry_at, closed_at,
    # last_error, last_failure_at, last_success_at, last_latency_ms
    return f"{PREFIX}breaker:{service}"


def breaker_probe(service: str) -> str:
    return f"{PREFIX}breaker:{service}:probe"  # string: the half-open probe's lock, PX 30 s


def breaker_waiting(service: str) -> str:
    return f"{PREFIX}breaker:{service}:waiting"  # set: runs deferred by the open breaker


# ---- effect budgets (joelclaw.coordination.budgets) ----------------------------------------

def budget_run(run_id: str) -> str:
    # hash: notify|write|llm_usd -> spent by the run; "grant:<kind>" -> passes the owner
    # allowed past the cap ("allow once"); TTL BUDGET_TTL
    return f"{PREFIX}budget:run:{run_id}"


def budget_function(function_id: str, window: int) -> str:
    # hash: kind -> spent by the function's runs in window number `window`; TTL two windows
    return f"{PREFIX}budget:fn:{function_id}:{window}"


def budget_day(function_id: str, kind: str, date: str) -> str:
    # string: the owner allowed this kind for the function all day ("allow for the day")
    return f"{PREFIX}budget:day:{function_id}:{kind}:{date}"


def budget_ask_runs(ask_id: str) -> str:
    return f"{PREFIX}budget:ask:{ask_id}:runs"  # set: the runs waiting on the answer


# hash: ask id -> JSON {id, function, kind, scope, cap, spent, run_id, asked_at}: the owner's
# pending questions; a press (or the CLI) resolves one by removing it (HDEL: a claim)
BUDGET_ASKS = PREFIX + "budget:asks"
BUDGET_TTL = 7 * 86400


# ---- the tiered cache (joelclaw.cache) ------------------------------------------------------

CACHE = PREFIX + "cache:"  # + "<namespace>:<key>": envelope JSON, PX = the entry's TTL
CACHE_STATS = PREFIX + "cache-stats"  # hash "<tier>|<hit|miss|error>", "fetch|count" (no TTL)


def cache_entry(namespace: str, key: str) -> str:
    return f"{CACHE}{namespace}:{key}"


def cache_fill_lock(namespace: str, key: str) -> str:
    return lock(f"cache:{namespace}:{key}")  # one process fetches a missing entry, fill lease
