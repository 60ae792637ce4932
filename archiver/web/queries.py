"""The SQL behind the reading room, run through Datasette's ``db.execute`` (read-only).

Each page is a handful of set-based queries (eight for a thread page, whatever its length), never
one per comment. Tables that an older or partial archive lacks are treated as empty.
"""

from __future__ import annotations

import sqlite3

from archiver.store.search import literal_query
from archiver.web.render import HIGHLIGHT_CLOSE, HIGHLIGHT_OPEN

SEARCH_LIMIT = 20
PERSON_EXCHANGES = 2000  # quoting replies read per direction on a person page (then by stance)
# Each searchable table: its FTS index, ranked rows with a snippet, and what a hit is called.
SEARCHES = {
    "posts": ("post", """select p.id, p.title, p.author as who, p.posted_at as at, p.url,
        p.id as post_id, snippet(posts_fts, -1, :open, :close, ' … ', 18) as snippet,
        bm25(posts_fts, 5.0, 1.0) as rank
        from posts_fts join posts p on p.rowid = posts_fts.rowid
        where posts_fts match :q order by rank limit :limit"""),
    "comments": ("comment", """select c.id, p.title, c.author as who, c.posted_at as at, c.url,
        c.post_id, snippet(comments_fts, -1, :open, :close, ' … ', 18) as snippet,
        bm25(comments_fts) as rank
        from comments_fts join comments c on c.rowid = comments_fts.rowid
        left join posts p on p.id = c.post_id
        where comments_fts match :q order by rank limit :limit"""),
    "exchanges": ("exchange", """select e.id, p.title, e.quoter_author as who,
        e.posted_at as at, null as url, e.post_id,
        snippet(exchanges_fts, -1, :open, :close, ' … ', 18) as snippet,
        bm25(exchanges_fts) as rank
        from exchanges_fts join exchanges e on e.rowid = exchanges_fts.rowid
        left join posts p on p.id = e.post_id
        where exchanges_fts match :q order by rank limit :limit"""),
    "papers": ("paper", """select pa.id, pa.title, pa.venue as who, pa.published as at, pa.url,
        null as post_id, snippet(papers_fts, -1, :open, :close, ' … ', 18) as snippet,
        bm25(papers_fts, 5.0, 1.0) as rank
        from papers_fts join papers pa on pa.rowid = papers_fts.rowid
        where papers_fts match :q order by rank limit :limit"""),
}


async def rows(db, sql: str, params=None) -> list[dict]:
    results = await db.execute(sql, params or {})
    return [dict(row) for row in results.rows]


async def one(db, sql: str, params=None) -> dict | None:
    found = await rows(db, sql, params)
    return found[0] if found else None


async def tables(db) -> set[str]:
    return set(await db.table_names()) | set(await db.view_names())


# -- thread ---------------------------------------------------------------------------------------

async def thread(db, post_id: str, present: set[str]) -> dict | None:
    post = await one(db, "select * from posts where id = :id", {"id": post_id})
    if not post:
        return None
    comments = await rows(db, """select c.id, c.parent_id, c.user_id,
            coalesce(u.name, c.author) as author, c.posted_at, c.edited_at, c.score, c.deleted,
            c.missing, c.depth, c.path, c.body_html, c.url
        from comments c left join users u on u.id = c.user_id
        where c.post_id = :id order by c.path, c.posted_at, c.id""", {"id": post_id})
    versions, exchanges, mentions = {}, [], []
    if "item_versions" in present:
        for row in await rows(db, """select item_id, count(*) as n from item_versions
                where (item_table = 'comments' and item_id in
                       (select id from comments where post_id = :id))
                   or (item_table = 'posts' and item_id = :id)
                group by item_id""", {"id": post_id}):
            versions[row["item_id"]] = row["n"]
    if "exchanges_view" in present:
        # Exchanges made in this thread, and exchanges elsewhere that quote this thread's items.
        exchanges = await rows(db, """select * from exchanges_view where post_id = :id
            or (source_table = 'posts' and source_id = :id)
            or (source_table = 'comments' and source_id in
                (select id from comments where post_id = :id))
            order by posted_at, id""", {"id": post_id})
    if "mention_details" in present:
        mentions = await rows(db, """select item_table, item_id, paper_id, paper_title,
            matched_text from mention_details where post_id = :id or
            (item_table = 'posts' and item_id = :id)""", {"id": post_id})
    topics = await _topics(db, present, """(ti.item_table = 'posts' and ti.item_id = :id) or
        (ti.item_table = 'comments' and ti.item_id in
         (select id from comments where post_id = :id))""", {"id": post_id})
    return {"post": post, "comments": comments, "versions": versions, "exchanges": exchanges,
            "mentions": mentions, "topics": topics}


