"""docs-backlog's plan: the supported documents of the docs folder (or a sub-folder), minus
those already indexed, cut into batches of `docs/ingest.requested` events."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from joelclaw.docs import extract, source
from joelclaw.docs.model import DocumentSkipped

if TYPE_CHECKING:
    from joelclaw.config import Settings


def list_folder(settings: Settings, folder: str | None = None) -> list[str]:
    """Supported files under the folder, relative to the docs folder, sorted; hidden ones not."""
    root = source.docs_root(settings)
    if root is None:
        raise DocumentSkipped(source.NO_DOCS_DIR)
    start = (root / folder).resolve() if folder else root
    if not start.is_relative_to(root):
        raise DocumentSkipped(f"{folder!r} is outside the docs folder {root}")
    if not start.is_dir():
        raise DocumentSkipped(f"no such folder under the docs folder: {folder or root}")
    found = []
    for path in start.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if extract.supported(path.name):
            found.append(rel.as_posix())
    return sorted(found)


def plan(files: list[str], indexed: set[str], *, only_missing: bool, max_entries: int | None,
         batch_size: int, idempotency_key: str) -> list[list[dict[str, Any]]]:
    """Batches of ingest events, in file order."""
    wanted = [f for f in files if not (only_missing and f in indexed)]
    if max_entries is not None:
        wanted = wanted[:max_entries]
    events = [{"name": "docs/ingest.requested",
               "data": {"path": rel, "idempotency_key": idempotency_key,
                        "tags": [Path(rel).parent.as_posix()]
                        if Path(rel).parent.as_posix() != "." else []}}
              for rel in wanted]
    return [events[i:i + batch_size] for i in range(0, len(events), batch_size)]
