"""Bodies three ways: sanitising, Markdown, text; hostile and odd input."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.kernel import text
from archiver.kernel.errors import UsageError
from archiver.kernel.text import convert, html_to_text, sanitize_html
from archiver.sources import resolve_thread
from archiver.sources.forummagnum import parse_thread_url, parse_user_url

HOSTILE = [
    '<script>alert(1)</script><p>ok</p>',
    '<p onclick="steal()" onmouseover="x()">ok</p>',
    '<a href="javascript:alert(1)">ok</a>',
    '<a href="JaVaScRiPt&#58;alert(1)">ok</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">ok</a>',
    '<iframe src="https://evil.example"></iframe><p>ok</p>',
    '<style>body{display:none}</style><p style="position:fixed;top:0">ok</p>',
    '<img src="x" onerror="alert(1)"><p>ok</p>',
    '<svg><script>alert(1)</script></svg><p>ok</p>',
    '<form action="https://evil.example"><input name="p"></form><p>ok</p>',
    '<p>ok</p><!-- <script>alert(1)</script> -->',
    '<object data="x.swf"></object><embed src="x"><p>ok</p>',
]
DANGEROUS = ["<script", "onclick", "onerror", "onmouseover", "javascript:", "data:text", "<iframe",
             "<style", "style=", "<svg", "<form", "<object", "<embed", "<!--"]


@pytest.mark.parametrize("html", HOSTILE)
def test_hostile_html_is_stored_harmless(html):
    body = convert(html)
    lowered = body.html.lower()
    for needle in DANGEROUS:
        assert needle not in lowered, (needle, body.html)
    assert "ok" in body.text
    for needle in ("<script", "javascript:", "onerror"):
        assert needle not in (body.markdown or "").lower()


def test_blockquotes_survive_in_all_three_renderings():
    body = convert("<p>Intro</p><blockquote><p>the quoted claim</p><blockquote><p>deeper</p>"
                   "</blockquote></blockquote><p>my answer</p>")
    assert "<blockquote><p>the quoted claim</p><blockquote>" in body.html
    assert "> the quoted claim" in body.markdown and "> > deeper" in body.markdown
    assert "> the quoted claim" in body.text and "> > deeper" in body.text
    assert body.text.endswith("my answer")


def test_spoilers_are_not_quotes():
    body = convert('<div class="spoilers"><p>the twist</p></div><p>after</p>')
    assert ">! the twist" in body.markdown
    assert "> the twist" not in body.text


def test_markdownify_is_imported_only_for_a_spoiler():
    """markdownify (with bs4) costs ~60 ms to import and serves only spoiler bodies: loading the
    text module, or converting an ordinary body, must not import it; a spoiler still converts."""
    script = (
        "import sys\n"
        "from archiver.kernel.text import convert\n"
        "heavy = lambda: sorted(m for m in ('markdownify', 'bs4') if m in sys.modules)\n"
        "convert('<p>plain</p><blockquote><p>quoted</p></blockquote>')\n"
        "print(heavy())\n"
        "print(convert('<div class=\"spoilers\"><p>the twist</p></div>').markdown)\n"
        "print(heavy())\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=root, check=True, timeout=60).stdout.splitlines()
    assert out == ["[]", ">! the twist", "['bs4', 'markdownify']"]


@given(st.text(alphabet=" \t\u00a0\u2028\r\nab>", max_size=60))
def test_plain_text_whitespace_is_tidied_as_the_regex_passes_did(value):
    """``_tidy_lines`` (one pass over the lines) gives what the three passes it replaced gave:
    runs of spaces, tabs and no-break spaces as one space, lines stripped, blank lines squeezed."""
    lines = [line.strip() for line in re.sub(r"[ \t\u00a0]+", " ", value).split("\n")]
    assert text._tidy_lines(value) == re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


SOUP = st.lists(st.sampled_from([
    "<p>", "</p>", "<blockquote>", "</blockquote>", "<br>", "<li>", "<ul>", "</ul>", "<td>", "<tr>",
    "<table>", "<!-- c -->", "<script>s</script>", "<style>x</style>", "<b>", "</b>", "a", "b c",
    " ", "\n", "\t", "\u00a0", "&amp;", "<", ">", "</body>", "<body>", "<head>", "<title>t</title>",
    "</html>", "<html>", "<!doctype html>", "<pre>  x\n  y</pre>", "\x00", "<?pi x?>", "<h1>", "é",
]), max_size=16).map("".join)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(SOUP)
def test_plain_text_parses_fragments_as_lxml_html_did(value):
    """``_fragment`` skips lxml.html's element classes and copy; the text must be what
    ``lxml.html.fragment_fromstring`` gave (where that did not fail on a body-less document)."""
    try:
        root = lxml.html.fragment_fromstring(value, create_parent="div")
    except AssertionError:  # "<html>" alone: no body (see the next test)
        return
    except (lxml.etree.ParserError, ValueError):
        expected = re.sub(r"<[^>]+>", " ", value).strip()
    else:
        parts: list[str] = []
        text._walk_text(root, parts)
        expected = text._tidy_lines("".join(parts))
    assert text._text(value) == expected


def test_a_document_without_a_body_has_no_text():
    """lxml.html asserted there was exactly one body: a feed summary of "<html>" raised."""
    assert html_to_text("<html>") == ""
    assert html_to_text("<html><head><title>t</title></head></html>") == ""
    assert html_to_text("<!doctype html><p>x</p>") == "x"


def test_the_one_sanitiser_serves_other_threads():
    """The nh3.Cleaner is built once, at import: Datasette and the reading room sanitise from
    their worker threads, so it must clean there too, with the same result."""
    from concurrent.futures import ThreadPoolExecutor

    body = '<p onclick="x()">ok<script>alert(1)</script> ' + "word " * 500 + "</p>"
    with ThreadPoolExecutor(4) as pool:
        results = set(pool.map(lambda _: sanitize_html(body), range(40)))
    assert results == {sanitize_html(body)}
    assert "script" not in results.pop()


def test_headings_and_lists_in_markdown():
    body = convert("<h2>Section</h2><ol><li>first</li><li>second</li></ol><p><em>x</em></p>")
    assert "## Section" in body.markdown and "1. first" in body.markdown
    assert "- first" in body.text and "- second" in body.text


def test_markdown_only_bodies_get_html_and_text():
    body = convert(None, "> quoted line\n\nmy reply <script>x</script>")
    assert "<blockquote>" in body.html and "<script" not in body.html
    assert body.text.startswith("> quoted line")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_conversion_never_raises_on_arbitrary_text(raw):
    body = convert(raw)
    assert isinstance(body.text, str)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["<p>", "</p>", "<blockquote>", "</blockquote>", "<b>", "</b>",
                                 "<a href='javascript:x'>", "</a>", "<script>", "</script>",
                                 "<li>", "<ul>", "</ul>", "&amp;", "&#0;", "text ", "\u202e",
                                 "<br>", "<div class='spoilers'>", "</div>"]), max_size=30))
def test_sanitising_is_idempotent_and_safe(parts):
    html = "".join(parts)
    once = sanitize_html(html)
    assert sanitize_html(once) == once
    assert "<script" not in once and "javascript:" not in once


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60)
       .filter(lambda s: s.strip() and "<" not in s and ">" not in s and "&" not in s))
def test_quote_text_is_never_lost(quote):
    text = html_to_text(f"<blockquote><p>{quote}</p></blockquote><p>reply</p>")
    words = quote.split()
    assert all(word in text for word in words)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_url_parsers_only_ever_raise_usage_errors(raw):
    for parse in (parse_thread_url, lambda u: parse_user_url(u, None)):
        try:
            parse(raw)
        except UsageError:
            pass
    try:
        resolve_thread(raw)
    except UsageError:
        pass


def test_markdown_spoilers_are_not_quotes():
    body = convert(None, ">! the twist\n\n> a real quote\n\nreply")
    assert '<div class="spoilers"><p>the twist</p></div>' in body.html
    assert "<blockquote><p>a real quote</p></blockquote>" in body.html
    assert "> the twist" not in body.text and "> a real quote" in body.text


# -- deep nesting: every word kept, in linear time -------------------------------------------


@pytest.mark.parametrize("opening,closing", [("<blockquote><p>w{i} deep</p>", "</blockquote>"),
                                             ("<div>w{i} deep", "</div>"),
                                             ("<span>w{i} <b>", "</b></span>")])
def test_every_word_is_kept_at_depth_1000(opening, closing):
    html = "".join(opening.format(i=i) for i in range(1000)) + "bottom" + closing * 1000
    body = text.convert(html)
    for rendering in (body.text, body.markdown, body.html):
        words = set(re.findall(r"w\d+|bottom", rendering))
        assert words == {f"w{i}" for i in range(1000)} | {"bottom"}


def test_a_markdown_body_of_1000_quote_marks_is_kept_as_text():
    markdown = ">" * 1000 + " the bottom line\n\n" + "> " * 1000 + "spaced out"
    body = text.convert(None, markdown)
    assert "the bottom line" in body.text and "spaced out" in body.text
    assert body.html.count("<blockquote>") <= 2 * text.MAX_DEPTH


def test_shallow_bodies_are_not_flattened():
    html = "<blockquote>" * 16 + "<p>x</p>" + "</blockquote>" * 16 + "<p>y</p>" * 200
    assert text.flatten_deep(html) == html
    deep = "<blockquote>" * 17 + "x" + "</blockquote>" * 17
    assert text.flatten_deep(deep).count("<blockquote>") == text.MAX_QUOTE_DEPTH


def test_flattening_survives_stray_and_unclosed_tags():
    html = "</div>" * 50 + "<p>a " * 300 + "".join(f"<i>w{i} " for i in range(300)) + "</i>" * 400
    words = set(text.convert(html).text.split())
    assert {"a"} | {f"w{i}" for i in range(300)} <= words