async def _topics(db, present: set[str], where: str, params: dict) -> list[dict]:
    """Topics of the items ``where`` selects (over topic_items ti), most items first."""
    if not {"topics", "topic_items"} <= present:
        return []
    return await rows(db, f"""select t.id, coalesce(t.label, t.name) as name, count(*) as n
        from topic_items ti join topics t on t.id = ti.topic_id where {where}
        group by t.id order by n desc, name limit 12""", params)


async def locate(db, item_id: str) -> tuple | None:
    """(post id,) for a post, (post id, comment id) for a comment, None if neither."""
    if await one(db, "select 1 from posts where id = :id", {"id": item_id}):
        return (item_id,)
    found = await one(db, "select post_id from comments where id = :id", {"id": item_id})
    return (found["post_id"], item_id) if found and found["post_id"] else None


# -- person ---------------------------------------------------------------------------------------

async def person(db, user_id: str, present: set[str]) -> dict | None:
    user = await one(db, "select * from users where id = :id", {"id": user_id})
    if not user:
        return None
    params = {"id": user_id}
    out = {"user": user}
    out["posts"] = await rows(db, """select id, title, posted_at, score, comment_count, url
        from posts where user_id = :id order by posted_at desc limit 50""", params)
    out["comments"] = await rows(db, """select c.id, c.post_id, p.title, c.posted_at, c.score,
        c.body_text, c.deleted from comments c left join posts p on p.id = c.post_id
        where c.user_id = :id order by c.posted_at desc limit 50""", params)
    out["quotes"], out["quoted_by"], out["given"], out["received"] = [], [], [], []
    if "exchanges_view" in present:
        out["quotes"] = await rows(db, """select source_user_id as user_id,
            source_author as name, count(*) as n from exchanges_view
            where quoter_user_id = :id and source_author is not null
            group by coalesce(source_user_id, source_author) order by n desc, name""", params)
        out["quoted_by"] = await rows(db, """select quoter_user_id as user_id, quoter as name,
            count(*) as n from exchanges_view where source_user_id = :id
            group by coalesce(quoter_user_id, quoter) order by n desc, name""", params)
        fields = """id, kind, quoter, quoter_user_id, source_author, source_user_id, quote, reply,
            posted_at, item_id, post_id, post_title, source_id"""
        # Their latest quoting replies either way; pages.person sorts them by stance.
        out["given"] = await rows(db, f"""select {fields} from exchanges_view
            where quoter_user_id = :id and kind != 'external'
            order by posted_at desc limit :limit""", {**params, "limit": PERSON_EXCHANGES})
        out["received"] = await rows(db, f"""select {fields} from exchanges_view
            where source_user_id = :id order by posted_at desc limit :limit""",
                                     {**params, "limit": PERSON_EXCHANGES})
    out["papers"] = []
    if "mention_details" in present:
        out["papers"] = await rows(db, """select paper_id, paper_title, count(*) as n,
            max(posted_at) as latest from mention_details where user_id = :id
            group by paper_id order by n desc, latest desc""", params)
    out["topics"] = await _topics(db, present, """(ti.item_table = 'posts' and ti.item_id in
        (select id from posts where user_id = :id)) or (ti.item_table = 'comments' and
        ti.item_id in (select id from comments where user_id = :id))""", params)
    out["researcher"] = None
    if "researchers" in present:
        out["researcher"] = await one(db, """select id, name, url from researchers
            where forum_user_id = :id""", params)
    return out


# -- topic ----------------------------------------------------------------------------------------

