"""What the docs pipeline passes between its steps: a located document, and a clean skip."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from joelclaw.errors import JoelclawError


class DocumentSkipped(JoelclawError):
    """This document cannot be ingested, for a reason that a retry will not change."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Located:
    """A document found and allowed: a file under the docs folder, or a URL on an allowed host."""

    kind: str  # "path" | "url"
    source: str  # the absolute file path, or the URL
    rel: str  # the path relative to the docs folder, or the URL
    doc_id: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Located:
        return cls(**{k: data[k] for k in ("kind", "source", "rel", "doc_id")})


def doc_id_for(rel: str) -> str:
    """A stable id per source (the relative path or the URL): the same document, the same id."""
    return "doc-" + hashlib.sha256(rel.encode()).hexdigest()[:24]


def content_hash(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()
