"""Text extraction, chunking and where a document may come from, on real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from joelclaw.docs import backlog, chunk, extract, source
from joelclaw.docs.model import DocumentSkipped
from tests.conftest import make_settings
from tests.docs.pdf import one_page_pdf

HTML = b"""<!doctype html><html><head><title>Grind  Size</title>
<style>body { color: red }</style><script>var secretWord = "zanzibar";</script></head>
<body><h1>Dialing in</h1><p>Finer grind, slower shot &amp; more body.</p>
<ul><li>Ristretto</li><li>Lungo</li></ul></body></html>"""


def test_html_becomes_text_without_scripts_or_styles() -> None:
    done = extract.extract(HTML, "page.html")
    assert done.kind == "html" and done.title == "Grind Size"
    assert "Finer grind, slower shot & more body." in done.text
    assert "Ristretto\n" in done.text and "Lungo" in done.text
    assert "zanzibar" not in done.text and "color" not in done.text


def test_markdown_takes_its_title_from_front_matter_or_the_first_heading() -> None:
    front = extract.extract(b"---\ntitle: 'Beans'\n---\n# Other\nSee [the roaster](http://x).",
                            "a.md")
    assert front.title == "Beans" and "See the roaster." in front.text and "http" not in front.text
    heading = extract.extract("# Café notes\n\nCrema.".encode(), "b.markdown")
    assert heading.title == "Café notes" and heading.kind == "markdown"
    plain = extract.extract(b"just words", "my_notes-file.txt")
    assert plain.title == "my notes file" and plain.text == "just words"


def test_a_pdf_with_text_is_read_and_bad_ones_are_clear_skips() -> None:
    done = extract.extract(one_page_pdf("Portafilter baskets", "Baskets"), "x.pdf")
    assert done.kind == "pdf" and done.title == "Baskets" and done.text == "Portafilter baskets"
    with pytest.raises(DocumentSkipped, match="not a readable PDF"):
        extract.extract(b"%PDF-1.4 garbage", "broken.pdf")
    with pytest.raises(DocumentSkipped, match="no text layer"):
        extract.extract(one_page_pdf(""), "scan.pdf")


def test_unsupported_and_binary_documents_are_skipped_with_the_reason() -> None:
    with pytest.raises(DocumentSkipped, match=r"unsupported document type \(\.docx\)"):
        extract.extract(b"PK..", "report.docx")
    with pytest.raises(DocumentSkipped, match="looks binary"):
        extract.extract(b"abc\x00def", "weird.txt")
    with pytest.raises(DocumentSkipped, match="has no text"):
        extract.extract(b"   \n\n ", "empty.md")
    assert extract.kind_of("page", "text/html") == "html"  # a URL's media type decides


def test_chunks_are_bounded_overlapping_and_deterministic() -> None:
    paragraphs = [f"Paragraph {n} talks about shot {n} in some detail. " * 3 for n in range(20)]
    text = "\n\n".join(paragraphs)
    first = chunk.chunks(text, 300, 40)
    assert first == chunk.chunks(text, 300, 40)
    assert len(first) > 5 and all(len(c) <= 300 + 40 for c in first)
    joined = " ".join(first)
    assert all(f"Paragraph {n} " in joined for n in range(20))
    assert first[1].split()[0] in first[0][-60:], "a chunk starts with the previous one's tail"
    long = chunk.chunks("word " * 1000, 200, 0)
    assert all(len(c) <= 200 for c in long) and sum(c.count("word") for c in long) == 1000


def test_paths_must_stay_inside_the_docs_folder_and_urls_on_allowed_hosts(
        tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "sub" / "a.md").write_text("# A")
    (tmp_path / "outside.md").write_text("# secret")
    (docs / "link.md").symlink_to(tmp_path / "outside.md")
    s = make_settings(tmp_path / "home", "redis://127.0.0.1:1", docs_dir=docs,
                      docs_fetch_hosts="example.org,127.0.0.1:8080")
    found = source.locate(s, path="sub/a.md")
    assert found.rel == "sub/a.md" and found == source.locate(s, path=str(docs / "sub/a.md"))
    for bad in ("../outside.md", "link.md", str(tmp_path / "outside.md")):
        with pytest.raises(DocumentSkipped, match="outside the docs folder"):
            source.locate(s, path=bad)
    with pytest.raises(DocumentSkipped, match="no such file"):
        source.locate(s, path="sub/missing.md")
    assert source.locate(s, url="https://example.org/x.html").kind == "url"
    assert source.locate(s, url="http://127.0.0.1:8080/x").kind == "url"
    with pytest.raises(DocumentSkipped, match="not in JOELCLAW_DOCS_FETCH_HOSTS"):
        source.locate(s, url="http://127.0.0.1:9999/x")
    unset = make_settings(tmp_path / "home", "redis://127.0.0.1:1")
    with pytest.raises(DocumentSkipped, match="JOELCLAW_DOCS_DIR"):
        source.locate(unset, path="a.md")
    with pytest.raises(DocumentSkipped, match="JOELCLAW_DOCS_FETCH_HOSTS"):
        source.locate(unset, url="https://example.org/x")


def test_the_backlog_lists_supported_visible_files_and_plans_batches(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    for rel in ("b.md", "a.txt", "books/c.pdf", "books/d.html", ".hidden/e.md", "f.docx",
                ".g.md"):
        (docs / rel).parent.mkdir(parents=True, exist_ok=True)
        (docs / rel).write_text("x")
    s = make_settings(tmp_path / "home", "redis://127.0.0.1:1", docs_dir=docs)
    files = backlog.list_folder(s)
    assert files == ["a.txt", "b.md", "books/c.pdf", "books/d.html"]
    assert backlog.list_folder(s, "books") == ["books/c.pdf", "books/d.html"]
    with pytest.raises(DocumentSkipped, match="outside"):
        backlog.list_folder(s, "..")
    batches = backlog.plan(files, {"b.md"}, only_missing=True, max_entries=None, batch_size=2,
                           idempotency_key="k")
    assert [[e["data"]["path"] for e in b] for b in batches] == [["a.txt", "books/c.pdf"],
                                                                 ["books/d.html"]]
    assert batches[1][0]["data"] == {"path": "books/d.html", "idempotency_key": "k",
                                     "tags": ["books"]}
    assert len(backlog.plan(files, set(), only_missing=False, max_entries=3, batch_size=10,
                            idempotency_key="k")[0]) == 3
