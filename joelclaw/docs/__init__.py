"""The docs library (reference §1.7 #76/#78): a document under the docs folder, or a URL from an
allowed host, becomes text, then chunks indexed in Typesense (`docs` holds one record per
document, `docs_chunks` its searchable chunks, with vectors when an embedder is configured).

model (Document, DocumentSkipped), source (where a document is and reading it), extract
(bytes -> text), chunk (text -> chunks), schema (the two collections), index (Typesense reads and
writes), ingest (the steps of docs-ingest), backlog (listing the folder for docs-backlog).
"""

# The public modules, all that function modules (`tasks/`) may import from here, each
# loaded when taken (`from joelclaw.docs import backlog`); tests/test_door.py holds them to it.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from joelclaw.docs import backlog, ingest, model

__all__ = ["backlog", "ingest", "model"]
