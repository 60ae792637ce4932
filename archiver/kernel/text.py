"""Bodies three ways: sanitised HTML, Markdown and plain text.

Sanitising uses nh3 (the Rust ``ammonia`` sanitiser): an allow-list, so scripts, styles, iframes,
``on*`` handlers and ``javascript:``/``data:`` links cannot survive whatever tricks the input plays.
Markdown comes from html-to-markdown (a Rust converter, ~6x faster than markdownify, which
dominated ingest time) with markdownify for the rare bodies holding spoilers (``>!`` blocks, which
must not read as quotes); plain text from lxml, with block elements on their own lines and
blockquotes kept as ``> `` lines, so quotes survive in all three.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass

import html_to_markdown as html_to_markdown_rs
import lxml.html
import nh3

from archiver.kernel.display import URL_SCHEMES

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li",
    "ol", "p", "pre", "q", "s", "section", "small", "span", "strong", "sub", "summary", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "aside", "cite", "mark",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "div": {"class"},
    "span": {"class"},
    "section": {"class", "display-name", "user-id", "user-order"},
    "aside": {"class", "data-username", "data-post", "data-topic"},
    "blockquote": {"cite", "class"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "ol": {"start"},
    "code": {"class"},
    "pre": {"class"},
}
BLOCK_TAGS = {
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table", "tr",
    "section", "figure", "figcaption", "hr", "dd", "dt", "details", "summary", "aside",
}


# Nesting deeper than this is flattened before parsing: html5ever (nh3) scans its stack of open
# elements on each tag (quadratic in depth: a 2 MB comment nested 80,000 deep took 90 s), lxml
# stops at 255 levels and drops what lies below, and every level of quote costs a "> " per line
# of Markdown and of plain text. Words are kept; only the tags past these depths go.
MAX_DEPTH = 100
MAX_QUOTE_DEPTH = 16  # blockquotes within blockquotes
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
             "source", "track", "wbr"}
# Tags a new one of the same kind closes implicitly (HN never closes its <p>).
SELF_CLOSING_SIBLINGS = {"p", "li", "dt", "dd", "tr", "td", "th", "option"}
_QUOTE_TAG = re.compile(r"<blockquote", re.I)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")


def flatten_deep(html: str, limit: int = MAX_DEPTH) -> str:
    """``html`` with the tags nested deeper than ``limit`` removed (block tags become newlines),
    and the blockquotes nested deeper than ``MAX_QUOTE_DEPTH``.

    One linear pass over the tags with a stack of open elements, forgiving as browsers are:
    a closing tag closes up to its opening one, a stray closing tag is left alone.
    """
    if html.count("<") <= limit and len(_QUOTE_TAG.findall(html)) <= MAX_QUOTE_DEPTH:
        return html  # cannot be that deep
    out: list[str] = []
    stack: list[tuple[str, bool]] = []  # (tag, kept)
    open_count: dict[str, int] = {}
    quotes = 0  # kept blockquotes open
    pos = 0
    for match in _TAG.finditer(html):
        closing, name = match.group(1), match.group(2).lower()
        keep = True
        if name in VOID_TAGS or match.group(3).rstrip().endswith("/"):
            pass
        elif not closing:
            if name in SELF_CLOSING_SIBLINGS and stack and stack[-1][0] == name:
                _pop(stack, open_count)
            keep = len(stack) < limit and (name != "blockquote" or quotes < MAX_QUOTE_DEPTH)
            stack.append((name, keep))
            open_count[name] = open_count.get(name, 0) + 1
            quotes += keep and name == "blockquote"
        elif open_count.get(name):
            while True:  # pops are paid for by their pushes: linear overall
                top, keep = _pop(stack, open_count)
                quotes -= keep and top == "blockquote"
                if top == name:
                    break
        out.append(html[pos:match.start()])
        if keep:
            out.append(match.group(0))
        elif name in BLOCK_TAGS or name == "blockquote":
            out.append("\n")  # keeps words apart, adds no element
        pos = match.end()
    out.append(html[pos:])
    return "".join(out)


def _pop(stack: list[tuple[str, bool]], open_count: dict[str, int]) -> tuple[str, bool]:
    name, kept = stack.pop()
    open_count[name] -= 1
    return name, kept


@dataclass
class Body:
    html: str | None
    markdown: str | None
    text: str | None


def sanitize_html(html: str | None) -> str | None:
    if not html:
        return html
    return _clean(flatten_deep(html))


# Built once: ``nh3.clean`` builds its sanitiser anew on each call, ten times the cost of cleaning
# a comment with a prepared one.
_CLEANER = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes=URL_SCHEMES,
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)


def _clean(html: str) -> str:
    return _CLEANER.clean(html)


@functools.cache
def _spoiler_converter():
    """markdownify with ATX headings and '*' bullets, and spoilers kept out of quotes.

    Imported on first use: markdownify (with bs4 and soupsieve, ~60 ms to import) serves only
    the rare bodies holding spoilers."""
    from markdownify import MarkdownConverter

    class _Markdown(MarkdownConverter):
        def convert_div(self, el, text, *args, **kwargs):
            if "spoilers" in (el.get("class") or []):
                lines = [line for line in text.strip().splitlines() if line.strip()]
                return "\n\n" + "\n".join(">! " + line for line in lines) + "\n\n"
            return super().convert_div(el, text, *args, **kwargs) if hasattr(
                super(), "convert_div") else text

    return _Markdown(heading_style="ATX", bullets="*", escape_underscores=False,
                     escape_asterisks=False)


def html_to_markdown(html: str | None) -> str | None:
    if not html:
        return html
    return _markdown(flatten_deep(html))


def _markdown(html: str) -> str:
    if "spoilers" in html:
        markdown = _spoiler_converter().convert(html)
    else:
        markdown = html_to_markdown_rs.convert(html).content or ""
    return _squeeze_blank_lines(markdown).strip()


def html_to_text(html: str | None) -> str | None:
    """Readable plain text: paragraphs separated by blank lines, quotes as '> ' lines."""
    if not html or not html.strip():
        return "" if html is not None else None
    return _text(flatten_deep(html))


_BLANK_LINES = re.compile(r"\n{3,}")
# Runs of spaces, tabs and no-break spaces become one space. A lone space is already that: the
# pattern leaves it alone (matching each one made this the costliest step of plain text).
_SPACES = re.compile(r"[ \t\u00a0]{2,}|[\t\u00a0]")


def _squeeze_blank_lines(text: str) -> str:
    """At most one blank line in a row (most bodies have none to squeeze: no regex pass then)."""
    return _BLANK_LINES.sub("\n\n", text) if "\n\n\n" in text else text


def _text(html: str) -> str:
    try:
        root = _fragment(html)
    except (lxml.etree.ParserError, ValueError):
        return re.sub(r"<[^>]+>", " ", html).strip()
    parts: list[str] = []
    _walk_text(root, parts)
    return _tidy_lines("".join(parts))


_HTML_PARSER = lxml.etree.HTMLParser()
_FULL_DOCUMENT = re.compile(r"^\s*<(?:html|!doctype)", re.I)  # as lxml.html tells them apart


def _fragment(html: str):
    """The body of ``html`` parsed as a fragment (or as the document it is): what
    ``lxml.html.fragment_fromstring`` gave, without its element classes and its copy of the
    body into a new root (half the cost of the parse), and without its AssertionError on a
    document that has no body (``<html>``): that has no text."""
    if not _FULL_DOCUMENT.match(html):
        html = f"<html><body>{html}</body></html>"
    root = lxml.etree.fromstring(html, _HTML_PARSER)
    if root is None:
        raise lxml.etree.ParserError("Document is empty")
    body = root.find("body")
    if body is None:
        return lxml.etree.Element("body")
    body.tail = None  # text after the body was never part of the fragment
    return body


def _tidy_lines(text: str) -> str:
    """Whitespace runs as one space, lines stripped, at most one blank line in a row.

    One pass over the lines rather than regex passes over the characters: every body has blank
    lines to squeeze (each block adds two newlines on either side), few have runs of spaces.
    """
    if "  " in text or "\t" in text or "\u00a0" in text:
        text = _SPACES.sub(" ", text)
    lines: list[str] = []
    blank = False
    for line in text.split("\n"):
        line = line.strip()
        if line or not blank:
            lines.append(line)
        blank = not line
    return "\n".join(lines).strip()


def _walk_text(el, parts: list[str], quote_depth: int = 0) -> None:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in ("script", "style"):
        _tail(el, parts, quote_depth)
        return
    if tag == "blockquote":
        inner: list[str] = []
        if el.text:
            inner.append(el.text)
        for child in el:
            _walk_text(child, inner)
        quoted = _squeeze_blank_lines("".join(inner)).strip()
        # Each line gets "> "; the spaces this leaves are collapsed for the whole text at the end
        # (str.replace, not a loop over lines: quotes nest, and this runs once per level).
        parts.append("\n\n> " + quoted.replace("\n", "\n> ") + "\n\n")
        _tail(el, parts, quote_depth)
        return
    block = tag in BLOCK_TAGS
    if block:
        parts.append("\n\n" if tag not in ("br", "li", "tr") else "\n")
    if tag == "li":
        parts.append("- ")
    elif tag in ("td", "th"):
        parts.append(" | ")
    if el.text:
        parts.append(el.text)
    for child in el:
        _walk_text(child, parts, quote_depth)
    if block and tag not in ("br", "li", "tr"):
        parts.append("\n\n")
    _tail(el, parts, quote_depth)


def _tail(el, parts: list[str], quote_depth: int) -> None:
    if el.tail:
        parts.append(el.tail)


def markdown_to_html(markdown: str, depth: int = 0) -> str:
    """Minimal Markdown rendering for bodies that only exist as Markdown (paragraphs, quotes).

    Quotes nest up to ``MAX_DEPTH``; deeper ``>`` stay as text (a body of 1,000 ``>`` is text).
    """
    blocks = re.split(r"\n\s*\n", markdown.strip())
    out = []
    for block in blocks:
        lines = block.split("\n")
        if depth >= MAX_DEPTH:
            out.append(_paragraph(block))
        elif all(line.lstrip().startswith(">!") for line in lines if line.strip()):
            # ForumMagnum's spoiler syntax: hidden text, not a quote.
            inner = "\n".join(re.sub(r"^\s*>!\s?", "", line) for line in lines)
            out.append(f'<div class="spoilers">{markdown_to_html(inner, depth + 1)}</div>')
        elif all(line.lstrip().startswith(">") for line in lines if line.strip()):
            inner = "\n".join(re.sub(r"^\s*>\s?", "", line) for line in lines)
            out.append(f"<blockquote>{markdown_to_html(inner, depth + 1)}</blockquote>")
        else:
            out.append(_paragraph(block))
    return "".join(out)


def _paragraph(block: str) -> str:
    escaped = block.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "<p>" + escaped.replace("\n", "<br>") + "</p>"


def convert(html: str | None, markdown: str | None = None) -> Body:
    """The three renderings of a body. Upstream Markdown is used when the site supplies it."""
    if not html and markdown:
        html = markdown_to_html(markdown)
    if not html:
        return Body(html=html, markdown=markdown or html_to_markdown(html), text=html_to_text(html))
    # Flattened once: what nh3 gives back from a flat body is flat (it only drops tags).
    safe = _clean(flatten_deep(html))
    md = markdown if markdown else (_markdown(safe) if safe else safe)
    return Body(html=safe, markdown=md, text=html_to_text(safe) if not safe.strip() else _text(safe))


def content_hash(*parts: str | None) -> str:
    digest = hashlib.sha1()
    for part in parts:
        digest.update((part or "").encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


def fold(text: str) -> str:
    """Case-folded without accents or compatibility forms (ligatures, full-width letters, ß):
    the one fold for comparing names, titles, slugs and quotes."""
    text = text.casefold()
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
