"""Function descriptions rendered from Markdown safely: everything is escaped first, only the
markup recognised here is added, links only to http(s)."""

from __future__ import annotations

from webhooks.dashboard.markdown import render


def test_markup_paragraphs_lists_code_links() -> None:
    html = str(render("""Send **bold** and `code` with a [guide](https://x.y/a?b=1&c=2).

        - one *item*
        - two
          continued
        After."""))
    assert html == ('<p>Send <b>bold</b> and <code>code</code> with a '
                    '<a href="https://x.y/a?b=1&amp;c=2" rel="noreferrer noopener">guide</a>.</p>'
                    "<ul><li>one <i>item</i></li><li>two continued</li></ul><p>After.</p>")


def test_raw_html_and_script_links_stay_text() -> None:
    html = str(render('<script>alert(1)</script> [x](javascript:alert(1)) '
                      '[y](https://a.b/"onmouseover="x) `<b>` **<i>**'))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html and "[x](javascript:alert(1))" in html
    assert "onmouseover=\"" not in html
    assert "<code>&lt;b&gt;</code>" in html and "<b>&lt;i&gt;</b>" in html
    assert "<i>" not in str(render("2*3*4 and a_b_c"))
