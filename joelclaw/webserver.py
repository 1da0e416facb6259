"""gunicorn's settings for the web process, one definition for `joelclaw up`, the Procfile and
docker: `gunicorn -c python:joelclaw.webserver 'webhooks:create_app()'`.

Why gevent workers: a sync worker is held by one slow client for its whole 30 s timeout (a body
shorter than its Content-Length), so two such clients made `/health` time out. A gevent worker
serves each connection in a greenlet, up to `worker_connections`, so waiting clients cost
memory, not workers. Each wait is bounded: a request's headers must arrive within `keepalive`
seconds (gunicorn's async workers time the header read with it) and its body within
`JOELCLAW_WEB_BODY_TIMEOUT_SECONDS` (`webhooks/http.py`, answered 408).

Bind address and worker count come from the same settings every process reads
(`JOELCLAW_WEB_HOST`, `JOELCLAW_WEB_PORT`, `JOELCLAW_WEB_WORKERS`); `-b`/`-w` on the command
line still win.
"""

from __future__ import annotations

from joelclaw.config import load_settings
from joelclaw.ownerfiles import owner_only

owner_only()  # files the web process writes (logs, control socket) are the owner's alone
_settings = load_settings()
_host = _settings.web.host
_host = f"[{_host}]" if ":" in _host and not _host.startswith("[") else _host

bind = [f"{_host}:{_settings.web.port}"]
workers = _settings.web.workers
worker_class = "gevent"
worker_connections = 1000  # per worker: open connections served at once
keepalive = 5  # an idle connection closes after this; also the bound on a request's headers
timeout = 30  # a worker that stops answering the arbiter for this long is restarted
graceful_timeout = 15  # on stop, open requests get this long (less than compose's 30 s grace)

_reloaded = False  # a SIGHUP (`joelclaw reload`) came: new workers must load the new code


def on_reload(server: object) -> None:
    global _reloaded
    _reloaded = True


def post_fork(server: object, worker: object) -> None:
    """A worker forked after a reload imports the project's code from disk, not the copy its
    master holds (under `joelclaw up` the master starts on the modules up preloaded)."""
    if _reloaded:
        from joelclaw.supervisor.zygote import forget_project_modules

        forget_project_modules()
