"""HTML helpers for the reading room: sanitising, http(s)-only URLs, thread trees, quote links.

Bodies are stored sanitised already; they go through ``sanitize_html`` again at display (defence
in depth). Everything here is pure: strings and rows in, ``Markup`` out.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import lxml.html
from markupsafe import Markup, escape

from archiver.analysis.stance import STANCES
from archiver.kernel import display
from archiver.kernel.text import sanitize_html

# Private-use characters mark FTS snippet highlights, so snippets can be escaped before marking.
HIGHLIGHT_OPEN, HIGHLIGHT_CLOSE = "\ue000", "\ue001"
MAX_INDENT = 8  # deeper replies stop indenting so a deep thread still fits a phone screen


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s) with a host, else None: the only URLs that become links here (the
    reading room links no mail addresses)."""
    return display.safe_url(url, mail=False)


def link(url: str | None, text: str, css: str = "") -> Markup:
    """An external link when the URL is http(s), else the text alone (escaped either way)."""
    target = safe_url(url)
    if not target:
        return Markup(escape(text))
    klass = f' class="{escape(css)}"' if css else ""
    return Markup(f'<a href="{escape(target)}"{klass} rel="noopener noreferrer nofollow">'
                  f"{escape(text)}</a>")


def path_part(value) -> str:
    """An id as one URL path segment (ids hold ':' and '/')."""
    return quote(str(value), safe="")


def anchor(item_id: str) -> str:
    """The HTML id of an item on a thread page: a stable, CSS-safe form of its id."""
    return "i-" + re.sub(r"[^A-Za-z0-9_-]", "_", str(item_id))


def body(html: str | None, quotes: list[dict] = (), passages: list[str] = ()) -> Markup:
    """A stored body for display: quotes linked, quoted passages marked, then sanitised again
    (the last step, so nothing added above can bring in markup the allow-list rejects)."""
    html = link_quotes(html or "", list(quotes))
    html = mark_passages(html, list(passages))
    return Markup(sanitize_html(html) or "")


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip().lower()


def link_quotes(html: str, quotes: list[dict]) -> str:
    """Mark each blockquote that matches an exchange: a link under it to the quoted item.

    ``quotes`` holds dicts with ``quote`` (its text), ``href``, ``label`` and ``stance`` (the
    reply's, shown as a badge). A blockquote matches
    when one text contains the other (after whitespace and case folding). Only bodies that quote
    something are parsed, so a long thread costs one parse per quoting comment.
    """
    if not html or not quotes:
        return html
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for block in root.iter("blockquote"):
        text = normalise(block.text_content())
        for q in quotes:
            wanted = normalise(q["quote"])
            if wanted and text and (wanted in text or text in wanted):
                block.set("class", "quoted-source")
                note = lxml.html.fragment_fromstring(
                    f'<div class="quote-link"><a href="{escape(q["href"])}">'
                    f"↑ quoting {escape(q['label'])}</a>{badge(q.get('stance'))}</div>")
                block.addnext(note)
                break
    return (root.text or "") + "".join(
        lxml.html.tostring(child, encoding="unicode") for child in root)


def badge(stance: str | None) -> Markup:
    """The reply's stance as a small label (nothing for an unknown value: it becomes a class)."""
    if stance not in STANCES:
        return Markup("")
    return Markup(f' <span class="stance stance-{stance}">{stance}</span>')


def mark_passages(html: str, passages: list[str]) -> str:
    """Wrap the first verbatim occurrence of each quoted passage in <mark>."""
    for passage in passages:
        needle = str(escape(passage.strip()))
        if len(needle) >= 12 and needle in html:
            html = html.replace(needle, f"<mark>{needle}</mark>", 1)
    return html


def snippet(text: str | None) -> Markup:
    """An FTS snippet with highlight markers turned into <mark>, everything else escaped."""
    escaped = str(escape(text or ""))
    return Markup(escaped.replace(HIGHLIGHT_OPEN, "<mark>").replace(HIGHLIGHT_CLOSE, "</mark>"))


def indent(depth) -> int:
    try:
        return max(0, min(int(depth or 0), MAX_INDENT))
    except (TypeError, ValueError):
        return 0


def short(text: str | None, limit: int = 240) -> str:
    text = re.sub(r"\s+", " ", text or "").strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
