"""Runbooks for the error codes the CLI emits: what to look at, what to do, how to check it
worked, and how to undo. Plain data (`joelclaw recover <code>` prints one); every step is either
a joelclaw command (`command`) or something to do by hand (`do`)."""

from __future__ import annotations

from typing import Any

PHASES = ("diagnose", "fix", "verify", "rollback")


def _c(command: str, why: str) -> dict[str, str]:
    return {"command": f"joelclaw {command}", "description": why}


def _do(text: str) -> dict[str, str]:
    return {"do": text}


_REDIS = {
    "title": "Redis (run state and, by default, the broker) cannot be reached",
    "diagnose": [_c("status", "which Redis URL the CLI uses and whether it answers"),
                 _do("echo $JOELCLAW_REDIS_URL; ls $JOELCLAW_HOME/redis/url (written by up)"),
                 _c("logs redis", "the embedded Redis's own log")],
    "fix": [_c("up", "start the system; it runs an embedded Redis and records its URL"),
            _do("or set JOELCLAW_REDIS_URL to a running Redis (redis://host:6379/0)")],
    "verify": [_c("status", "redis ok, workers alive")],
    "rollback": [_do("unset JOELCLAW_REDIS_URL to fall back to the embedded Redis of `up`")],
}

RUNBOOKS: dict[str, dict[str, Any]] = {
    "REDIS_UNREACHABLE": _REDIS,
    "REDIS_ERROR": {
        "title": "Redis answered with an error",
        "diagnose": [_c("logs redis", "the server's log (OOM, read-only replica, AOF errors)"),
                     _do("redis-cli -u $JOELCLAW_REDIS_URL info persistence")],
        "fix": [_do("free memory or disk; joelclaw needs maxmemory-policy noeviction"),
                _c("up", "restart the embedded Redis if it is the one failing")],
        "verify": [_c("status", "redis ok")],
        "rollback": [],
    },
    "BROKER_UNREACHABLE": {
        "title": "The Celery broker cannot be reached",
        "diagnose": [_c("queues", "which broker URL is used"),
                     _do("check JOELCLAW_BROKER_URL (unset: the Redis URL)")],
        "fix": [_do("start the broker, or unset JOELCLAW_BROKER_URL to use Redis"),
                _c("up", "start the system")],
        "verify": [_c("queues", "queue depths answer"), _c("status", "workers alive")],
        "rollback": [_do("unset JOELCLAW_BROKER_URL")],
    },
    "CONFIG_ERROR": {
        "title": "A JOELCLAW_* setting is invalid",
        "diagnose": [_do("read the variable named in the error message; check .env too")],
        "fix": [_do("correct or unset that variable (see joelclaw/config/ for each one)")],
        "verify": [_c("status", "starts without the error")],
        "rollback": [_do("restore the previous .env")],
    },
    "WATCHDOG_NOT_CONFIGURED": {
        "title": "The dead-man's switch has no one to tell or nothing to watch",
        "diagnose": [_c("watchdog status", "what it watches and when it last looked")],
        "fix": [_do("set JOELCLAW_TELEGRAM_TOKEN and JOELCLAW_TELEGRAM_OWNER_ID (whom it tells), "
                    "and JOELCLAW_REDIS_URL or JOELCLAW_DEADMAN_HEALTH_URL (what it watches)")],
        "verify": [_c("watchdog check", "looks once and reports beating or silent")],
        "rollback": [_do("remove the cron or systemd line that runs `joelclaw watchdog`")],
    },
    "INVALID_EVENT": {
        "title": "The event is not valid: name or payload",
        "diagnose": [_c("schema", "known event names"),
                     _c("schema <event>", "the payload JSON Schema of one event")],
        "fix": [_do("names look like domain/noun.verb in lowercase; -d must fit the schema")],
        "verify": [_c("send <event> -d '{...}'", "dispatched")],
        "rollback": [],
    },
    "INVALID_JSON": {
        "title": "An argument is not a JSON object",
        "diagnose": [_do("quote the JSON for the shell: -d '{\"key\": 1}', or use -d @file.json")],
        "fix": [_do("pass a JSON object (not a list or string)")],
        "verify": [_c("send <event> -d '{...}'", "dispatched")],
        "rollback": [],
    },
    "INVALID_DURATION": {
        "title": "A duration could not be read",
        "diagnose": [_do("durations are a number and a unit: 30s, 15m, 2h, 7d, 1w")],
        "fix": [_do("e.g. joelclaw runs --since 2h")], "verify": [], "rollback": [],
    },
    "INVALID_FUNCTION": {
        "title": "A function declaration or module is wrong",
        "diagnose": [_c("functions", "which functions load"),
                     _do("check JOELCLAW_FUNCTION_MODULES and the module named in the error")],
        "fix": [_do("fix the @function declaration (id, trigger, options) the error names")],
        "verify": [_c("functions", "the function is listed")],
        "rollback": [_do("remove the module from JOELCLAW_FUNCTION_MODULES")],
    },
    "NOT_FOUND": {
        "title": "No run, event or proposal with that id (it may have expired)",
        "diagnose": [_c("runs", "recent run ids"), _c("events", "recent event ids")],
        "fix": [_do("runs are kept JOELCLAW_RUN_RETENTION_DAYS (7), events 7 days")],
        "verify": [], "rollback": [],
    },
    "RUN_FAILED": {
        "title": "A run failed",
        "diagnose": [_c("runs --status failed", "the failed runs"),
                     _c("run <id>", "its steps, the failed step's error and traceback"),
                     _c("logs worker", "the worker's log around that time")],
        "fix": [_do("fix the cause (code, data, an external service)"),
                _c("rerun <id>", "rerun from the failed step, reusing earlier steps"),
                _c("replay <id>", "or a fresh run with the same event")],
        "verify": [_c("run <new-id>", "completed")],
        "rollback": [_c("cancel <new-id>", "stop the new run")],
    },
    "NON_RETRIABLE": {
        "title": "A step or function refused to be retried (NonRetriable): more tries cannot help",
        "diagnose": [_c("run <id>", "the step that raised it and its message")],
        "fix": [_do("fix what the message names (the input, a setting, the code)"),
                _c("rerun <id>", "then rerun from the failed step")],
        "verify": [_c("run <new-id>", "completed")], "rollback": [],
    },
    "RETRY_AFTER": {
        "title": "A step asked to be tried again later (RetryAfter), e.g. a rate-limited API",
        "diagnose": [_c("explain <id>", "when the next attempt is due and why")],
        "fix": [_do("usually nothing: the run resumes on its own at the given time"),
                _c("wake <id>", "or try now, if the cause is gone")],
        "verify": [_c("run <id>", "the next attempt's outcome")], "rollback": [],
    },
    "NOT_REPLICATED": {
        "title": "Fewer Redis replicas than JOELCLAW_REDIS_WAIT_REPLICAS confirmed a write in time",
        "diagnose": [_c("status", "the Redis and its durability"),
                     _do("redis-cli INFO replication on the primary: connected replicas, lag")],
        "fix": [_do("bring the replicas back, or lower JOELCLAW_REDIS_WAIT_REPLICAS"),
                _do("send the event again with the same id: it is deduplicated")],
        "verify": [_c("event <id>", "stored, with its runs")], "rollback": [],
    },
    "STEP_FAILED": {
        "title": "A step of a run failed",
        "diagnose": [_c("run <id>", "the step's error and traceback")],
        "fix": [_c("rerun <id> --from-step <step>", "after fixing the cause")],
        "verify": [_c("run <new-id>", "completed")], "rollback": [],
    },
    "FOLLOW_TIMEOUT": {
        "title": "The followed runs did not finish in time",
        "diagnose": [_c("explain <id>", "why the run is not running (limits, sleeps, waits)"),
                     _c("status", "are workers alive?")],
        "fix": [_c("up", "start workers if none is alive"),
                _c("watch --run <id>", "keep following")],
        "verify": [_c("run <id>", "completed")], "rollback": [_c("cancel <id>", "give up")],
    },
    "USAGE_ERROR": {
        "title": "The command was called wrongly",
        "diagnose": [_c("--help", "every command"), _c("capabilities", "commands by goal")],
        "fix": [_do("run `joelclaw <command> --help` and fix the arguments")],
        "verify": [], "rollback": [],
    },
    "INVALID_ARGUMENT": {
        "title": "An argument has a bad value",
        "diagnose": [_do("`joelclaw <command> --help` lists the accepted values")],
        "fix": [], "verify": [], "rollback": [],
    },
    "INTERRUPTED": {
        "title": "Interrupted (Ctrl-C)",
        "diagnose": [_c("status", "nothing is lost: runs continue in the workers")],
        "fix": [_do("run the command again")], "verify": [], "rollback": [],
    },
    "INTERNAL_ERROR": {
        "title": "A bug in joelclaw",
        "diagnose": [_c("logs cli", "the saved traceback (JOELCLAW_HOME/logs/cli-errors.log)")],
        "fix": [_do("report it with the command and the traceback")],
        "verify": [], "rollback": [],
    },
    "JOELCLAW_ERROR": {
        "title": "joelclaw refused the request",
        "diagnose": [_c("status", "the system's state"), _c("functions", "loaded functions")],
        "fix": [_do("read the message: e.g. the run's function is not loaded here")],
        "verify": [], "rollback": [],
    },
    "LOG_MISSING": {
        "title": "No log file for that process",
        "diagnose": [_do("ls $JOELCLAW_HOME/logs (written by `joelclaw up`)")],
        "fix": [_c("up", "start the system: it writes one log file per process"),
                _do("processes started another way log where their runner puts them")],
        "verify": [_c("logs", "lines appear")], "rollback": [],
    },
    "UNKNOWN_EVENT": {
        "title": "No schema and no function for that event name",
        "diagnose": [_c("schema", "every known event name")],
        "fix": [_do("check the spelling; any valid name can still be sent (free-form data)")],
        "verify": [_c("schema <event>", "found")], "rollback": [],
    },
    "UNKNOWN_CODE": {
        "title": "No runbook for that code",
        "diagnose": [_c("recover", "every code with a runbook")], "fix": [], "verify": [],
        "rollback": [],
    },
    "RELOAD_INVALID_CODE": {
        "title": "`joelclaw reload` refused code that does not import (nothing was restarted)",
        "diagnose": [_do("python -c 'import <module>' with the module the error names"),
                     _c("functions", "what the running system still has loaded")],
        "fix": [_do("fix the syntax or import error in that function module"),
                _c("reload", "load it again")],
        "verify": [_c("reload", "reports the new code version and every worker on it")],
        "rollback": [_do("restore the previous version of the module (git checkout), then "
                         "joelclaw reload")],
    },
    "RELOAD_TIMEOUT": {
        "title": "A reload was recorded but a worker or beat did not restart in time",
        "diagnose": [_c("status", "which workers are alive and stamping"),
                     _c("logs worker", "a long-running step, or an import error at start"),
                     _c("watch", "the runs still executing")],
        "fix": [_do("wait for the long step to finish (workers restart after their current "
                    "step), or restart the worker by hand"),
                _c("reload --timeout 600", "wait longer")],
        "verify": [_c("reload", "every worker reports the new code version")],
        "rollback": [_do("restore the previous module and run joelclaw reload")],
    },
    "GATEWAY_NOT_RUNNING": {
        "title": "No gateway worker is alive",
        "diagnose": [_c("gateway diagnose", "each layer of the gateway"),
                     _c("logs gateway", "its log")],
        "fix": [_c("up", "starts the gateway worker (queue gateway, concurrency 1)"),
                _do("without up: celery -A joelclaw.worker worker -Q gateway -c 1 -n gateway@%h")],
        "verify": [_c("gateway status", "alive")], "rollback": [],
    },
    "GATEWAY_NO_TELEGRAM": {
        "title": "Telegram is not configured, so nothing can be delivered",
        "diagnose": [_c("gateway diagnose", "which settings are missing")],
        "fix": [_do("set JOELCLAW_TELEGRAM_TOKEN and JOELCLAW_TELEGRAM_OWNER_ID, then restart")],
        "verify": [_c("gateway test", "delivered")], "rollback": [],
    },
    "GATEWAY_TEST_FAILED": {
        "title": "A test message was not delivered in time",
        "diagnose": [_c("gateway diagnose", "heartbeat, Telegram, queue"),
                     _c("gateway events", "what is queued ahead of it"),
                     _c("logs gateway", "delivery errors")],
        "fix": [_c("gateway drain", "ask for a drain now"),
                _c("gateway restart", "restart the gateway worker")],
        "verify": [_c("gateway test", "delivered")], "rollback": [],
    },
    "GATEWAY_RESTART_FAILED": {
        "title": "The gateway worker stopped but did not come back",
        "diagnose": [_c("logs gateway", "why it exited"), _c("logs up", "the supervisor")],
        "fix": [_c("up", "restarts children that exit; outside up start it by hand")],
        "verify": [_c("gateway status", "alive")], "rollback": [],
    },
    "GATEWAY_UNHEALTHY": {
        "title": "A gateway check failed",
        "diagnose": [_c("gateway diagnose", "the failing checks and their fixes")],
        "fix": [_do("apply the fix each failing check names")],
        "verify": [_c("gateway diagnose", "every check ok")], "rollback": [],
    },
    # ---- memory (issue 10) ----------------------------------------------------------------
    "TYPESENSE_UNAVAILABLE": {
        "title": "Memory's Typesense is not configured or does not answer",
        "diagnose": [_c("status", "whether typesense shows up and answers"),
                     _c("logs search", "the embedded Typesense's output under up"),
                     _do("ls $JOELCLAW_HOME/typesense/url (written by up); "
                         "echo $JOELCLAW_TYPESENSE_URL")],
        "fix": [_c("up", "starts an embedded Typesense (Linux x86-64) and records its URL"),
                _do("elsewhere: run Typesense 0.24+ and set JOELCLAW_TYPESENSE_URL and "
                    "JOELCLAW_TYPESENSE_API_KEY")],
        "verify": [_c("recall test", "answers (keyword or hybrid), not this error")],
        "rollback": [_do("unset JOELCLAW_TYPESENSE_URL to fall back to the embedded one")],
    },
    "PROPOSAL_NOT_FOUND": {
        "title": "No memory proposal has that id",
        "diagnose": [_c("review list", "the open proposals and their ids")],
        "fix": [_do("use an id from the list (p-YYYYMMDD-NNN); decided proposals are kept 30 "
                    "days, older ones are gone")],
        "verify": [_c("review list", "the proposal is listed, or was decided")], "rollback": [],
    },
    "PROPOSAL_CLOSED": {
        "title": "The proposal was already decided another way",
        "diagnose": [_c("review list", "what is still open"),
                     _do("the message names who decided it and how")],
        "fix": [_do("nothing to do; to undo a promotion, edit MEMORY.md (its previous "
                    "version is MEMORY.md.bak)")],
        "verify": [_c("review list", "the proposal is no longer open")], "rollback": [],
    },
    # ---- agents and approvals (issue 11) --------------------------------------------------
    "APPROVAL_NOT_FOUND": {
        "title": "No pending approval request has that id",
        "diagnose": [_c("approvals list", "the pending requests and their ids"),
                     _c("approvals history", "whether it was already resolved, and by whom")],
        "fix": [_do("use an id from the list; a resolved request cannot be resolved again "
                    "(the waiting run already resumed)")],
        "verify": [_c("approvals history", "the request shows as resolved")], "rollback": [],
    },
    "BUDGET_ASK_NOT_FOUND": {
        "title": "No pending budget question has that id",
        "diagnose": [_c("budgets list", "the pending questions, their ids and waiting runs")],
        "fix": [_do("use an id from the list; an answered question cannot be answered again "
                    "(its runs already went on or were cancelled)")],
        "verify": [_c("budgets list", "the question is gone")], "rollback": [],
    },
    "APPROVAL_CATEGORY_NOT_FOUND": {
        "title": "That agent has no such learned category",
        "diagnose": [_c("approvals categories", "the learned categories per agent")],
        "fix": [_do("give the agent and category exactly as listed")],
        "verify": [_c("approvals categories", "the category is gone")], "rollback": [],
    },
    "MEMORY_FILE_BUSY": {
        "title": "MEMORY.md kept changing while a proposal was being promoted",
        "diagnose": [_do("is an editor or a sync tool rewriting MEMORY.md right now?")],
        "fix": [_do("close the editor or pause the sync, then approve again "
                    "(nothing was written: the promotion is all or nothing)")],
        "verify": [_c("review list", "the proposal is gone from the open ones")],
        "rollback": [_do("MEMORY.md.bak is the version before the last promotion")],
    },
    # ---- telemetry (issue 11) -------------------------------------------------------------
    "INVALID_COLLECTION": {
        "title": "`joelclaw search -c` names a collection search does not know",
        "diagnose": [_c("search <query>", "searches every known collection and says which "
                                          "are absent")],
        "fix": [_do("use memory_observations, otel_events, docs or docs_chunks")],
        "verify": [_c("search <query> -c otel_events", "answers with hits or none")],
        "rollback": [],
    },
    "OTEL_QUERY_FAILED": {
        "title": "Typesense refused the telemetry query",
        "diagnose": [_c("logs search", "the Typesense log"),
                     _c("otel stats", "whether otel_events answers at all")],
        "fix": [_do("check the filters (--level, --component) and retry; a dropped "
                    "collection is created again by the next flush")],
        "verify": [_c("otel list", "recent events")], "rollback": [],
    },
    "CONFIRMATION_REQUIRED": {
        "title": "A bulk cancel or replay needs --yes where nobody can be asked",
        "diagnose": [_do("the error says how many runs the filter matches; check the filter")],
        "fix": [_do("run the same command with --yes (JSON mode and scripts are never asked)")],
        "verify": [_c("runs --since 5m", "the new or cancelled runs")], "rollback": [],
    },
    "NOT_CONFIRMED": {
        "title": "The bulk action was not confirmed: nothing changed",
        "diagnose": [], "fix": [_do("run it again and answer y, or add --yes")],
        "verify": [], "rollback": [],
    },
    "BULK_REFUSED": {
        "title": "The bulk action cannot apply to this filter",
        "diagnose": [_do("read the reason: an empty filter, an unknown status, or cancelling "
                         "runs that have finished")],
        "fix": [_do("give a filter (--function, --status, --since); cancel only queued, "
                    "running, sleeping or waiting runs")],
        "verify": [_c("runs --function <id>", "what the filter selects")], "rollback": [],
    },
    "BULK_CHANGED": {
        "title": "The runs matching the filter changed since the preview",
        "diagnose": [_c("runs --function <id>", "what matches now")],
        "fix": [_do("preview again (the count is shown) and confirm the new count")],
        "verify": [], "rollback": [],
    },
}
