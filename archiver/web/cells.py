"""Cell rendering for Datasette's own table, row and query pages.

- ``body_html`` (and ``bio_html``) shown rendered, sanitised again, in a height-capped box;
  the other renderings of the same text (``*_markdown``, ``*_text``, a digest's ``html`` and
  ``json``) folded into a ``<details>``, one click away.
- Linked ids (``post_id``, ``user_id``, ``topic_id``, ...) shown with the title or name they
  point to and a link into the reading room; the row page's own id too.
- A digest's ``markdown`` rendered with its chart served from ``/-/archiver/topic/ID/activity.png``
  instead of a relative image that cannot load, and without the embedded base64 copy.
"""

from __future__ import annotations

import json
import re

import markdown as markdown_lib
from markupsafe import Markup, escape

from archiver.kernel.text import sanitize_html
from archiver.store import bodies
from archiver.web import render
from archiver.web.pages import PREFIX

RENDERED = {"body_html", "bio_html"}
FOLDED = {"body_markdown", "body_text", "bio_markdown", "bio_text"}
DIGEST_FOLDED = {"html", "json"}
# table pointed to -> (label column, reading-room page or None)
TARGETS = {
    "posts": ("title", "thread"),
    "users": ("name", "person"),
    "topics": ("name", "topic"),
    "papers": ("title", None),
    "sites": ("name", None),
}
# Columns that hold one of those ids, also in views and canned queries (no declared key there).
ID_COLUMNS = {"post_id": "posts", "user_id": "users", "topic_id": "topics", "paper_id": "papers",
              "quoter_user_id": "users", "source_user_id": "users", "site_id": "sites",
              "forum_user_id": "users"}
CHART_REF = re.compile(r"!\[([^\]]*)\]\([^)\s]*-activity\.png\)")
EMBEDDED_IMG = re.compile(r"<img\b[^>]*\bsrc=['\"]data:[^>]*>", re.I)

BODY_SCRIPT = """
(function () {
  // Fold the long column descriptions so the first row is on the first screen.
  document.querySelectorAll('dl.column-descriptions').forEach(function (dl) {
    var details = document.createElement('details');
    details.className = 'archiver-columns';
    var summary = document.createElement('summary');
    summary.textContent = 'Column descriptions (' + dl.querySelectorAll('dt').length + ')';
    dl.parentNode.insertBefore(details, dl);
    details.appendChild(summary);
    details.appendChild(dl);
  });
  // Bring the title and the rendered body next to the row link, so a row's text is on the first
  // screen (display only: JSON, CSV and the column order in SQL are unchanged).
  document.querySelectorAll('table.rows-and-columns tr').forEach(function (tr) {
    ['col-body_html', 'col-title'].forEach(function (name) {
      var cell = tr.querySelector(':scope > .' + name);
      var first = tr.firstElementChild;
      if (cell && first && first !== cell) { first.after(cell); }
    });
  });
  // A table search is sorted by the table's default order: offer the ranked search with snippets.
  var searched = new URLSearchParams(location.search).get('_search');
  var form = document.querySelector('form.filters');
  if (searched && form) {
    var p = document.createElement('p');
    p.className = 'archiver-ranked';
    var link = document.createElement('a');
    link.href = READING_ROOM_URL + '/search?q=' + encodeURIComponent(searched);
    link.textContent = 'Search every table for \u201c' + searched + '\u201d, most relevant first';
    p.appendChild(link);
    form.parentNode.insertBefore(p, form);
  }
  var nav = document.querySelector('header nav');
  if (nav && !document.body.classList.contains('archiver')) {
    var a = document.createElement('a');
    a.className = 'archiver-home';
    a.href = READING_ROOM_URL;
    a.textContent = 'Reading room';
    nav.insertBefore(a, nav.firstChild);
  }
})();
"""


def script(home_url: str) -> str:
    return BODY_SCRIPT.replace("READING_ROOM_URL", json.dumps(home_url))


def cell(row, value, column, table, database, datasette):
    if column in RENDERED and isinstance(value, str):
        return Markup(f'<div class="archiver-cell-body">{sanitize_html(value) or ""}</div>')
    if column == "body_markdown" and value is None and table in bodies.TABLES:
        # Not stored because it equals the text (archiver.store.bodies): show that.
        return folded(_get(row, "body_text"), column)
    if column in FOLDED or (column in DIGEST_FOLDED and table == "summaries"):
        return folded(value, column)
    if column == "markdown" and isinstance(value, str) and value.startswith("# "):
        return digest_markdown(value, _get(row, "topic_id"), datasette)
    target = ID_COLUMNS.get(column) or (table if column == "id" and table in TARGETS else None)
    if target and value not in (None, ""):
        return _labelled(value, target, datasette, database, link_self=column == "id")
    return None


def folded(value, column: str) -> Markup | None:
    if not isinstance(value, str) or not value:
        return None
    return Markup(f'<details class="archiver-alt"><summary>{escape(column)} '
                  f"({len(value):,} characters)</summary><pre>{escape(value)}</pre></details>")


def digest_markdown(text: str, topic_id, datasette) -> Markup:
    """A stored digest's Markdown, rendered, with its chart pointed at the served PNG."""
    text = EMBEDDED_IMG.sub("", text)
    if topic_id not in (None, ""):
        chart = datasette.urls.path(f"{PREFIX}/topic/{render.path_part(topic_id)}/activity.png")
        text = CHART_REF.sub(lambda m: f"![{m.group(1)}]({chart})", text)
    else:
        text = CHART_REF.sub("", text)
    html = markdown_lib.markdown(text, extensions=["tables"])
    return Markup(f'<div class="archiver-cell-body archiver-digest">{sanitize_html(html)}</div>')


def _get(row, key):
    try:
        return row[key]
    except (KeyError, IndexError):
        return None


def _labelled(value, target: str, datasette, database: str, link_self: bool):
    """The id with its label and reading-room link; awaited by Datasette."""
    expanded = isinstance(value, dict)
    raw = value.get("value") if expanded else value
    label = value.get("label") if expanded else None
    label_column, page = TARGETS[target]

    async def inner():
        nonlocal label
        if label is None and not link_self:
            db = datasette.get_database(database)
            if await db.table_exists(target):
                found = await db.execute(
                    f"select [{label_column}] from [{target}] where id = :id", {"id": raw})
                label = found.first()[0] if found.first() else None
        return _cell(raw, label, target, page, datasette, database)

    return inner


def _cell(raw, label, target, page, datasette, database) -> Markup:
    from datasette.utils import tilde_encode

    row_url = datasette.urls.row(database, target, tilde_encode(str(raw)))
    shown = f"{label} ({raw})" if label not in (None, "", raw) else str(raw)
    parts = [f'<a href="{escape(row_url)}">{escape(shown)}</a>']
    if page:
        url = datasette.urls.path(f"{PREFIX}/{page}/{render.path_part(raw)}")
        parts.append(f'<a class="archiver-read" href="{escape(url)}">read ›</a>')
    return Markup(" ".join(parts))
