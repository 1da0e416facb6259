"""The error tree. Users of joelclaw catch these; their names say what went wrong.

Every exception joelclaw defines is a `JoelclawError` (one `except` catches them all), and each
carries a stable `code` the CLI and the API print. The base classes of the tree are here; the
modules that raise the others define them beside the code that raises them (for example
`joelclaw.integrations.http.IntegrationError` and its HTTP statuses). Where callers also rely on
a builtin meaning, a class keeps that base too (e.g. `ExpressionError` is also a ValueError, so
pydantic validators report it as a validation error).

    JoelclawError
    ├── ConfigError            a setting is missing or invalid (exit code 2 in the CLI)
    ├── EventError             an event is malformed or its payload fails its model
    ├── FunctionDefinitionError a function declaration is invalid (bad trigger, option, expression)
    ├── NotFound               a run, event or function id that does not exist
    ├── StepError              a step failed for good; carries the original error's type and message
    ├── RunFailed              a function's Celery task reports its run's final failure to Celery
    ├── NonRetriable           raise from a step or function: fail now, no more attempts
    └── RetryAfter(seconds)    raise from a step or function: try again after that many seconds
        └── Defer(seconds)     wait without spending an attempt (a budget, a time window)

    StepInterrupt (a BaseException, not an error): how a run's replay stops when it suspends,
    is cancelled or a parallel member is done; a function's own `except Exception` never
    swallows it.
"""

from __future__ import annotations


class JoelclawError(Exception):
    """Base of every error joelclaw raises on purpose."""

    code = "JOELCLAW_ERROR"


class ConfigError(JoelclawError):
    code = "CONFIG_ERROR"


class EventError(JoelclawError):
    code = "INVALID_EVENT"


class FunctionDefinitionError(JoelclawError):
    code = "INVALID_FUNCTION"


class NotFound(JoelclawError):
    code = "NOT_FOUND"


class StepError(JoelclawError):
    """A step (or a parallel member, or an invoked function) failed after its retries."""

    code = "STEP_FAILED"

    def __init__(self, message: str, *, error_type: str = "Error", step: str | None = None):
        super().__init__(message)
        self.error_type = error_type
        self.step = step


class RunFailed(JoelclawError):
    """Raised by a function's Celery task after its run failed for good (and was recorded), so
    Celery marks the task FAILURE: Flower's Failed tab and `task-failed` events show it. The
    message is acknowledged like any failed task; the run store's retries happened before."""

    code = "RUN_FAILED"

    def __init__(self, run_id: str, function_id: str, error: dict[str, object]):
        super().__init__(f"run {run_id} of {function_id} failed: {error.get('name')}: "
                         f"{error.get('message')}")
        self.run_id, self.function_id, self.error = run_id, function_id, error

    def __reduce__(self) -> tuple[type[RunFailed], tuple[str, str, dict[str, object]]]:
        # The pool process hands it to the worker pickled: rebuild it from its own arguments.
        return (RunFailed, (self.run_id, self.function_id, self.error))


class NonRetriable(JoelclawError):
    """Fail the step (and so the run) at once, without further attempts."""

    code = "NON_RETRIABLE"


class RetryAfter(JoelclawError):
    """Retry the step after `seconds` instead of the backoff schedule."""

    code = "RETRY_AFTER"

    def __init__(self, seconds: float, message: str = ""):
        super().__init__(message or f"retry after {seconds}s")
        self.seconds = float(seconds)


class Defer(RetryAfter):
    """Wait `seconds` without spending an attempt: something outside the run holds it (the
    daily LLM budget, a time window). The message is the reason `joelclaw explain` shows."""


class StepInterrupt(BaseException):
    """Stops a run's replay on purpose (suspended, cancelled, a parallel member done). A
    BaseException, like KeyboardInterrupt: a function's `except Exception` lets it through."""
