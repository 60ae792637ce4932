"""Full-text search over post titles/bodies and comment bodies, best match first."""

from __future__ import annotations

import re
import sqlite3

import sqlite_utils

from archiver.errors import UsageError

SEARCH_SQL = """
select * from (
  select 'post' as type, p.id, p.title, p.author, p.posted_at, p.url,
         snippet(posts_fts, -1, '[', ']', ' … ', 16) as snippet, bm25(posts_fts, 5.0, 1.0) as rank
  from posts_fts join posts p on p.rowid = posts_fts.rowid
  where posts_fts match :query
  union all
  select 'comment' as type, c.id, p.title, c.author, c.posted_at, coalesce(c.url, p.url),
         snippet(comments_fts, -1, '[', ']', ' … ', 16), bm25(comments_fts)
  from comments_fts join comments c on c.rowid = comments_fts.rowid
  left join posts p on p.id = c.post_id
  where comments_fts match :query
) order by rank limit :limit
"""


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
        if "locked" in str(exc) or "busy" in str(exc):
            raise  # not a query problem
    words = re.findall(r"\w+", query)
    if not words:
        return []
    return _run(db, " ".join(f'"{word}"' for word in words), limit)


def _run(db: sqlite_utils.Database, query: str, limit: int) -> list[dict]:
    cursor = db.execute(SEARCH_SQL, {"query": query, "limit": limit})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]
