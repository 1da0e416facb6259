"""Secrets stay secret in every view: one redaction for the API, the CLI, run traces, the system
log and the logs of every process.

Stored events keep their data intact (functions need it); what is redacted is each *view*.
Three rules, applied together:

- by key name: a mapping value under a key that names a secret (`password`, `token`,
  `api_key`, `authorization`, `client_secret`, `cookie`, ... in any case or separator style)
  becomes `[redacted]`; counts and settings named after them (`max_tokens`, `secret_setting`)
  and booleans stay;
- by value shape, wherever a string appears: Telegram bot tokens, `Bearer`/`Basic`
  credentials, JWTs, GitHub/Slack/AWS/OpenAI/Stripe/Google keys, private key blocks, passwords
  in URLs, and `token=...`-style pairs inside text;
- by value: the secrets this deployment is configured with (every `JOELCLAW_*` setting whose
  name says secret), wherever they appear.

Logs get the same through one filter installed once per process (`install_log_redaction`): it
sees every record of every logger, its arguments and traceback included. A client that holds a
secret of its own declares it for the duration of a call (`secrets_in_scope`), so nothing
accumulates in a process-wide list.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from joelclaw.config import Settings

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 6  # shorter configured values would blank out ordinary words

_KEY_WORDS = ("password", "passwd", "passphrase", "secret", "token", "apikey", "accesskey",
              "privatekey", "signingkey", "authorization", "credential", "cookie")
_KEY_EXACT = frozenset({"auth", "pwd", "pass", "sessionid", "jwt"})
# names that mention a secret without holding one: counts, kinds, the name of a setting
_KEY_EXEMPT_SUFFIXES = ("tokens", "count", "setting", "settings", "type", "expiresin",
                        "expiresat", "length")

_SECRET_PAIR = (r"(?:[a-z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|"
                r"private[_-]?key|authorization|credentials?|cookie))")
_SHAPES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
                re.S), REDACTED),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/:@]*:)(?!\*+@)[^\s/@]+@"),
     rf"\1{REDACTED}@"),  # a password in a URL (one already masked as ** stays)
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {REDACTED}"),
    (re.compile(r"\b(Basic)\s+(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2}"),
     rf"\1 {REDACTED}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"(?<![0-9])[0-9]{6,12}:[A-Za-z0-9_-]{30,}"), REDACTED),  # Telegram bot token
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})"), REDACTED),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), REDACTED),  # Slack tokens
    (re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+"), REDACTED),
    (re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"), REDACTED),  # AWS access key id
    (re.compile(r"\bsk-[A-Za-z0-9_-]{20,}"), REDACTED),  # OpenAI, Anthropic
    (re.compile(r"\b[rsp]k_(?:live|test)_[A-Za-z0-9]{16,}"), REDACTED),  # Stripe
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}"), REDACTED),  # Google API key
    # "Authorization: Bearer abc": the credential after the scheme, the scheme kept; a
    # placeholder such as `<token>` (an instruction, not a secret) stays as it is
    (re.compile(r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token|digest)\s+)"
                r"(?!\[redacted\])(?!<)[^\s\"'&,;}\]]+"), rf"\1{REDACTED}"),
    (re.compile(rf"(?i)([\"']?\b{_SECRET_PAIR}[\"']?\s*[:=]\s*)([\"']?)(?!\[redacted\])"
                r"(?!(?:bearer|basic|token|digest)\s)[^\s\"'&,;}\]]+"), rf"\1\2{REDACTED}"),
    # "token 1a2b3c..." in prose: a credential-like word (letters and digits, 12+) after the name
    (re.compile(r"(?i)\b(token|password|passwd|secret|api[ _-]?key)(\s+)"
                r"(?=[A-Za-z0-9._~+/-]*[0-9])(?=[A-Za-z0-9._~+/-]*[A-Za-z])"
                r"[A-Za-z0-9._~+/-]{12,}"), rf"\1\2{REDACTED}"),
]
_HINT = re.compile(r"(?i)bearer|basic|eyj|[0-9]:|gh[pousr]_|github_pat|xox|hooks\.slack|"
                   r"akia|asia|abia|acca|sk-|k_live|k_test|aiza|private key|://[^\s/]*@|"
                   r"password|passwd|secret|token|key|authorization|credential|cookie")


_NOT_KEY_CHARS = re.compile(r"[^a-z0-9]")


def secret_key(name: object) -> bool:
    """Whether a mapping key names a secret (`clientSecret`, `X-Api-Key`, `bot_token`)."""
    return _secret_name(str(name))  # a view repeats a few keys: each is judged once


@functools.lru_cache(maxsize=4096)
def _secret_name(name: str) -> bool:
    normalized = _NOT_KEY_CHARS.sub("", name.lower())
    if not normalized or normalized.endswith(_KEY_EXEMPT_SUFFIXES):
        return False
    if normalized in _KEY_EXACT or normalized.endswith("auth"):
        return True
    return any(word in normalized for word in _KEY_WORDS)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """The text with every configured secret and every secret-shaped value replaced."""
    for secret in secrets:
        if len(secret) >= MIN_SECRET_LENGTH and secret in text:
            text = text.replace(secret, REDACTED)
    if not _HINT.search(text):  # the common case: nothing that could match
        return text
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A redacted copy of a JSON-like value (dicts, lists, tuples, strings, scalars). A string
    found under a secret key is a secret everywhere else in the value too (an error message
    that quotes the event's token, a step output that echoes it)."""
    found: list[str] = []
    _collect(value, found)
    known = tuple(sorted({s for s in (*secrets, *found) if s and len(s) >= MIN_SECRET_LENGTH},
                         key=len, reverse=True))
    return _walk(value, known)


