"""Bytes to text: plain text, Markdown, HTML (the stdlib's parser) and PDF (pypdf).

The kind comes from the media type a server sent, else from the file's extension. Anything else
is a DocumentSkipped naming the type, as is a PDF without a text layer (a scan) or an encrypted one.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePosixPath

from joelclaw.docs.model import DocumentSkipped

TEXT, MARKDOWN, HTML, PDF = "text", "markdown", "html", "pdf"
EXTENSIONS = {".txt": TEXT, ".text": TEXT, ".md": MARKDOWN, ".markdown": MARKDOWN,
              ".mdx": MARKDOWN, ".html": HTML, ".htm": HTML, ".xhtml": HTML, ".pdf": PDF}
MEDIA_TYPES = {"text/plain": TEXT, "text/markdown": MARKDOWN, "text/x-markdown": MARKDOWN,
               "text/html": HTML, "application/xhtml+xml": HTML, "application/pdf": PDF}


@dataclass(frozen=True)
class Extracted:
    kind: str
    title: str
    text: str


def kind_of(name: str, media_type: str = "") -> str | None:
    if media_type in MEDIA_TYPES:
        return MEDIA_TYPES[media_type]
    return EXTENSIONS.get(PurePosixPath(name).suffix.lower())


def supported(name: str) -> bool:
    return kind_of(name) is not None


def extract(raw: bytes, name: str, media_type: str = "") -> Extracted:
    kind = kind_of(name, media_type)
    if kind is None:
        shown = media_type or PurePosixPath(name).suffix or "no extension"
        raise DocumentSkipped(f"unsupported document type ({shown}): plain text, Markdown, HTML "
                              "and PDF are")
    fallback = PurePosixPath(name).stem.replace("_", " ").replace("-", " ").strip() or name
    if kind == PDF:
        title, text = _pdf(raw)
    else:
        decoded = _decode(raw, name)
        if kind == HTML:
            title, text = _html(decoded)
        elif kind == MARKDOWN:
            title, text = _markdown(decoded)
        else:
            title, text = "", decoded
    text = _tidy(text)
    if not text:
        raise DocumentSkipped(f"{name} has no text")
    return Extracted(kind, (title or fallback).strip()[:300], text)


def _decode(raw: bytes, name: str) -> str:
    if b"\x00" in raw[:4096]:
        raise DocumentSkipped(f"{name} looks binary (NUL bytes), not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# ---- Markdown --------------------------------------------------------------------------------

_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.S)
_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.M)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def _markdown(text: str) -> tuple[str, str]:
    title = ""
    text = text.replace("\r\n", "\n")
    front = _FRONT.match(text)
    if front:
        for line in front.group(1).splitlines():
            key, _, value = line.partition(":")
            if key.strip().lower() == "title" and value.strip():
                title = value.strip().strip("'\"")
        text = text[front.end():]
    if not title and (heading := _HEADING.search(text)):
        title = heading.group(1)
    return title, _LINK.sub(r"\1", text)


# ---- HTML ------------------------------------------------------------------------------------

_SKIPPED = {"script", "style", "noscript", "template", "svg", "head"}
_BLOCKS = {"p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header",
           "footer", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "hr", "dt", "dd"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self.h1: list[str] = []
        self._skip = 0
        self._in_title = self._in_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _SKIPPED:
            self._skip += 1
        elif tag == "h1":
            self._in_h1 = True
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag == "h1":
            self._in_h1 = False
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
            return
        if self._skip:
            return
        if self._in_h1:
            self.h1.append(data)
        self.parts.append(data)


def _html(text: str) -> tuple[str, str]:
    parser = _Text()
    parser.feed(text)
    parser.close()
    body = "".join(parser.parts)
    body = "\n".join(re.sub(r"[ \t\f\v]+", " ", line).strip() for line in body.split("\n"))
    title = " ".join("".join(parser.title).split()) or " ".join("".join(parser.h1).split())
    return title, body


# ---- PDF -------------------------------------------------------------------------------------

def _pdf(raw: bytes) -> tuple[str, str]:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError:  # pragma: no cover - pypdf is a dependency
        raise DocumentSkipped("PDF needs the pypdf package (pip install pypdf)") from None
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            raise DocumentSkipped("the PDF is encrypted")
        pages = [(page.extract_text() or "") for page in reader.pages]
        title = str(reader.metadata.get("/Title") or "") if reader.metadata else ""
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise DocumentSkipped(f"not a readable PDF: {type(exc).__name__}: {exc}") from None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise DocumentSkipped("the PDF has no text layer (a scan?): nothing to index")
    return title, text
