"""Reading the settings: a bad value stops the process with a message naming the variable,
so a typo in a deployment is found at boot rather than at the first webhook; an unknown
`JOELCLAW_*` variable is a warning that suggests the closest name."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from joelclaw.config.base import NO_REDIS, PREFIX
from joelclaw.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import ValidationError

    from joelclaw.config.settings import Settings


class HasRedisURL(Protocol):
    """What `resolve_redis_url` reads: `Settings`, or the CLI's quick settings."""

    @property
    def redis_url(self) -> str | None: ...

    @property
    def home_dir(self) -> Any: ...


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; raise ConfigError naming the bad variable."""
    from pydantic import ValidationError
    from pydantic_settings.exceptions import SettingsError

    from joelclaw.config.settings import Settings

    warn_unknown_variables(Settings.model_fields)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe(exc)) from None
    except SettingsError as exc:
        raise ConfigError(f"invalid settings: {exc}") from None


def describe(exc: ValidationError) -> str:
    """A validation error as one line naming each bad variable (and its value, unless secret)."""
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "?"
        variable = PREFIX + field.upper()
        value = os.environ.get(variable)
        shown = f" (got {value!r})" if value is not None and "token" not in field else ""
        lines.append(f"{variable}{shown}: {error['msg']}")
    return "invalid settings: " + "; ".join(lines)


def warn_unknown_variables(names: Iterable[str]) -> None:
    """Warn of each `JOELCLAW_*` variable that names no setting, with the closest name."""
    known = {PREFIX + name.upper() for name in names}
    for variable in os.environ:
        if variable.startswith(PREFIX) and variable not in known:
            import difflib  # (only for an unknown variable)
            import warnings

            guess = difflib.get_close_matches(variable, known, n=1)
            hint = f"; did you mean {guess[0]}?" if guess else ""
            warnings.warn(f"unknown setting {variable}{hint}", stacklevel=3)


def resolve_redis_url(settings: HasRedisURL) -> str:
    """JOELCLAW_REDIS_URL, else the embedded Redis a running `joelclaw up` recorded."""
    if settings.redis_url:
        return settings.redis_url
    recorded = settings.home_dir / "redis" / "url"
    if recorded.exists():
        return str(recorded.read_text().strip())
    raise ConfigError(NO_REDIS)
