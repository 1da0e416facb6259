"""Links into the dashboard for messages sent elsewhere (Telegram): a run, the needs-me page.

Only with `JOELCLAW_PUBLIC_URL` set (the address the owner's phone reaches): without it a
message names the run id, which `joelclaw run <id>` opens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from joelclaw.config import Settings


def run_url(settings: Settings, run_id: str) -> str | None:
    base = settings.web.public_url
    return f"{base}/runs/{quote(run_id, safe='')}" if base else None


def needs_url(settings: Settings) -> str | None:
    return f"{settings.web.public_url}/needs-me" if settings.web.public_url else None


def run_ref(settings: Settings, run_id: str) -> str:
    """`run-123` as a Markdown link to its page when there is a public URL, else as code."""
    url = run_url(settings, run_id)
    return f"[{run_id}]({url})" if url else f"`{run_id}`"
