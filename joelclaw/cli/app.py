"""The click group and the plumbing every command shares: JSON-or-text output, turning any error
(ours, Redis's, click's own usage errors) into one envelope with an exit code, never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

import click

from joelclaw.cli.output import Failure, Output, Reply, action, wants_json
from joelclaw.cli.params import DURATION as DURATION  # re-exported: commands name them here
from joelclaw.cli.params import JSON_OBJECT as JSON_OBJECT
from joelclaw.errors import (
    ConfigError,
    EventError,
    FunctionDefinitionError,
    JoelclawError,
    NotFound,
)

if TYPE_CHECKING:
    from joelclaw.config import Settings
    from joelclaw.config.quick import QuickSettings
    from joelclaw.runtime import Runtime

Handler = Callable[..., Reply]
JSON_KEY, TEXT_KEY = "joelclaw.json", "joelclaw.text"
REDIS_FIX = ("Start the system with `joelclaw up` (it runs an embedded Redis), or point "
             "JOELCLAW_REDIS_URL at a running Redis server.")


# ---- the session: settings and runtime, opened lazily, errors mapped to envelopes ---------

class Session:
    """One command invocation: where it writes, and the runtime it opens only when needed.

    A read command's session (`reads`) starts with the core settings alone (QuickSettings:
    the whole Settings is read if anything else is asked of it) and reads a plain Redis URL
    with the small client (joelclaw.redisconn.resp): it answers without pydantic-settings
    or redis-py."""

    def __init__(self, out: Output, *, reads: bool = False):
        self.out = out
        self.reads = reads
        self._settings: Settings | None = None
        self._quick: QuickSettings | None = None
        self._runtime: Runtime | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self._settings = self._read_settings()
            for warning in caught:  # e.g. a misspelt JOELCLAW_ variable: one clean line
                click.echo(click.style(f"warning: {warning.message}", fg="yellow"), err=True)
        return self._settings

    def _read_settings(self) -> Settings:
        if self.reads:
            from joelclaw.config.quick import QuickSettings

            self._quick = QuickSettings()
            return cast("Settings", self._quick)  # answers every Settings attribute
        from joelclaw.config import load_settings

        return load_settings()

    def runtime(self, *, redis_needed: bool = True) -> Runtime:
        from joelclaw.redaction import configured_secrets, install_log_redaction
        from joelclaw.runtime import Runtime

        if self._runtime is None:
            settings = self.settings
            self._runtime = Runtime(settings, quick_redis=self.reads)
            self.out.secrets = (self._quick.secrets() if self._quick is not None
                                else configured_secrets(settings))
            install_log_redaction(secrets=self.out.secrets)
        if redis_needed:
            try:
                url = self._runtime.redis_url
            except ConfigError as exc:
                raise Failure(str(exc), "REDIS_UNREACHABLE", REDIS_FIX,
                              next_actions=[action("up", "start Redis, workers, beat and web")]
                              ) from None
            if self.reads and not is_plain(url):
                with quick_redis_import():  # TLS, Sentinel...: redis-py reads it
                    pass
        return self._runtime

    def execute(self, handler: Handler, params: dict[str, Any]) -> int:
        try:
            if not self.reads:
                with quick_redis_import():  # nearly every command reads Redis
                    pass
            return self.out.success(handler(self, **params))
        except (click.exceptions.Exit, BrokenPipeError):
            raise  # click exits quietly (status 1) when the reader of a pipe went away
        except (Exception, KeyboardInterrupt) as exc:
            return self.out.failure(self.failure_for(exc))

    def failure_for(self, exc: BaseException) -> Failure:
        if isinstance(exc, Failure):
            return exc
        known = _known_failure(exc, self._redis_label())
        return known if known is not None else self._internal(exc)

    def _redis_label(self) -> str:
        from joelclaw.runtime import redact_url

        url = self._runtime.__dict__.get("redis_url") if self._runtime else None
        return f" at {redact_url(url)}" if url else ""

    def _internal(self, exc: BaseException) -> Failure:
        where = self._save_traceback(exc)
        fix = "This is a bug in joelclaw: please report it with the command you ran"
        fix += f"; the traceback is in {where}" if where else ""
        return Failure(f"unexpected {type(exc).__name__}: {exc}", "INTERNAL_ERROR", fix)

    def _save_traceback(self, exc: BaseException) -> str | None:
        """Keep the traceback for a bug report, out of the user's terminal."""
        if self._settings is None:
            return None
        try:
            path = self._settings.home_dir / "logs" / "cli-errors.log"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as log:
                log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {self.out.command}\n")
                log.write("".join(traceback.format_exception(exc)))
        except OSError:
            return None
        return str(path)


