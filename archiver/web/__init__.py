"""archiver's Datasette plugin: the reading room (``/-/archiver``) and readable table pages.

Registered through the ``datasette`` entry point (pyproject.toml), so it is active under
``archiver serve`` and under plain ``datasette db/archive.db`` once archiver is installed.

- Pages (``views.ROUTES``): home, thread, person, topic, one search across posts, comments,
  exchanges and papers, and a topic's activity chart.
- Table and row pages (``render_cell``): one body rendering shown (sanitised HTML), the other
  renderings a click away; linked ids shown with their names and a link into the reading room;
  digests rendered with their chart served instead of a broken image.
- Every page gets the stylesheet (blockquotes styled) and a script that folds the long column
  descriptions into one ``<details>``.

The plugin only reads, through Datasette's ``db.execute``: no HTTP, no sources, no writes.
"""

from __future__ import annotations

from datasette import hookimpl

from archiver.web import cells, views


@hookimpl
def register_routes(datasette):
    return views.ROUTES


@hookimpl
def extra_css_urls(datasette):
    return [datasette.urls.path("/-/archiver/archiver.css")]


@hookimpl
def extra_body_script(datasette, view_name):
    return cells.script(datasette.urls.path("/-/archiver"))


@hookimpl(tryfirst=True)
def render_cell(row, value, column, table, database, datasette):
    return cells.cell(row, value, column, table, database, datasette)
