"""Agent Markdown to Telegram HTML, message splitting, and the plain-text fallback.

Agents write loose Markdown; Telegram accepts a small HTML dialect and rejects the whole message
on one stray `<` or unclosed tag. So `to_telegram_html` escapes every character of input text and
only emits tags it generated itself, each closed and properly nested: b, i, s, code, pre, a,
blockquote. Emphasis is recognized within a line; fenced code spans lines.

`split_message` cuts at line boundaries, keeps a block that opens and closes tags (a code block,
a quote) in one chunk when it fits, and otherwise closes the open tags at the cut and re-opens
them in the next chunk, so every chunk is valid HTML on its own.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from joelclaw.errors import JoelclawError

__all__ = ["TELEGRAM_LIMIT", "split_message", "strip_html", "to_telegram_html"]

TELEGRAM_LIMIT = 4096
SAFE_SCHEMES = ("http://", "https://", "tg://", "mailto:")
_SENTINEL = "\x00"

# -- Markdown-ish to HTML ------------------------------------------------------------------------

_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")
_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:\s*\1){2,}\s*$")
_QUOTE = re.compile(r"^ {0,3}> ?(.*)$")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|[\s:|-]*-[\s:|-]*\|\s*$")
_LANG = re.compile(r"[^\w+#.-]")

_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!~|>])")
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_LINK = re.compile(
    r"!?\[([^\[\]\n]+)\]\(\s*<?((?:[^()\s<>]|\([^()\s<>]*\))+)>?(?:\s+\"[^\"\n]*\")?\s*\)"
)
_AUTOLINK = re.compile(r"<((?:https?://|mailto:)[^<>\s]+)>")
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")


def to_telegram_html(markdownish: str) -> str:
    """Telegram HTML for agent Markdown: **bold**, *italic*, `code`, fences, links, headings."""
    lines = _normalize(markdownish).split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if fence := _FENCE_OPEN.match(lines[i]):
            i = _code_block(lines, i, fence, out)
        elif _QUOTE.match(lines[i]):
            i = _quote_block(lines, i, out)
        else:
            if (rendered := _block_line(lines[i])) is not None:
                out.append(rendered)
            i += 1
    return "\n".join(out)


def _normalize(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace(_SENTINEL, "")


def _code_block(lines: list[str], start: int, fence: re.Match[str], out: list[str]) -> int:
    marker, lang = fence.group(1), _LANG.sub("", fence.group(2))[:32]
    closing = re.compile(rf"^ {{0,3}}{re.escape(marker[0])}{{{len(marker)},}}\s*$")
    end = start + 1
    while end < len(lines) and not closing.match(lines[end]):
        end += 1
    body = html.escape("\n".join(lines[start + 1 : end]), quote=False)
    attr = f' class="language-{lang}"' if lang else ""
    out.append(f"<pre><code{attr}>{body}</code></pre>")
    return end + 1  # an unclosed fence runs to the end, as Markdown renderers do


def _quote_block(lines: list[str], start: int, out: list[str]) -> int:
    end = start
    quoted: list[str] = []
    while end < len(lines) and (m := _QUOTE.match(lines[end])):
        if (rendered := _block_line(m.group(1))) is not None:
            quoted.append(rendered)
        end += 1
    out.append("<blockquote>" + "\n".join(quoted) + "</blockquote>")
    return end


def _block_line(line: str) -> str | None:
    """One non-code line; None drops it (a table's |---| rule)."""
    if m := _HEADING.match(line):
        return f"<b>{_inline(m.group(1))}</b>"
    if _RULE.match(line):
        return "──────────"
    if m := _BULLET.match(line):
        return f"{m.group(1)}• {_inline(m.group(2))}"
    if _TABLE_RULE.match(line):
        return None
    if _TABLE_ROW.match(line):
        cells = line.strip().strip("|").split("|")
        return " · ".join(_inline(cell.strip()) for cell in cells)
    return _inline(line)


class _Slots:
    """Finished HTML fragments parked behind sentinel tokens while the rest is parsed."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def park(self, fragment: str, source: str) -> str:
        self.items.append((fragment, source))
        return f"{_SENTINEL}{len(self.items) - 1}{_SENTINEL}"

    def restore(self, text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: self.items[int(m.group(1))][0], text)

    def source(self, text: str) -> str:
        """The original Markdown behind the placeholders (for re-parsing a link label)."""
        return _PLACEHOLDER.sub(lambda m: self.items[int(m.group(1))][1], text)


def _inline(text: str, *, links: bool = True) -> str:
    """Inline Markdown of one line: code spans (taken verbatim), escapes, links, emphasis."""
    slots = _Slots()
    text = _CODE_SPAN.sub(lambda m: slots.park(_code_span(m.group(2), links), m.group(0)), text)
    text = _ESCAPED.sub(lambda m: slots.park(_esc(m.group(1)), m.group(0)), text)
    if links:
        text = _LINK.sub(lambda m: _link(m, slots), text)
        text = _AUTOLINK.sub(lambda m: _autolink(m, slots), text)
    return slots.restore(_emphasis(text))


def _code_span(content: str, as_tag: bool) -> str:
    if len(content) > 2 and content[0] == content[-1] == " " and content.strip():
        content = content[1:-1]
    # Telegram forbids code inside a link, so link text keeps the code as plain text.
    return f"<code>{_esc(content)}</code>" if as_tag else _esc(content)


def _link(m: re.Match[str], slots: _Slots) -> str:
    label, url = slots.source(m.group(1)), slots.source(m.group(2))
    if not url.lower().startswith(SAFE_SCHEMES):
        return m.group(0)
    return slots.park(_anchor(url, _inline(label, links=False)), m.group(0))


def _autolink(m: re.Match[str], slots: _Slots) -> str:
    url = slots.source(m.group(1))
    return slots.park(_anchor(url, _esc(url)), m.group(0))


def _anchor(url: str, label_html: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{label_html}</a>'


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


@dataclass(slots=True)
class _Run:
    """A run of one delimiter character (`*`, `_` or `~~`) and the tags it turned into."""

    pos: int
    char: str
    length: int
    can_open: bool
    can_close: bool
    left: int = 0
    opens: list[str] = field(default_factory=list)
    closes: list[str] = field(default_factory=list)


def _emphasis(text: str) -> str:
    """Escaped `text` with emphasis delimiters paired into tags.

    Pairing follows CommonMark's delimiter stack: a closer takes the nearest opener of its kind
    and discards the openers in between, so tags never cross, in linear time.
    """
    runs = _delimiter_runs(text)
    _pair(runs)
    out: list[str] = []
    last = 0
    for run in runs:
        out += [_esc(text[last : run.pos]), _render_run(run)]
        last = run.pos + run.length
    out.append(_esc(text[last:]))
    return "".join(out)


def _render_run(run: _Run) -> str:
    # An opener's unused characters stay literal before its tags, a closer's after its tags.
    literal = _esc(run.char * run.left)
    return literal + "".join(run.opens) if run.opens else "".join(run.closes) + literal


def _delimiter_runs(text: str) -> list[_Run]:
    runs: list[_Run] = []
    i = 0
    while i < len(text):
        if text[i] not in "*_~":
            i += 1
            continue
        j = i
        while j < len(text) and text[j] == text[i]:
            j += 1
        if text[i] != "~" or j - i == 2:  # only ~~ strikes through
            runs.append(_flanking(text, i, j))
        i = j
    return runs


def _flanking(text: str, i: int, j: int) -> _Run:
    before = text[i - 1] if i > 0 else " "
    after = text[j] if j < len(text) else " "
    can_open, can_close = not after.isspace(), not before.isspace()
    if text[i] == "_":  # snake_case_names stay literal
        can_open, can_close = can_open and not before.isalnum(), can_close and not after.isalnum()
    return _Run(i, text[i], j - i, can_open, can_close, left=j - i)


def _pair(runs: list[_Run]) -> None:
    stack: list[_Run] = []
    waiting = {"*": 0, "_": 0, "~": 0}  # openers of each kind on the stack
    for run in runs:
        while run.can_close and run.left and waiting[run.char]:
            k = next(n for n in range(len(stack) - 1, -1, -1) if stack[n].char == run.char)
            for dropped in stack[k + 1 :]:
                waiting[dropped.char] -= 1
            del stack[k + 1 :]
            opener = stack[k]
            width = 2 if opener.left >= 2 and run.left >= 2 else 1
            tag = "s" if run.char == "~" else "b" if width == 2 else "i"
            opener.left, run.left = opener.left - width, run.left - width
            opener.opens.insert(0, f"<{tag}>")
            run.closes.append(f"</{tag}>")
            if not opener.left:
                stack.pop()
                waiting[opener.char] -= 1
        if run.can_open and run.left == run.length:
            stack.append(run)
            waiting[run.char] += 1


# -- splitting -----------------------------------------------------------------------------------

_TAG = re.compile(r"<(/?)([A-Za-z][\w-]*)[^<>]*>")


class _TooBig(JoelclawError):
    """A single tag or entity, with its enclosing tags, exceeds the chunk limit."""


@dataclass(frozen=True, slots=True)
class _Unit:
    """A piece of HTML with the tags open before and after it (as full opening-tag strings)."""

    text: str
    before: tuple[str, ...]
    after: tuple[str, ...]


def split_message(html_text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Chunks of at most `limit` characters, each valid HTML, cut at line boundaries when possible.

    A block whose tags span lines (a <pre> code block, a quote) stays whole if it fits in one
    chunk; a bigger one is cut between lines with its tags closed before the cut and re-opened
    after it. A line longer than a chunk is cut between words, then between characters. If even
    one tag with the tags around it cannot fit (a huge link URL, absurd nesting), the message is
    split as escaped plain text instead: losing formatting beats losing the message.
    """
    if limit < 32:
        raise ValueError("limit must be at least 32 characters")
    text = html_text.strip("\n")
    if len(text) <= limit:
        return [text] if strip_html(text).strip() else []
    try:
        units = [piece for block in _blocks(text) for piece in _fragments(block, limit, 0)]
    except _TooBig:
        units = _units(_words(_esc(strip_html(text))), ())
    return [chunk for chunk in _pack(units, limit) if strip_html(chunk).strip()]


def strip_html(html_text: str) -> str:
    """Plain text for the fallback when Telegram rejects HTML: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^<>]*>", "", html_text))


def _blocks(text: str) -> list[_Unit]:
    """Lines merged so that no tag is open across a block boundary."""
    blocks: list[_Unit] = []
    group: list[_Unit] = []
    for line in _units(_lines(text), ()):
        group.append(line)
        if not line.after:
            blocks.append(_merge(group))
            group = []
    if group:
        blocks.append(_merge(group))
    return blocks


def _fragments(unit: _Unit, limit: int, level: int) -> list[_Unit]:
    """`unit` itself if it fits in a chunk, else its lines, words or characters that do."""
    if len(_render([unit])) <= limit:
        return [unit]
    if level == len(_FINER):
        raise _TooBig
    pieces = _units(_FINER[level](unit.text), unit.before)
    return [fragment for piece in pieces for fragment in _fragments(piece, limit, level + 1)]


def _pack(units: list[_Unit], limit: int) -> list[str]:
    """Greedily fill chunks with whole units (each fits alone, as `_fragments` ensured)."""
    chunks: list[str] = []
    current: list[_Unit] = []
    size = 0
    for unit in units:
        head = len(_opening(current[0].before)) if current else 0
        if current and head + size + len(unit.text) + len(_closing(unit.after)) > limit:
            chunks.append(_render(current))
            current, size = [], 0
        current.append(unit)
        size += len(unit.text)
    if current:
        chunks.append(_render(current))
    return chunks


def _render(units: list[_Unit]) -> str:
    body = "".join(unit.text for unit in units).strip("\n")
    return _opening(units[0].before) + body + _closing(units[-1].after)


def _lines(text: str) -> list[str]:
    return [line for line in re.split(r"(?<=\n)", text) if line]


def _words(text: str) -> list[str]:
    return re.findall(r"<[^<>]*>|&#?\w{1,10};|[^<&\s]*\s+|[^<&\s]+|[<&]", text)


def _chars(text: str) -> list[str]:
    tokens = re.findall(r"<[^<>]*>|&#?\w{1,10};|[^<&]+|[<&]", text)
    return [p for t in tokens for p in ([t] if t.startswith(("<", "&")) and len(t) > 1 else t)]


_FINER: tuple[Callable[[str], list[str]], ...] = (_lines, _words, _chars)


def _units(pieces: list[str], stack: tuple[str, ...]) -> list[_Unit]:
    units = []
    for piece in pieces:
        after = _stack_after(piece, stack)
        units.append(_Unit(piece, stack, after))
        stack = after
    return units


def _merge(units: list[_Unit]) -> _Unit:
    return _Unit("".join(u.text for u in units), units[0].before, units[-1].after)


def _stack_after(piece: str, stack: tuple[str, ...]) -> tuple[str, ...]:
    opened = list(stack)
    for m in _TAG.finditer(piece):
        if not m.group(1):
            opened.append(m.group(0))
        elif opened and _tag_name(opened[-1]) == m.group(2).lower():
            opened.pop()
    return tuple(opened)


def _tag_name(opening: str) -> str:
    m = _TAG.match(opening)
    return m.group(2).lower() if m else ""


def _opening(stack: tuple[str, ...]) -> str:
    return "".join(stack)


def _closing(stack: tuple[str, ...]) -> str:
    return "".join(f"</{_tag_name(tag)}>" for tag in reversed(stack))
