"""An owner message naming an ADR ("what's in ADR-0104?") reaches the agent with that decision's
text from the vault (JOELCLAW_VAULT_DIR, ADRs under `docs/decisions/`, named `0104-title.md`),
as the old gateway's vault-read did: up to 3 files and 12,000 characters, appended after the
message. Without a vault, or for an ADR that is not there, the message goes as it is.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from joelclaw.config import Settings

log = logging.getLogger("joelclaw.gateway.vault")

ADR = re.compile(r"\bADR[- _]?0*(\d{1,4})\b", re.IGNORECASE)
ADR_DIR = Path("docs") / "decisions"
MAX_FILES = 3
MAX_CHARS = 12_000


def enrich(settings: Settings, text: str) -> str:
    """The message, followed by the vault files of the ADRs it names."""
    vault = settings.checks.vault_dir.expanduser() if settings.checks.vault_dir else None
    if vault is None or not ADR.search(text):
        return text
    numbers = list(dict.fromkeys(int(n) for n in ADR.findall(text)))[:MAX_FILES]
    parts, budget = [], MAX_CHARS
    for number in numbers:
        found = adr_file(vault, number)
        if found is None or budget <= 0:
            continue
        try:
            body = found.read_text(encoding="utf-8", errors="replace")[:budget]
        except OSError as exc:
            log.warning("could not read %s: %s", found, exc)
            continue
        budget -= len(body)
        parts.append(f"--- ADR-{number:04d} ({found.relative_to(vault)}) ---\n{body.strip()}")
    if not parts:
        return text
    return text + "\n\n[from the vault]\n" + "\n\n".join(parts)


def adr_file(vault: Path, number: int) -> Path | None:
    """`docs/decisions/0104-*.md` (or `ADR-0104*.md`) under the vault; None if absent."""
    folder = vault / ADR_DIR
    if not folder.is_dir():
        return None
    for pattern in (f"{number:04d}-*.md", f"{number:04d}.md", f"ADR-{number:04d}*.md",
                    f"adr-{number:04d}*.md"):
        matches = sorted(folder.glob(pattern))
        if matches:
            return matches[0]
    return None
