"""The reading room's pages: one async view per route, each a few queries and a template."""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from urllib.parse import unquote, urlencode

import jinja2
from datasette.utils.asgi import Response
from markupsafe import Markup

from archiver.web import pages, queries, render, stances

CSS = (Path(__file__).parent / "static" / "archiver.css").read_text(encoding="utf-8")
PNG = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")
# Thread items go through a plain Jinja environment (same templates, autoescaped): Datasette's
# async environment costs an await per expression, which dominated a 2,000-comment page.
ITEMS = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True,
).get_template("_archiver_items.html")


async def archive(datasette):
    """The first served database that is an archive (has a posts table)."""
    for name, db in datasette.databases.items():
        if name.startswith("_"):
            continue
        if await db.table_exists("posts"):
            return name, db
    return None, None


async def _page(datasette, request, template: str, **context) -> Response:
    html = await datasette.render_template(template, context, request=request)
    return Response.html(html)


async def _not_found(datasette, request, what: str) -> Response:
    response = await _page(datasette, request, "archiver_missing.html", what=what,
                           links=None)
    response.status = 404
    return response


async def _setup(datasette, request):
    name, db = await archive(datasette)
    if db is None:
        return None, None, None
    return db, pages.Links(datasette, name), await queries.tables(db)


def _var(request, key: str) -> str:
    return unquote(request.url_vars[key])


async def home(datasette, request):
    db, links, present = await _setup(datasette, request)
    if db is None:
        return await _not_found(datasette, request, "an archive (a database with posts)")
    data = await queries.home(db, present)
    data["disputed"] = pages.disputed(data["week"])
    digests = [{**d, "data": pages.digest(d)} for d in data["digests"]]
    tables = [t for t in ("posts", "comments", "exchanges_view", "users", "topics", "summaries",
                          "papers", "researchers") if t in present]
    return await _page(datasette, request, "archiver_home.html", links=links, data=data,
                       digests=digests, tables=tables, database=links.db, render=render)


async def thread(datasette, request):
    db, links, present = await _setup(datasette, request)
    post_id = _var(request, "id")
    data = await queries.thread(db, post_id, present) if db else None
    if not data:
        return await _not_found(datasette, request, f"a thread with post id {post_id!r}")
    page = pages.thread(data, links)
    post_html = Markup(ITEMS.render(items=[page["post"]], render=render))
    comments_html = Markup(ITEMS.render(items=page["comments"], render=render))
    return await _page(datasette, request, "archiver_thread.html", links=links, page=page,
                       post_html=post_html, comments_html=comments_html, render=render)


async def person(datasette, request):
    db, links, present = await _setup(datasette, request)
    user_id = _var(request, "id")
    data = await queries.person(db, user_id, present) if db else None
    if not data:
        return await _not_found(datasette, request, f"a person with user id {user_id!r}")
    return await _page(datasette, request, "archiver_person.html", links=links, data=data,
                       stances=pages.person(data), limit=queries.PERSON_EXCHANGES,
                       render=render)


async def topic(datasette, request):
    db, links, present = await _setup(datasette, request)
    topic_id = _var(request, "id")
    data = await queries.topic(db, topic_id, present) if db else None
    if not data:
        return await _not_found(datasette, request, f"a topic with id {topic_id!r}")
    has_chart = bool(data["summary"] and PNG.search(data["summary"].get("html") or ""))
    digest = pages.digest(data["summary"])
    stances.tag(data["exchanges"])
    return await _page(datasette, request, "archiver_topic.html", links=links, data=data,
                       digest=digest, summary=pages.summary(digest, links),
                       debates=pages.debates(digest, links), has_chart=has_chart, render=render)


async def chart(datasette, request):
    """The activity chart of a topic's latest digest, decoded from the PNG its HTML embeds."""
    db, links, present = await _setup(datasette, request)
    html = await queries.chart_png_source(db, _var(request, "id"), present) if db else None
    found = PNG.search(html or "")
    try:
        png = base64.b64decode(found.group(1), validate=True) if found else b""
    except (binascii.Error, ValueError):
        png = b""
    if not png.startswith(b"\x89PNG"):
        return Response.text("no chart for this topic", status=404)
    return Response(png, content_type="image/png",
                    headers={"cache-control": "max-age=3600"})


async def search(datasette, request):
    db, links, present = await _setup(datasette, request)
    if db is None:
        return await _not_found(datasette, request, "an archive (a database with posts)")
    query = (request.args.get("q") or "").strip()
    results = await queries.search(db, query, present) if query else []
    for row in results:
        row["href"] = _hit_href(row, links)
    return await _page(datasette, request, "archiver_search.html", links=links, query=query,
                       results=results, render=render)


def _hit_href(row: dict, links: pages.Links) -> str:
    if row["kind"] == "post":
        return links.thread(row["id"])
    if row["kind"] == "comment":
        return links.thread(row["post_id"], row["id"]) if row["post_id"] else \
            links.row("comments", row["id"])
    if row["kind"] == "exchange":
        return links.row("exchanges", row["id"])
    return links.row("papers", row["id"])


async def goto(datasette, request):
    """A post or comment id -> its thread page (at the comment's anchor)."""
    db, links, present = await _setup(datasette, request)
    item_id = _var(request, "id")
    where = await queries.locate(db, item_id) if db else None
    if not where:
        return await _not_found(datasette, request, f"a post or comment with id {item_id!r}")
    return Response.redirect(links.thread(*where))


async def search_redirect(datasette, request):
    """/-/search (a 404 before): the reading room's search across tables."""
    query = request.args.get("q", "")
    target = datasette.urls.path(f"{pages.PREFIX}/search")
    return Response.redirect(target + ("?" + urlencode({"q": query}) if query else ""))


async def stylesheet(datasette, request):
    return Response(CSS, content_type="text/css; charset=utf-8",
                    headers={"cache-control": "max-age=300"})


ROUTES = [
    (r"^/-/archiver/?$", home),
    (r"^/-/archiver/archiver\.css$", stylesheet),
    (r"^/-/archiver/search$", search),
    (r"^/-/search$", search_redirect),
    (r"^/-/archiver/thread/(?P<id>.+)$", thread),
    (r"^/-/archiver/item/(?P<id>.+)$", goto),
    (r"^/-/archiver/person/(?P<id>.+)$", person),
    (r"^/-/archiver/topic/(?P<id>[^/]+)/activity\.png$", chart),
    (r"^/-/archiver/topic/(?P<id>[^/]+)$", topic),
]