async def topic(db, topic_id: str, present: set[str]) -> dict | None:
    if "topics" not in present:
        return None
    found = await one(db, "select * from topics where cast(id as text) = :id", {"id": topic_id})
    if not found:
        return None
    params = {"id": found["id"]}
    out = {"topic": found, "summary": None}
    if "summaries" in present:
        out["summary"] = await one(db, """select id, title, created_at, method, json, html
            from summaries where topic_id = :id order by created_at desc, id desc limit 1""",
                                   params)
    # Threads: topic posts, and posts whose comments are in the topic.
    out["threads"] = await rows(db, """select p.id, p.title, p.author, p.posted_at,
            p.comment_count, count(ti.item_id) as n_items
        from topic_items ti
        join posts p on p.id = case ti.item_table when 'posts' then ti.item_id
            else (select post_id from comments where id = ti.item_id) end
        where ti.topic_id = :id and ti.item_table in ('posts', 'comments')
        group by p.id order by n_items desc, p.posted_at desc limit 30""", params)
    out["exchanges"] = []
    if "exchanges_view" in present:
        out["exchanges"] = await rows(db, """select ev.* from exchanges_view ev
            where ev.kind != 'external' and exists (select 1 from topic_items ti
                where ti.topic_id = :id and ((ti.item_table = ev.item_table
                    and ti.item_id = ev.item_id) or (ti.item_table = 'posts'
                    and ti.item_id = ev.post_id)))
            order by ev.posted_at desc limit 30""", params)
    out["papers"] = []
    if "mention_details" in present:
        out["papers"] = await rows(db, """select md.paper_id, md.paper_title, count(*) as n
            from mention_details md where exists (select 1 from topic_items ti
                where ti.topic_id = :id and ((ti.item_table = md.item_table
                    and ti.item_id = md.item_id) or (ti.item_table = 'posts'
                    and ti.item_id = md.post_id)))
            group by md.paper_id order by n desc limit 30""", params)
    return out


async def chart_png_source(db, topic_id: str, present: set[str]) -> str | None:
    """The stored HTML of the topic's latest digest (it embeds the activity chart)."""
    if "summaries" not in present:
        return None
    row = await one(db, """select html from summaries where cast(topic_id as text) = :id
        order by created_at desc, id desc limit 1""", {"id": topic_id})
    return row["html"] if row else None


# -- home -----------------------------------------------------------------------------------------

async def home(db, present: set[str]) -> dict:
    out = {"digests": [], "threads": [], "week": [], "week_end": None}
    if "summaries" in present:
        out["digests"] = await rows(db, """select s.id, s.topic_id, s.topic_name, s.created_at,
            s.sentences, s.json from summaries s where s.topic_id is not null and s.id =
            (select s2.id from summaries s2 where s2.topic_id = s.topic_id
             order by s2.created_at desc, s2.id desc limit 1)
            order by s.created_at desc limit 12""")
    out["threads"] = await rows(db, """select p.id, p.title, p.author, p.user_id,
        count(c.id) as comments, max(c.posted_at) as latest
        from comments c join posts p on p.id = c.post_id
        group by p.id order by latest desc limit 12""")
    if "exchanges_view" in present:
        # "This week" is the week up to the newest exchange, so an archive that was last synced a
        # while ago still shows its latest debates.
        newest = await one(db, "select max(posted_at) as at from exchanges")
        out["week_end"] = newest["at"] if newest else None
        if out["week_end"]:
            # Every quoting reply of the week; pages.disputed keeps those that dispute. The bound
            # is written like posted_at (ISO with "T"): datetime() gives a space, which sorts
            # before "T" and let in a morning seven days and some hours old.
            out["week"] = await rows(db, """select id, source_table, source_id, source_author,
                source_user_id, source_start, post_id, post_title, quote, reply, item_table, item_id,
                quoter, quoter_user_id, posted_at
                from exchanges_view where source_id is not null and quote is not null
                  and posted_at >= strftime('%Y-%m-%dT%H:%M:%S', :end, '-7 days')
                order by posted_at desc, id""", {"end": out["week_end"]})
    return out


# -- search ---------------------------------------------------------------------------------------

async def search(db, query: str, present: set[str], limit: int = SEARCH_LIMIT) -> list[dict]:
    """Posts, comments, exchanges and papers matching ``query``, best first (bm25), each with a
    snippet. Invalid FTS5 syntax falls back to searching each word literally."""
    try:
        return await _search(db, query, present, limit)
    except sqlite3.OperationalError as exc:
        literal = literal_query(query, exc)
    return await _search(db, literal, present, limit) if literal else []


async def _search(db, query: str, present: set[str], limit: int) -> list[dict]:
    found = []
    params = {"q": query, "open": HIGHLIGHT_OPEN, "close": HIGHLIGHT_CLOSE, "limit": limit}
    for table, (kind, sql) in SEARCHES.items():
        if f"{table}_fts" in present:
            found += [{**row, "kind": kind} for row in await rows(db, sql, params)]
    found.sort(key=lambda row: row["rank"])
    return found[:limit]
