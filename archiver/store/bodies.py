"""How bodies are stored: ``body_markdown`` is NULL when it equals ``body_text``.

Most comments are plain paragraphs, whose Markdown is their text; storing both made a third of
each comment row a copy (a 2,000-comment thread was 2.6x its raw JSON). NULL there means "the
same as body_text", and every reader gets the full value back: ``full`` for rows (the JSONL
export), ``MARKDOWN`` in SQL, the Datasette plugin shows body_text in the cell. Rows written
before keep their copy and read the same. Content hashes are of what the site sent, so nothing
is rewritten when an archive is re-run.
"""

from __future__ import annotations

import dataclasses

from archiver.kernel.text import Body

# Tables with body_html / body_markdown / body_text.
TABLES = ("posts", "comments", "item_versions")
MARKDOWN = "COALESCE(body_markdown, body_text)"


def compact(table: str, row: dict) -> dict:
    """The row as stored: without a Markdown that only repeats the text."""
    if (table in TABLES and row.get("body_markdown") is not None
            and row["body_markdown"] == row.get("body_text")):
        return {**row, "body_markdown": None}
    return row


def full(table: str, row: dict) -> dict:
    """The row as read: body_markdown filled in from body_text where it was not stored."""
    if (table in TABLES and "body_markdown" in row and row["body_markdown"] is None
            and row.get("body_text") is not None):
        row["body_markdown"] = row["body_text"]
    return row


def keep_site_markdown(body: Body, sent_markdown: str | None, old: dict | None) -> Body:
    """``body`` with the archived Markdown kept when the record brought none of its own and the
    HTML is what is archived: ForumMagnum sends its own Markdown, GreaterWrong's pages only HTML,
    and a refresh through GreaterWrong must not replace the site's Markdown with archiver's
    rendering of the same HTML (nor keep a "version" that differs only in that)."""
    if (sent_markdown is None and old is not None and old.get("body_markdown") is not None
            and body.html and body.html == old.get("body_html")):
        return dataclasses.replace(body, markdown=old["body_markdown"])
    return body
