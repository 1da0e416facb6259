"""The error tree. Users of joelclaw catch these; their names say what went wrong.

    JoelclawError
    ├── ConfigError            a setting is missing or invalid (exit code 2 in the CLI)
    ├── EventError             an event is malformed or its payload fails its model
    ├── FunctionDefinitionError a function declaration is invalid (bad trigger, option, expression)
    ├── NotFound               a run, event or function id that does not exist
    └── StepError              a step failed for good; carries the original error's type and message
    NonRetriable               raise from a step or function: fail now, no more attempts
    RetryAfter(seconds)        raise from a step or function: try again after that many seconds
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


class NonRetriable(Exception):
    """Fail the step (and so the run) at once, without further attempts."""


class RetryAfter(Exception):
    """Retry the step after `seconds` instead of the backoff schedule."""

    def __init__(self, seconds: float, message: str = ""):
        super().__init__(message or f"retry after {seconds}s")
        self.seconds = float(seconds)


class Defer(RetryAfter):
    """Wait `seconds` without spending an attempt: something outside the run holds it (the
    daily LLM budget, a time window). The message is the reason `joelclaw explain` shows."""
