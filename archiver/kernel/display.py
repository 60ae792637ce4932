"""Upstream text made safe to show: as a link, in Markdown, in HTML, on a terminal.

Titles, names and URLs come from sites archiver does not control. Every place that turns them
into output goes through these helpers, so the rules live in one module:

- ``safe_url``: a URL becomes a link only if it is absolute http(s) with a host, or mailto (the
  same schemes archiver.kernel.text lets through in stored bodies); anything else (``javascript:``,
  ``data:``, relative or protocol-relative URLs, which a report file would resolve against
  ``file://``) is never a link.
- ``md_escape`` / ``md_link``: text that cannot turn into Markdown links, images, HTML or
  headings, and link destinations that cannot break out of their parentheses.
- ``html_escape`` / ``html_link``: the same for HTML reports.
- ``clean_terminal``: no escape sequences (CSI, OSC, ...), C0/C1 controls or bidi overrides reach
  a terminal; newlines and tabs stay where text is meant to span lines.
"""

from __future__ import annotations

import html
import json
import re
from urllib.parse import urlsplit

# The only schemes a link may have, here and in sanitised HTML (archiver.kernel.text uses this set):
# kept here, not in archiver.kernel.text, so showing a link never loads the HTML converters.
URL_SCHEMES = {"http", "https", "mailto"}

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_URL_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def safe_url(url: object, mail: bool = True) -> str | None:
    """``url`` if it may become a link (http(s) with a host, or mailto unless ``mail`` is False),
    else None."""
    if not isinstance(url, str):
        return None
    # Browsers drop leading/trailing spaces and controls before reading the scheme.
    value = url.strip(" \t\n\r\f\v\x00")
    if not value or _URL_CONTROLS.search(value):
        return None
    match = _SCHEME.match(value)
    if not match or match.group(1).lower() not in URL_SCHEMES:
        return None
    if match.group(1).lower() == "mailto":
        return value if mail and len(value) > len("mailto:") else None
    try:
        host = urlsplit(value).hostname
    except ValueError:  # e.g. an invalid IPv6 literal
        return None
    return value.replace(" ", "%20") if host else None


# -- Markdown ----------------------------------------------------------------------------------

# Backslash-escaped, these cannot open a link, an image ("![" needs the "["), an autolink, raw
# HTML, code, emphasis, a heading, a table cell or (where a renderer supports it) $math$.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|$])")
# Percent-encoded in a link destination: they could end it early or start a title.
_MD_DESTINATION = {"(": "%28", ")": "%29", "<": "%3C", ">": "%3E", " ": "%20", "\\": "%5C",
                   '"': "%22", "'": "%27"}


def md_escape(text: object) -> str:
    """Plain text as one line of Markdown: control characters dropped, markup escaped."""
    flat = " ".join(clean_terminal(str(text) if text is not None else "").split())
    return _MD_SPECIAL.sub(r"\\\1", flat)


def md_url(url: object) -> str | None:
    """A safe URL written so it can stand in ``[text](url)``, or None."""
    value = safe_url(url)
    if value is None:
        return None
    return "".join(_MD_DESTINATION.get(ch, ch) for ch in value)


def md_link(label: object, url: object) -> str:
    """``[label](url)``, or just the escaped label when the URL may not be a link."""
    target = md_url(url)
    return f"[{md_escape(label)}]({target})" if target else md_escape(label)


# -- HTML --------------------------------------------------------------------------------------


def html_escape(text: object) -> str:
    """Text for HTML element content or a quoted attribute, control characters dropped."""
    return html.escape(clean_terminal(str(text) if text is not None else ""), quote=True)


def html_link(label_html: str, url: object, css_class: str | None = None) -> str:
    """``<a href=…>label</a>`` for a safe URL, else the label alone (already HTML)."""
    target = safe_url(url)
    if not target:
        return label_html
    attribute = f" class='{css_class}'" if css_class else ""
    return f"<a{attribute} href='{html.escape(target, quote=True)}'>{label_html}</a>"


# -- terminal ----------------------------------------------------------------------------------

_ESCAPE_SEQUENCES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI: colours, cursor moves, screen clearing
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: window titles, hyperlinks, clipboard
    r"|\x1b[PX^_][^\x1b]*\x1b\\"  # DCS, SOS, PM, APC strings
    r"|\x1b[ -/]*[0-~]?"  # any other escape sequence (and an unterminated OSC's opening)
)
# C0 controls but tab and newline, DEL, C1 controls, and the bidi embeddings, overrides and
# isolates that make a terminal show text in another order than it is. 8-bit (C1) introducers
# are dropped alone: what followed them then shows as harmless text, and mis-decoded text that
# holds C1 characters loses nothing else.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def clean_terminal(text: str) -> str:
    """``text`` with no escape sequence or control character a terminal would act on.

    Newlines and tabs stay; a carriage return (which lets text overwrite a line) goes.
    """
    if not text:
        return text
    return _CONTROLS.sub("", _ESCAPE_SEQUENCES.sub("", text.replace("\r\n", "\n")))


def one_line(text: object) -> str:
    """``text`` cleaned for a terminal and on one line: a title holding a newline cannot fake a
    line of output."""
    return " ".join(clean_terminal(str(text) if text is not None else "").split())


def safe_json(obj, indent: int | None = None) -> str:
    """``obj`` as JSON that is safe to print or ``cat``: the characters json.dumps leaves raw
    and a terminal acts on (DEL, C1 controls, bidi controls) are written as \\u escapes, so the
    data stays exact for whoever parses it."""
    return escape_unsafe(json.dumps(obj, ensure_ascii=False, indent=indent, default=str))


def escape_unsafe(json_text: str) -> str:
    """JSON text with DEL, C1 and bidi controls written as \\u escapes (same data when parsed)."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)