@contextlib.contextmanager
def quick_redis_import() -> Iterator[None]:
    """Import redis-py without the OpenTelemetry SDK it loads at import time when installed
    (a tenth of a second or more, for metrics this process never exports): while redis is
    imported for the first time, the SDK's metrics modules read as absent, then they are
    importable again for whoever needs them (`joelclaw otel`)."""
    if "redis" in sys.modules:
        yield
        return
    hidden = [m for m in OTEL_METRICS if m not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # None: importing it fails
    try:
        import redis  # noqa: F401
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name) is None:
                del sys.modules[name]


OTEL_METRICS = ("opentelemetry.sdk.metrics", "opentelemetry.metrics")


def is_plain(url: str) -> bool:
    """Whether the small client reads this Redis URL (else redis-py does)."""
    from joelclaw.redisconn import resp

    return resp.connect(url, lambda: None) is not None


def _known_failure(exc: BaseException, redis_label: str) -> Failure | None:
    """Our error tree, Redis and the broker, each with a code, a fix and an exit status."""
    if isinstance(exc, click.UsageError):
        return Failure(exc.format_message(), "USAGE_ERROR", "See `joelclaw --help`.", 2)
    if isinstance(exc, ConfigError):
        return Failure(str(exc), exc.code, "Fix the JOELCLAW_* setting named above (in the "
                       "environment or the .env file) and run the command again.", 2)
    from joelclaw.events.limits import EventTooLarge

    if isinstance(exc, EventTooLarge):
        return Failure(str(exc), exc.code, "Store large content elsewhere (a file, a URL, a "
                       "record) and put its reference in the event's data.", 2)
    if isinstance(exc, EventError):
        return Failure(str(exc), exc.code, "Event names look like 'domain/noun.verb' in "
                       "lowercase (e.g. 'todoist/comment.added'); -d must be a JSON object that "
                       "fits the event's payload model.", 2)
    if isinstance(exc, FunctionDefinitionError):
        return Failure(str(exc), exc.code, "Fix the function declaration, or the module list "
                       "in JOELCLAW_FUNCTION_MODULES.", 2)
    if isinstance(exc, NotFound):
        return Failure(str(exc), exc.code, "List recent ids with `joelclaw runs` or "
                       "`joelclaw events`.", next_actions=[action("runs", "recent runs"),
                                                            action("events", "recent events")])
    quick = sys.modules.get("joelclaw.redisconn.resp")  # the read commands' small client
    if quick is not None and isinstance(exc, quick.ConnectionFailed):
        return _unreachable(exc, redis_label)
    if quick is not None and isinstance(exc, quick.ReplyError):
        return _redis_error(exc)
    if isinstance(exc, JoelclawError):
        return Failure(str(exc), exc.code, "Check `joelclaw status` and `joelclaw functions`.")
    return _infrastructure_failure(exc, redis_label)


def _unreachable(exc: BaseException, redis_label: str) -> Failure:
    return Failure(f"cannot reach Redis{redis_label}: {exc}", "REDIS_UNREACHABLE", REDIS_FIX,
                   next_actions=[action("up", "start Redis, workers, beat and web"),
                                 action("status", "check the system again")])


def _redis_error(exc: BaseException) -> Failure:
    return Failure(f"Redis error: {exc}", "REDIS_ERROR", "Check the Redis server's log "
                   "and `joelclaw status`.")


def _infrastructure_failure(exc: BaseException, redis_label: str) -> Failure | None:
    redis = sys.modules.get("redis")  # only a process that imported redis can fail in it
    kombu = sys.modules.get("kombu.exceptions")
    if redis is not None and isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return _unreachable(exc, redis_label)
    if redis is not None and isinstance(exc, redis.RedisError):
        return _redis_error(exc)
    if kombu is not None and isinstance(exc, kombu.OperationalError):
        return Failure(f"cannot reach the broker: {exc}", "BROKER_UNREACHABLE",
                       "Check JOELCLAW_BROKER_URL and that the broker is running.")
    if isinstance(exc, KeyboardInterrupt):
        return Failure("interrupted", "INTERRUPTED", "Run the command again to continue.", 130)
    return None


