"""A small, safe Markdown for function descriptions (docstrings): paragraphs, `- ` lists,
`code`, **bold**, *emphasis* and [links](https://...).

Safe by construction: the text is HTML-escaped first, and only the markup produced here is
added, so raw HTML in a docstring shows as text; links are kept only for http(s) URLs (never
`javascript:`), and open without the referrer. No inline styles or scripts, so the page's
Content-Security-Policy holds.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
_EM = re.compile(r"(?<![*\w])\*([^*\n]+)\*(?![*\w])")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)\"'<>]+)\)")
_ITEM = re.compile(r"^\s*[-*]\s+(.*)$")


def _inline(text: str) -> str:
    """Escaped text with inline markup; code spans are set aside so nothing inside them
    becomes markup."""
    spans: list[str] = []

    def keep(match: re.Match[str]) -> str:
        spans.append(f"<code>{match.group(1)}</code>")
        return f"\x00{len(spans) - 1}\x00"

    out = _CODE.sub(keep, str(escape(text)))
    out = _LINK.sub(lambda m: f'<a href="{m.group(2)}" rel="noreferrer noopener">'
                              f"{m.group(1)}</a>", out)
    out = _BOLD.sub(r"<b>\1</b>", out)
    out = _EM.sub(r"<i>\1</i>", out)
    return re.sub(r"\x00(\d+)\x00", lambda m: spans[int(m.group(1))], out)


def render(text: str) -> Markup:
    """Markup for a docstring-like text (common indentation removed)."""
    lines = _dedent(text.strip("\n").splitlines())
    html: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if paragraph:
            html.append(f"<p>{_inline(' '.join(p.strip() for p in paragraph))}</p>")
            paragraph.clear()
        if items:
            html.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in lines:
        item = _ITEM.match(line)
        if not line.strip():
            flush()
        elif item:
            if paragraph:
                flush()
            items.append(item.group(1).strip())
        elif items and line.startswith((" ", "\t")):
            items[-1] += " " + line.strip()  # a list item continued on the next line
        else:
            if items:
                flush()
            paragraph.append(line)
    flush()
    return Markup("".join(html))


def _dedent(lines: list[str]) -> list[str]:
    """Docstrings indent every line after the first: drop the common indentation."""
    indents = [len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()]
    cut = min(indents, default=0)
    return [lines[0].strip(), *(line[cut:] for line in lines[1:])] if lines else []
