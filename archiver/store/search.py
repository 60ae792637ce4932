"""Full-text search over post titles/bodies and comment bodies, best match first."""

from __future__ import annotations

import re
import sqlite3

import sqlite_utils

from archiver.kernel.errors import UsageError
from archiver.store import problems

# Rank inside each FTS index first (FTS5 does this in C), then build snippets and join details for
# the few winning rows only: snippet() over every match is what made common words slow.
# bm25 scores every match, so for a word in tens of thousands of comments ranking is limited to the
# newest RANK_WINDOW matches (found by walking the index in rowid order, which stops early):
# "best of the most recent" keeps p95 latency bounded at a million comments.
RANK_WINDOW = 4000
RANKED = {
    "post": "select rowid, bm25(posts_fts, 5.0, 1.0) as rank from posts_fts "
            "where posts_fts match ? and rowid >= ? order by rank limit ?",
    "comment": "select rowid, rank from comments_fts where comments_fts match ? "
               "and rowid >= ? order by rank limit ?",
}
WINDOW_START = {
    "post": "select rowid from posts_fts where posts_fts match ? order by rowid desc "
            "limit 1 offset ?",
    "comment": "select rowid from comments_fts where comments_fts match ? order by rowid desc "
               "limit 1 offset ?",
}
DETAILS = {
    "post": """select p.rowid, 'post' as type, p.id, p.title, p.author, p.posted_at, p.url,
                      snippet(posts_fts, -1, '[', ']', ' … ', 16) as snippet
               from posts_fts join posts p on p.rowid = posts_fts.rowid
               where posts_fts match ? and posts_fts.rowid in ({marks})""",
    "comment": """select c.rowid, 'comment' as type, c.id, p.title, c.author, c.posted_at,
                         coalesce(c.url, p.url) as url,
                         snippet(comments_fts, -1, '[', ']', ' … ', 16) as snippet
                  from comments_fts join comments c on c.rowid = comments_fts.rowid
                  left join posts p on p.id = c.post_id
                  where comments_fts match ? and comments_fts.rowid in ({marks})""",
}


def search(db: sqlite_utils.Database, query: str, limit: int = 20) -> list[dict]:
    """Rows with type, id, title, author, posted_at, url, snippet ([highlighted] terms), rank.

    The query may use FTS5 syntax (``"exact phrase"``, ``OR``, ``prefix*``); when it is not valid
    FTS5 (stray quotes, SQL fragments, ...) each word is searched for literally instead.
    """
    if not query.strip():
        raise UsageError("empty search query; give some words to look for")
    try:
        return _run(db, query, limit)
    except sqlite3.OperationalError as exc:
        literal = literal_query(query, exc)
    return _run(db, literal, limit) if literal else []


def literal_query(query: str, failure: sqlite3.OperationalError) -> str | None:
    """After ``failure`` ran ``query`` as FTS5: the query's words, each searched literally (None
    when it has none). A locked or busy database is re-raised: it is not a problem of the query."""
    if problems.is_locked(failure):
        raise failure
    words = re.findall(r"\w+", query)
    return " ".join(f'"{word}"' for word in words) if words else None


def _run(db: sqlite_utils.Database, query: str, limit: int) -> list[dict]:
    ranked = []
    for kind, sql in RANKED.items():
        start = db.execute(WINDOW_START[kind], [query, RANK_WINDOW - 1]).fetchone()
        floor = start[0] if start else -(2**63)
        ranked += [(rank, kind, rowid) for rowid, rank in db.execute(sql, [query, floor, limit])]
    ranked.sort()
    top = ranked[:limit]
    found: dict[tuple[str, int], dict] = {}
    for kind in RANKED:
        rowids = [rowid for _, k, rowid in top if k == kind]
        if not rowids:
            continue
        sql = DETAILS[kind].format(marks=", ".join("?" for _ in rowids))
        cursor = db.execute(sql, [query, *rowids])
        names = [d[0] for d in cursor.description]
        for row in cursor.fetchall():
            item = dict(zip(names, row))
            found[(kind, item.pop("rowid"))] = item
    results = []
    for rank, kind, rowid in top:
        hit = found.get((kind, rowid))
        if hit:
            results.append({**hit, "rank": rank})
    return results