# ---- the group and the command decorator --------------------------------------------------

class EnvelopeGroup(click.Group):
    """Turns click's own usage errors into the envelope (JSON mode) with exit status 2, and
    imports a command's module only when the command is asked for (`lazy`: command -> the
    modules that define it, set by joelclaw.cli)."""

    lazy: dict[str, tuple[str, ...]] = {}
    lazy_root: str | None = None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        # Every module of the command, even when the command is registered already: a group's
        # subcommands come from several modules, and importing one of them (the group's own,
        # say) registers the group without the others' subcommands.
        for module in self.lazy.get(cmd_name, ()):
            importlib.import_module(module)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.lazy))

    def load_all(self) -> None:
        """Every command (to list them all)."""
        for modules in self.lazy.values():
            for module in modules:
                importlib.import_module(module)
        if self.lazy_root:
            importlib.import_module(self.lazy_root)

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        try:
            code = super().main(argv, prog_name or "joelclaw", complete_var,
                                standalone_mode=False, **extra)
        except click.ClickException as exc:
            code = _click_failure(exc, argv)
        except click.Abort:
            click.echo("aborted", err=True)
            code = 1
        code = code if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def _click_failure(exc: click.ClickException, argv: list[str]) -> int:
    if not wants_json("--json" in argv, "--text" in argv):
        exc.show()
        return exc.exit_code
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "joelclaw"
    usage = isinstance(exc, click.UsageError)
    code = getattr(exc, "error_code", "USAGE_ERROR" if usage else "INVALID_ARGUMENT")
    failure = Failure(exc.format_message(), code,
                      f"See `{command} --help` for the accepted arguments.",
                      2 if usage else exc.exit_code,
                      next_actions=[action(f"{command} --help", "show usage")])
    return Output(command, json_mode=True).failure(failure)


@click.group(cls=EnvelopeGroup, name="joelclaw", invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--json", "as_json", is_flag=True, help="Print the JSON envelope.")
@click.option("--text", "as_text", is_flag=True, help="Print readable text even when piped.")
@click.pass_context
def cli(ctx: click.Context, as_json: bool, as_text: bool) -> None:
    """joelclaw: events, durable functions, runs and traces on Celery."""
    ctx.meta[JSON_KEY], ctx.meta[TEXT_KEY] = as_json, as_text
    if ctx.invoked_subcommand is not None:
        return
    session = Session(Output("joelclaw", wants_json(as_json, as_text)))
    cli.load_all()
    if not ROOT_VIEW:
        click.echo(ctx.get_help())
        return
    ctx.exit(session.execute(ROOT_VIEW[0], {"group": ctx.command}))


ROOT_VIEW: list[Handler] = []  # what bare `joelclaw` shows; capabilities.py registers it


def root_view(handler: Handler) -> Handler:
    """Register the handler bare `joelclaw` runs (the command map with health and runs)."""
    ROOT_VIEW[:] = [handler]
    return handler


def command(
    name: str, *, group: click.Group | None = None, reads: bool = False, **attrs: Any
) -> Callable[[Handler], click.Command]:
    """Register a subcommand (of `group`, default the root) whose handler returns a Reply (or
    raises); adds --json/--text. `reads`: a read command, whose session reads only the core
    settings and Redis through the small client (see `Session`)."""

    def decorate(handler: Handler) -> click.Command:
        @functools.wraps(handler)
        def callback(as_json: bool, as_text: bool, **params: Any) -> None:
            ctx = click.get_current_context()
            json_mode = wants_json(as_json or ctx.meta.get(JSON_KEY, False),
                                   as_text or ctx.meta.get(TEXT_KEY, False))
            session = Session(Output(ctx.command_path, json_mode), reads=reads)
            ctx.exit(session.execute(handler, params))

        callback = click.option("--text", "as_text", is_flag=True,
                                help="Readable text even when stdout is not a terminal.")(callback)
        callback = click.option("--json", "as_json", is_flag=True,
                                help="Print the JSON envelope (default when piped).")(callback)
        cmd = click.command(name, **attrs)(callback)
        (group or cli).add_command(cmd)
        return cmd

    return decorate