def _collect(value: Any, found: list[str], depth: int = 0) -> None:
    if depth > 64:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str) and secret_key(k):
                found.append(v)
                found.extend(v.split()[1:])  # "Bearer <credential>": the credential alone
            else:
                _collect(v, found, depth + 1)
    elif isinstance(value, list | tuple):
        for v in value:
            _collect(v, found, depth + 1)


def _walk(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {k: _hidden(v, secrets) if secret_key(k) else _walk(v, secrets)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_walk(v, secrets) for v in value)
    return value


def _hidden(value: Any, secrets: tuple[str, ...]) -> Any:
    """A value under a secret key: gone, unless it cannot hold a secret (a flag, nothing)."""
    if value is None or isinstance(value, bool) or value == "":
        return value
    return REDACTED


def configured_secrets(settings: Settings) -> tuple[str, ...]:
    """Every secret this deployment is configured with: settings whose name says secret, and
    passwords in the Redis and broker URLs."""
    return secrets_among(settings.model_dump().items(),
                         (settings.redis.url, settings.redis.broker_url))


def secrets_among(settings: Iterable[tuple[str, Any]],
                  urls: Iterable[str | None]) -> tuple[str, ...]:
    """The secrets among settings (name, value) and URLs (their passwords)."""
    found = [str(value) for name, value in settings
             if value and isinstance(value, str | int) and not isinstance(value, bool)
             and secret_key(name)]
    for url in urls:
        match = re.match(r"^[a-z][a-z0-9+.-]*://[^/:@]*:([^/@]+)@", url or "")
        if match:
            found.append(match.group(1))
    return tuple(sorted({s for s in found if len(s) >= MIN_SECRET_LENGTH}, key=len,
                        reverse=True))


# ---- logs ---------------------------------------------------------------------------------

_scoped: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "joelclaw_scoped_secrets", default=())


@contextlib.contextmanager
def secrets_in_scope(secrets: Iterable[str]) -> Iterator[None]:
    """Also redact these values from log records made in this context, until it exits (an
    HTTP client holding a token declares it around each call; httpx logs the full URL)."""
    token = _scoped.set(_scoped.get() + tuple(s for s in secrets if s))
    try:
        yield
    finally:
        _scoped.reset(token)


class LogRedactor(logging.Filter):
    """Rewrites a record's message (arguments merged in), traceback and stack in place."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: tuple[str, ...] = ()
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self.secrets + _scoped.get()
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's problem to report
            return True
        clean = redact_text(message, secrets)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            text = self._formatter.formatException(record.exc_info)
            record.exc_text = redact_text(text, secrets)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, secrets)
        return True


_redactor = LogRedactor()
_install_lock = threading.Lock()
_installed = False


def install_log_redaction(settings: Settings | None = None, *,
                          secrets: tuple[str, ...] | None = None) -> LogRedactor:
    """Redact every log record this process makes, from any logger, whatever its handlers.
    Installed once (as the record factory, so records are clean before any handler or filter
    sees them); a later call with settings (or their `secrets`, already found) replaces the
    configured secrets, never adds up."""
    global _installed
    with _install_lock:
        if secrets is not None:
            _redactor.secrets = secrets
        elif settings is not None:
            _redactor.secrets = configured_secrets(settings)
        if not _installed:
            previous = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                _redactor.filter(record)
                return record

            logging.setLogRecordFactory(factory)
            _installed = True
    return _redactor
