"""Topics: what the archive is about, and which item belongs to which topic, with a score.

Five kinds of topic live in one ``topics`` table:

- ``tag``: the sites' own tags (LessWrong "Interpretability (ML & AI)", ...); a tagged post scores
  1.0 and its comments 0.5. Tags of the same name on several sites are one topic.
- ``arxiv``: arXiv categories of archived papers (``papers.categories``); primary 1.0, cross-list
  0.6, and forum items that mention the paper 0.5.
- ``blog-section``: the category a blog or feed post was filed under (the tags of blog and feed
  sites, or ``posts.extra`` -> ``section``); 1.0 for the post, 0.5 for its comments.
- ``user``: a name with keywords, phrases or regular expressions (``archiver topics add`` or
  ``[[watch.topics]]`` in the config); score 1 - 0.5**hits.
- ``discovered``: themes found by ``discover``: TF-IDF + NMF over posts, long comments and papers,
  labelled by class-based TF-IDF (c-TF-IDF) terms. Each keeps its top terms with their weights, so
  items fetched later are assigned to the nearest theme without refitting.

Membership is kept in ``topic_items`` and updated incrementally by ``after_fetch``.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator

import numpy as np
import sqlite_utils

from archiver.analysis import patterns
from archiver.analysis.blas import one_blas_thread
from archiver.analysis.choices import TOPIC_KINDS
from archiver.analysis.period import period_sql
from archiver.kernel.errors import NotFound, UsageError
from archiver.kernel.parse import parse_date
from archiver.kernel.records import now_utc
from archiver.store import problems
from archiver.store.derived import ensure_topics

log = logging.getLogger("archiver.topics")

KINDS = TOPIC_KINDS
CHUNK = 500
RANDOM_STATE = 0

# A few common arXiv categories, so reports read "cs.LG (Machine Learning)".
ARXIV_NAMES = {
    "cs.AI": "Artificial Intelligence", "cs.LG": "Machine Learning",
    "cs.CL": "Computation and Language", "cs.CV": "Computer Vision", "cs.CY": "Computers and Society",
    "cs.CR": "Cryptography and Security", "cs.GT": "Game Theory", "cs.HC": "Human-Computer Interaction",
    "cs.MA": "Multiagent Systems", "cs.NE": "Neural and Evolutionary Computing",
    "cs.RO": "Robotics", "cs.SE": "Software Engineering", "cs.LO": "Logic in Computer Science",
    "cs.IT": "Information Theory", "cs.DS": "Data Structures and Algorithms",
    "stat.ML": "Machine Learning (Statistics)", "math.OC": "Optimization and Control",
    "q-bio.NC": "Neurons and Cognition", "econ.TH": "Theoretical Economics",
    "physics.soc-ph": "Physics and Society", "quant-ph": "Quantum Physics",
}


# -- finding and listing -----------------------------------------------------------------------


def find_topic(db: sqlite_utils.Database, ref: str | int) -> dict:
    """A topic by id, or by name/label (case-insensitive); ambiguous names are an error."""
    ensure_topics(db)
    text = str(ref).strip()
    if text.isdigit():
        rows = list(db.query("SELECT * FROM topics WHERE id = ?", [int(text)]))
    else:
        rows = list(db.query(
            "SELECT * FROM topics WHERE name = ? COLLATE NOCASE OR label = ? COLLATE NOCASE "
            "ORDER BY id", [text, text]))
    if not rows:
        raise NotFound(f"no topic {text!r}; `archiver topics` lists them (use a name or an id)")
    if len(rows) > 1:
        choices = ", ".join(f"{r['id']} ({r['kind']})" for r in rows)
        raise UsageError(f"topic {text!r} is ambiguous: {choices}; pass the id instead")
    return rows[0]


def list_topics(db: sqlite_utils.Database, kind: str | None = None,
                contributors: int = 3) -> list[dict]:
    """Every topic with item counts, newest activity and top contributors."""
    ensure_topics(db)
    where, params = ("WHERE kind = ?", [kind]) if kind else ("", [])
    topics = {r["id"]: _public(r) for r in db.query(
        f"SELECT * FROM topics {where} ORDER BY kind, name COLLATE NOCASE, id", params)}
    for topic in topics.values():
        topic.update({"posts": 0, "comments": 0, "papers": 0, "items": 0, "newest": None,
                      "contributors": []})
    stats = db.execute("""
        SELECT ti.topic_id, ti.item_table, count(*), max(COALESCE(c.posted_at, p.posted_at))
        FROM topic_items ti
        LEFT JOIN comments c ON ti.item_table = 'comments' AND c.id = ti.item_id
        LEFT JOIN posts p ON ti.item_table = 'posts' AND p.id = ti.item_id
        GROUP BY ti.topic_id, ti.item_table""").fetchall()
    for topic_id, table, count, newest in stats:
        topic = topics.get(topic_id)
        if topic is None:
            continue
        topic[table] = count
        topic["items"] += count
        if newest and (topic["newest"] is None or newest > topic["newest"]):
            topic["newest"] = newest
    for topic_id, author, count in _contributors(db):
        topic = topics.get(topic_id)
        if topic is not None and len(topic["contributors"]) < contributors:
            topic["contributors"].append({"author": author, "items": count})
    return list(topics.values())


def overview(db: sqlite_utils.Database, config_topics: list[dict] | None = None,
             kind: str | None = None) -> list[dict]:
    """Bring topics up to date (tags, categories, config topics), then list them."""
    try:
        refresh(db, config_topics)
    except sqlite3.OperationalError as exc:
        if not problems.is_read_only(exc):
            raise
        # A read-only archive (published, or on a read-only mount): list what it holds.
    return list_topics(db, kind)


def _contributors(db) -> list[tuple]:
    return db.execute("""
        SELECT ti.topic_id, COALESCE(c.author, p.author) AS who, count(*) AS n
        FROM topic_items ti
        LEFT JOIN comments c ON ti.item_table = 'comments' AND c.id = ti.item_id
        LEFT JOIN posts p ON ti.item_table = 'posts' AND p.id = ti.item_id
        WHERE who IS NOT NULL
        GROUP BY ti.topic_id, who ORDER BY ti.topic_id, n DESC, who""").fetchall()


def _public(row: dict) -> dict:
    return {
        "id": row["id"], "kind": row["kind"], "name": row["name"], "label": row["label"],
        "keywords": json.loads(row["keywords"]) if row["keywords"] else [],
        "match": json.loads(row["match"]) if row["match"] else [],
        "description": row["description"],
    }


def active_topic_ids(db, since: str | None = None, until: str | None = None,
                     kinds: list[str] | None = None, min_items: int = 1) -> list[int]:
    """Topics with at least ``min_items`` items in the period, most items first."""
    ensure_topics(db)
    clause, params = period_sql("COALESCE(c.posted_at, p.posted_at)", since, until)
    where = [clause[len(" AND "):]] if clause else []
    if kinds:
        where.append(f"t.kind IN ({', '.join('?' for _ in kinds)})")
        params.extend(kinds)
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    rows = db.execute(f"""
        SELECT t.id, count(*) AS n FROM topics t JOIN topic_items ti ON ti.topic_id = t.id
        LEFT JOIN comments c ON ti.item_table = 'comments' AND c.id = ti.item_id
        LEFT JOIN posts p ON ti.item_table = 'posts' AND p.id = ti.item_id
        {clause} GROUP BY t.id HAVING n >= ? ORDER BY n DESC, t.id""",
        [*params, min_items]).fetchall()
    return [r[0] for r in rows]


# -- creating topics ---------------------------------------------------------------------------


def _upsert_topic(db, kind: str, name: str, label: str | None = None, **fields) -> int:
    now = now_utc()
    row = db.execute("SELECT id FROM topics WHERE kind = ? AND name = ? COLLATE NOCASE",
                     [kind, name]).fetchone()
    values = {"label": label or name, **{k: v for k, v in fields.items() if v is not None}}
    if row:
        sets = ", ".join(f"[{k}] = ?" for k in values)
        db.conn.execute(f"UPDATE topics SET {sets}, updated_at = ? WHERE id = ?",
                        [*values.values(), now, row[0]])
        return row[0]
    columns = {"kind": kind, "name": name, **values, "created_at": now, "updated_at": now}
    cursor = db.conn.execute(
        f"INSERT INTO topics ({', '.join(f'[{c}]' for c in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})", list(columns.values()))
    return cursor.lastrowid


def compile_patterns(matches: Iterable[str]) -> list:
    """Keywords and phrases match as whole words; anything with regex syntax is a regex, refused
    here if it is invalid or can take exponential time (archiver.analysis.patterns)."""
    compiled = []
    for raw in matches:
        text = str(raw).strip()
        if not text:
            continue
        try:
            compiled.append(patterns.compile_pattern(text))
        except ValueError as exc:
            raise UsageError(f"--match {exc}") from exc
    if not compiled:
        raise UsageError("a topic needs at least one --match keyword, phrase or regex")
    return compiled


def add_topic(db: sqlite_utils.Database, name: str, matches: list[str],
              description: str | None = None) -> dict:
    """Create (or redefine) a user topic and assign every archived item that matches it."""
    ensure_topics(db)
    name = (name or "").strip()
    if not name:
        raise UsageError("a topic needs a name, e.g. `archiver topics add SAEs --match SAE`")
    matches = [m for m in (str(x).strip() for x in matches) if m]
    compile_patterns(matches)
    with db.conn:
        topic_id = _upsert_topic(db, "user", name, match=json.dumps(matches),
                                 keywords=json.dumps(matches), description=description)
        db.conn.execute("DELETE FROM topic_items WHERE topic_id = ?", [topic_id])
        _assign_user(db, [topic_id], None)
    return next(t for t in list_topics(db, "user") if t["id"] == topic_id)


def load_config_topics(db: sqlite_utils.Database, entries: list[dict]) -> list[int]:
    """Topics from ``[[watch.topics]]``: added, or re-assigned only when their patterns changed."""
    ensure_topics(db)
    ids = []
    for entry in entries or []:
        name, matches = entry.get("name"), entry.get("match") or []
        if not name:
            raise UsageError("each [[watch.topics]] entry needs a name and a match list")
        row = db.execute("SELECT id, match FROM topics WHERE kind = 'user' AND name = ? "
                         "COLLATE NOCASE", [name]).fetchone()
        if row and row[1] == json.dumps([str(m).strip() for m in matches if str(m).strip()]):
            ids.append(row[0])
            continue
        ids.append(add_topic(db, name, matches, entry.get("description"))["id"])
    return ids


def refresh(db: sqlite_utils.Database, config_topics: list[dict] | None = None) -> None:
    """Create topics for tags, arXiv categories and blog sections; assign the new ones' items.

    Topics that already have members are left to ``after_fetch``, which keeps them current.
    """
    ensure_topics(db)
    load_config_topics(db, config_topics or [])
    with db.conn:
        _sync_tag_topics(db)
        _sync_arxiv_topics(db)
        _sync_blog_topics(db)
        todo = [r[0] for r in db.execute(
            "SELECT id FROM topics t WHERE kind IN ('tag', 'arxiv', 'blog-section') AND NOT "
            "EXISTS (SELECT 1 FROM topic_items ti WHERE ti.topic_id = t.id) ORDER BY id")]
        if todo:
            _assign_tags(db, None, todo)
            _assign_arxiv(db, None, None, todo)
            _assign_blog(db, None, todo)


# Tags on blog and feed sites are the blog's sections (categories), not forum tags.
BLOG_SITE = "(SELECT kind FROM sites WHERE sites.id = g.site_id) IN ('blog', 'feed')"
TAG_KIND = f"CASE WHEN {BLOG_SITE} THEN 'blog-section' ELSE 'tag' END"


def _sync_tag_topics(db) -> None:
    if not db["tags"].exists():
        return
    now = now_utc()
    db.conn.execute(f"""
        INSERT OR IGNORE INTO topics (kind, name, label, created_at, updated_at)
        SELECT {TAG_KIND} AS k, g.name, g.name, ?, ? FROM tags g
        WHERE g.name IS NOT NULL AND g.name != '' AND g.id IN (SELECT tag_id FROM post_tags)
        GROUP BY k, g.name COLLATE NOCASE""", [now, now])


def _papers_ready(db) -> bool:
    return db["papers"].exists() and {"id", "categories"} <= set(db["papers"].columns_dict)


def _sync_arxiv_topics(db) -> None:
    if not _papers_ready(db):
        return
    now = now_utc()
    codes = [r[0] for r in db.execute(
        "SELECT DISTINCT j.value FROM papers, json_each(papers.categories) j "
        "WHERE json_valid(papers.categories) AND j.type = 'text'")]
    for code in sorted(codes):
        label = f"{code} ({ARXIV_NAMES[code]})" if code in ARXIV_NAMES else code
        db.conn.execute("INSERT OR IGNORE INTO topics (kind, name, label, created_at, updated_at) "
                        "VALUES ('arxiv', ?, ?, ?, ?)", [code, label, now, now])


def _sync_blog_topics(db) -> None:
    now = now_utc()
    db.conn.execute("""
        INSERT OR IGNORE INTO topics (kind, name, label, created_at, updated_at)
        SELECT 'blog-section', s, s, ?, ? FROM (
          SELECT DISTINCT json_extract(extra, '$.section') AS s FROM posts
          WHERE json_valid(extra) AND json_type(extra, '$.section') = 'text')
        WHERE s != ''""", [now, now])


# -- membership --------------------------------------------------------------------------------


def _in(column: str, ids: list | None) -> tuple[str, list]:
    if ids is None:
        return "", []
    return f" AND {column} IN ({', '.join('?' for _ in ids)})", list(ids)


def _chunks(ids: list[str] | None) -> Iterator[list[str] | None]:
    if ids is None:
        yield None
        return
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _assign_tags(db, post_ids: list[str] | None, topic_ids: list[int] | None = None) -> None:
    """Tagged posts score 1.0, their comments 0.5 (the thread is about the tag).

    Also blog sections (tags of blog/feed sites), and removes memberships of re-tagged posts.
    """
    if not db["tags"].exists():
        return
    now = now_utc()
    for chunk in _chunks(post_ids):
        pclause, pparams = _in("pt.post_id", chunk)
        tclause, tparams = _in("t.id", topic_ids)
        if chunk is not None:
            db.conn.execute(
                f"DELETE FROM topic_items WHERE topic_id IN (SELECT id FROM topics WHERE "
                f"kind IN ('tag', 'blog-section')) AND ((item_table = 'posts' AND item_id IN "
                f"({', '.join('?' for _ in chunk)})) OR (item_table = 'comments' AND item_id IN "
                f"(SELECT id FROM comments WHERE post_id IN ({', '.join('?' for _ in chunk)}))))",
                chunk + chunk)
        tagged = ("FROM topics t JOIN tags g ON g.name = t.name COLLATE NOCASE "
                  f"AND t.kind = {TAG_KIND} JOIN post_tags pt ON pt.tag_id = g.id")
        where = f"WHERE t.kind IN ('tag', 'blog-section') {pclause} {tclause}"
        db.conn.execute(f"INSERT OR REPLACE INTO topic_items SELECT DISTINCT t.id, 'posts', "
                        f"pt.post_id, 1.0, ? {tagged} {where}", [now, *pparams, *tparams])
        db.conn.execute(f"INSERT OR REPLACE INTO topic_items SELECT DISTINCT t.id, 'comments', "
                        f"c.id, 0.5, ? {tagged} JOIN comments c ON c.post_id = pt.post_id {where}",
                        [now, *pparams, *tparams])


def _assign_comments_by_thread(db, comment_ids: list[str]) -> None:
    """New comments on an already tagged thread join the thread's tag topics.

    A comment's membership of a tag or blog section is always 0.5, so a row already there is
    left alone: a new thread's comments were just added by ``_assign_tags``, and replacing them
    again rewrote every row and its indexes. CROSS JOIN keeps SQLite starting from the batch's
    comments: with hundreds of ids it preferred to start from the thread's topics and walk
    every comment of the thread for each batch (34 s of a 100k-comment thread's analysis)."""
    now = now_utc()
    for chunk in _chunks(comment_ids):
        marks = ", ".join("?" for _ in chunk)
        db.conn.execute(f"""
            INSERT OR IGNORE INTO topic_items
            SELECT DISTINCT ti.topic_id, 'comments', c.id, 0.5, ? FROM comments c
            CROSS JOIN topic_items ti ON ti.item_table = 'posts' AND ti.item_id = c.post_id
            JOIN topics t ON t.id = ti.topic_id AND t.kind IN ('tag', 'blog-section')
            WHERE c.id IN ({marks})""", [now, *chunk])


def _assign_arxiv(db, paper_ids: list[str] | None, item_ids: dict | None,
                  topic_ids: list[int] | None = None) -> None:
    """Papers by category (primary 1.0, cross-list 0.6); items mentioning them 0.5."""
    if not _papers_ready(db):
        return
    now = now_utc()
    primary = "p.primary_category" if "primary_category" in db["papers"].columns_dict else "NULL"
    tclause, tparams = _in("t.id", topic_ids)
    for chunk in _chunks(paper_ids):
        pclause, pparams = _in("p.id", chunk)
        db.conn.execute(f"""
            INSERT OR REPLACE INTO topic_items
            SELECT t.id, 'papers', p.id, CASE WHEN {primary} = j.value OR {primary} IS NULL
                   AND j.key = 0 THEN 1.0 ELSE 0.6 END, ?
            FROM papers p, json_each(p.categories) j JOIN topics t ON t.kind = 'arxiv'
                 AND t.name = j.value
            WHERE json_valid(p.categories) {pclause} {tclause}""", [now, *pparams, *tparams])
    if not (db["mentions"].exists()
            and {"item_table", "item_id", "paper_id"} <= set(db["mentions"].columns_dict)):
        return
    tables = item_ids or {None: None}
    for table, ids in tables.items():
        for chunk in _chunks(ids):
            mclause, mparams = _in("m.item_id", chunk)
            table_clause = " AND m.item_table = ?" if table else ""
            db.conn.execute(f"""
                INSERT OR IGNORE INTO topic_items
                SELECT DISTINCT ti.topic_id, m.item_table, m.item_id, 0.5, ?
                FROM mentions m JOIN topic_items ti ON ti.item_table = 'papers'
                     AND ti.item_id = m.paper_id
                JOIN topics t ON t.id = ti.topic_id AND t.kind = 'arxiv'
                WHERE m.item_table IN ('posts', 'comments') {mclause} {table_clause}
                {tclause}""", [now, *mparams, *([table] if table else []), *tparams])


def _assign_blog(db, post_ids: list[str] | None, topic_ids: list[int] | None = None) -> None:
    now = now_utc()
    tclause, tparams = _in("t.id", topic_ids)
    for chunk in _chunks(post_ids):
        pclause, pparams = _in("p.id", chunk)
        db.conn.execute(f"""
            INSERT OR REPLACE INTO topic_items
            SELECT t.id, 'posts', p.id, 1.0, ? FROM posts p JOIN topics t
                 ON t.kind = 'blog-section' AND t.name = json_extract(p.extra, '$.section')
            WHERE json_valid(p.extra) {pclause} {tclause}""", [now, *pparams, *tparams])


def _items_text(db, changed: dict[str, list[str]] | None) -> Iterator[tuple[str, str, str]]:
    """(table, id, text) of posts and comments: all of them, or the changed ones."""
    queries = {"posts": "SELECT id, COALESCE(title, '') || '\n' || COALESCE(body_text, '') "
                        "FROM posts WHERE stub = 0",
               "comments": "SELECT id, COALESCE(body_text, '') FROM comments WHERE 1"}
    if db["papers"].exists() and {"title", "abstract"} <= set(db["papers"].columns_dict):
        queries["papers"] = ("SELECT id, COALESCE(title, '') || '\n' || COALESCE(abstract, '') "
                             "FROM papers WHERE 1")
    for table, sql in queries.items():
        ids = None if changed is None else changed.get(table) or []
        if changed is not None and not ids:
            continue
        for chunk in _chunks(ids):
            clause, params = _in("id", chunk)
            for item_id, text in db.execute(sql + clause, params):
                yield table, item_id, text


def _assign_user(db, topic_ids: list[int] | None, changed: dict | None) -> None:
    clause, params = _in("id", topic_ids)
    topics = [(r[0], r[1], _stored_patterns(r[1], r[2])) for r in db.execute(
        f"SELECT id, name, match FROM topics WHERE kind = 'user' AND match IS NOT NULL {clause}",
        params)]
    topics = [t for t in topics if t[2] is not None]
    if not topics:
        return
    now = now_utc()
    rows, stale = [], []
    for table, item_id, text in _items_text(db, changed):
        for topic_id, name, compiled in topics:
            hits = _hits(name, compiled, table, item_id, text)
            if hits is None:
                continue  # timed out: this item keeps what it had for this topic
            if hits:
                rows.append((topic_id, table, item_id, round(1 - 0.5 ** hits, 4), now))
            elif changed is not None:
                stale.append((topic_id, table, item_id))
    db.conn.executemany("DELETE FROM topic_items WHERE topic_id = ? AND item_table = ? AND "
                        "item_id = ?", stale)
    db.conn.executemany("INSERT OR REPLACE INTO topic_items VALUES (?, ?, ?, ?, ?)", rows)


def _stored_patterns(name: str, match: str) -> list | None:
    """A stored topic's patterns, or None (with a warning) if one is refused now: defined before
    patterns were checked, the topic is left as it is rather than stopping the analysis."""
    try:
        return [patterns.compile_pattern(t) for t in (str(m).strip() for m in json.loads(match))
                if t]
    except ValueError as exc:
        log.warning("topic %r skipped: %s; redefine it with `archiver topics add`", name, exc)
        return None


def _hits(name: str, compiled: list, table: str, item_id: str, text: str | None) -> int | None:
    """Matches of a topic's patterns in one item, or None if a pattern ran out of time."""
    if not text:
        return 0
    try:
        return sum(patterns.count(p, text) for p in compiled)
    except patterns.PatternTimeout as exc:
        log.warning("topic %r: pattern %r took over %s s on %s %s; item skipped for this "
                    "topic (rewrite the pattern without a repeat inside a repeat)", name,
                    str(exc), patterns.MATCH_TIMEOUT, table, item_id)
        return None


def after_fetch(db: sqlite_utils.Database, changed: dict[str, list[str]]) -> None:
    """Keep memberships current for new or changed items (called by archiver.app.ingest)."""
    ensure_topics(db)
    posts = list(changed.get("posts") or [])
    comments = list(changed.get("comments") or [])
    papers = list(changed.get("papers") or [])
    with db.conn:
        _sync_tag_topics(db)
        _sync_blog_topics(db)
        if papers:
            _sync_arxiv_topics(db)
        if posts:
            _assign_tags(db, posts)
            _assign_blog(db, posts)
        if comments:
            _assign_comments_by_thread(db, comments)
        _assign_arxiv(db, papers or [], {"posts": posts, "comments": comments})
        items = {"posts": posts, "comments": comments}
        _assign_user(db, None, {**items, "papers": papers})
        _assign_discovered(db, items)


# -- discovered topics -------------------------------------------------------------------------

EXTRA_STOP_WORDS = """
think like just don really people thing things way post comment comments https http www com org
lot does doesn didn isn aren wasn want know good make makes made sure point actually probably
maybe pretty quite seems say said says going yes agree also even much many well still might
would could should one two get got use used using time kind sort something anything
posts import imported newsletter subscribe subscribed email emails issue issues week weeks today
yesterday year years new read reading click via link links edit edited update updated thanks
thank pdf html page pages site blog blogs amp nbsp utm
""".split()
VECTORIZER = {"max_df": 0.5, "max_features": 20000, "sublinear_tf": True,
              "token_pattern": r"(?u)\b[a-zA-Z][a-zA-Z0-9-]+\b", "dtype": np.float32}
MIN_COMMENT_CHARS = 200  # short replies ("Agreed, thanks!") say little about a theme
MIN_SHARE = 0.25  # an item joins every theme holding at least this share of its weight
FIT_SAMPLE = 20000  # items the NMF is fitted on; the rest are only transformed


def _vectorizer(min_df: int):
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    stop = sorted(ENGLISH_STOP_WORDS | set(EXTRA_STOP_WORDS))
    return TfidfVectorizer(stop_words=stop, min_df=min_df, **VECTORIZER)


# Links, bare domains and e-mail addresses: their pieces ("mailchi", "mp") are not themes.
URL_DEBRIS = re.compile(r"https?://\S+|www\.\S+|\S+@\S+|\b[\w-]+(?:\.[\w-]+)*\."
                        r"(?:com|net|org|io|mp|ai|co|uk|de|fr|edu|gov|html?|php|substack)\b", re.I)


def _strip_quotes(text: str) -> str:
    return URL_DEBRIS.sub(" ", re.sub(r"(?m)^\s*>.*$", "", text or ""))


def _documents(db, since: str | None, until: str | None, limit: int | None) -> list[tuple]:
    """(table, id, text) sorted by table and id, so a fit is repeatable."""
    extra, params = period_sql("posted_at", since, until)
    docs = [("posts", r[0], r[1]) for r in db.execute(
        f"SELECT id, COALESCE(title, '') || '\n' || COALESCE(body_text, '') FROM posts "
        f"WHERE stub = 0 AND deleted = 0 {extra} ORDER BY id", params)]
    docs += [("comments", r[0], r[1]) for r in db.execute(
        f"SELECT id, body_text FROM comments WHERE length(body_text) >= ? {extra} ORDER BY id",
        [MIN_COMMENT_CHARS, *params])]
    if db["papers"].exists() and {"title", "abstract"} <= set(db["papers"].columns_dict):
        paper_where = extra.replace("posted_at", "published") if "published" in \
            db["papers"].columns_dict else ""
        docs += [("papers", r[0], r[1]) for r in db.execute(
            f"SELECT id, COALESCE(title, '') || '\n' || COALESCE(abstract, '') FROM papers "
            f"WHERE abstract IS NOT NULL {paper_where} ORDER BY id",
            params if paper_where else [])]
    docs = [(t, i, _strip_quotes(x)[:20000]) for t, i, x in docs]
    if limit and len(docs) > limit:  # an even, repeatable sample
        step = len(docs) / limit
        docs = [docs[int(i * step)] for i in range(limit)]
    return docs


def auto_k(n_docs: int) -> int:
    """About sqrt(n)/4 themes: 2 for 100 items, 8 for 1,000, 25 for 10,000, at most 40."""
    return int(min(40, max(2, round(math.sqrt(n_docs) / 4))))


@one_blas_thread
def discover(db: sqlite_utils.Database, k: int | str = "auto", since: str | None = None,
             until: str | None = None, max_items: int | None = None) -> list[dict]:
    """Find themes with TF-IDF + NMF, label them with c-TF-IDF terms, store them and members.

    Replaces the previously discovered topics. Deterministic for a given archive: documents are
    read in id order and NMF starts from a fixed seed.
    """

    ensure_topics(db)
    since, until = parse_date(since, "--since"), parse_date(until, "--until")
    docs = _documents(db, since, until, max_items)
    n_topics = auto_k(len(docs)) if str(k) == "auto" else _int_k(k)
    if len(docs) < max(10, 2 * n_topics):
        raise UsageError(f"only {len(docs)} items with enough text to discover {n_topics} topics;"
                         " archive more threads, widen --since, or lower --k")
    vectorizer = _vectorizer(min_df=2 if len(docs) < 5000 else 3)
    try:
        matrix = vectorizer.fit_transform([d[2] for d in docs])
    except ValueError as exc:
        raise UsageError("the items hold too few distinct words to find topics; "
                         "archive more threads first") from exc
    n_topics = min(n_topics, matrix.shape[1] - 1)
    weights, components = _fit_nonempty(matrix, n_topics)
    terms = vectorizer.get_feature_names_out()
    labels, shares = _memberships(weights)
    keywords = _ctfidf(matrix, labels, n_topics, terms)
    phrases = _phrases(docs, labels, n_topics, keywords)
    return _store_discovered(db, docs, labels, shares, keywords, components, terms,
                             vectorizer, matrix, since, until, phrases)


def _fit_nonempty(matrix, n_topics: int, tries: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """NMF weights and components for exactly ``n_topics`` themes that each lead some item.

    NMF can leave a component that no item prefers (an empty theme); then a model with more
    components is fitted and its ``n_topics`` most-preferred components kept, each item moving
    to its best kept theme, so ``--k N`` gives N non-empty topics."""
    from sklearn.decomposition import NMF

    extra = 0
    for _ in range(tries):
        model = NMF(n_components=min(n_topics + extra, matrix.shape[1] - 1), init="nndsvda",
                    random_state=RANDOM_STATE, max_iter=300, tol=1e-3)
        if matrix.shape[0] > FIT_SAMPLE:
            # Themes are learnt from an evenly spaced sample (4x faster at 100k items), then
            # every item is placed in them.
            model.fit(matrix[np.linspace(0, matrix.shape[0] - 1, FIT_SAMPLE).astype(int)])
            weights = model.transform(matrix)
        else:
            weights = model.fit_transform(matrix)
        live = weights.sum(axis=1) > 0
        sizes = np.bincount(weights[live].argmax(axis=1), minlength=weights.shape[1])
        keep = np.sort(np.argsort(-sizes, kind="stable")[:n_topics])
        kept = weights[:, keep]
        final = np.bincount(kept[live].argmax(axis=1), minlength=len(keep))
        if len(keep) == n_topics and (final > 0).all():
            return kept, model.components_[keep]
        extra += max(1, int((final == 0).sum()) + n_topics - len(keep))
    return kept, model.components_[keep]


def _int_k(k) -> int:
    try:
        value = int(k)
    except (TypeError, ValueError):
        raise UsageError(f"--k must be a number of topics or 'auto', not {k!r}") from None
    if value < 2:
        raise UsageError("--k must be at least 2")
    return value


def _memberships(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    totals = weights.sum(axis=1, keepdims=True)
    shares = np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)
    labels = np.where(totals.ravel() > 0, shares.argmax(axis=1), -1)
    return labels, shares


def _ctfidf(matrix, labels: np.ndarray, n_topics: int, terms) -> list[list[tuple[str, float]]]:
    """Class-based TF-IDF: terms frequent in one theme and rare in the others."""
    from scipy import sparse

    rows = np.where(labels >= 0)[0]
    onehot = sparse.csr_matrix((np.ones(len(rows)), (labels[rows], rows)),
                               shape=(n_topics, matrix.shape[0]))
    per_class = np.asarray((onehot @ (matrix > 0).astype(np.float32)).todense())
    tf = per_class / np.maximum(per_class.sum(axis=1, keepdims=True), 1e-9)
    average = per_class.sum() / max(n_topics, 1)
    idf = np.log(1 + average / np.maximum(per_class.sum(axis=0), 1e-9))
    scores = tf * idf
    out = []
    for row in scores:
        top = np.argsort(-row, kind="stable")[:15]
        out.append([(str(terms[i]), float(row[i])) for i in top if row[i] > 0])
    return out


def name_from_keywords(keywords: list[str], size: int = 3) -> str:
    """A short readable name from the top terms: "Reward model, RLHF & preferences"."""
    chosen: list[str] = []
    words: set[str] = set()
    for term in keywords:
        parts = set(term.split())
        if parts <= words or any(term in c or c in term for c in chosen):
            continue
        chosen.append(term)
        words |= parts
        if len(chosen) == size:
            break
    if not chosen:
        return "Miscellaneous"
    text = chosen[0] if len(chosen) == 1 else ", ".join(chosen[:-1]) + " & " + chosen[-1]
    return text[0].upper() + text[1:]


GENERIC = frozenset(EXTRA_STOP_WORDS) | frozenset("""
et al fig figure table section paper papers work result results approach approaches method
methods model models data example examples question questions answer answers problem problems
""".split())
PHRASE_DOCS = 120  # member documents read per theme for its label (their first 3,000 chars)


def _phrases(docs, labels: np.ndarray, n_topics: int, keywords) -> dict[int, list[str]]:
    """Each theme's best 2-3 word phrases as written ("iterated amplification"), scored by how
    often they occur in its items times how characteristic their words are (c-TF-IDF)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    generic = GENERIC | ENGLISH_STOP_WORDS
    out: dict[int, list[str]] = {}
    for t in range(n_topics):
        weight = {w: score for w, score in keywords[t]}
        top = {w for w, _ in keywords[t][:5]}
        members = np.where(labels == t)[0][:PHRASE_DOCS]
        texts = [docs[i][2][:3000] for i in members]
        if not weight or len(texts) < 1:
            continue
        counter = CountVectorizer(ngram_range=(2, 3), token_pattern=VECTORIZER["token_pattern"],
                                  lowercase=True, binary=True)
        try:
            counts = counter.fit_transform(texts)
        except ValueError:
            continue
        grams = counter.get_feature_names_out()
        freq = np.asarray(counts.sum(axis=0)).ravel()
        scored = []
        for gram, n in zip(grams, freq):
            parts = gram.split()
            if n < 2 or any(p in generic or len(p) < 3 for p in parts):
                continue
            if not set(parts) & top:
                continue  # a phrase must carry one of the theme's defining words
            # Every word should be characteristic; a third word must earn its place.
            score = n * sum(weight.get(p, 0.0) for p in parts) / len(parts) ** 0.5
            scored.append((score * (0.8 if len(parts) == 3 else 1.0), gram))
        scored.sort(key=lambda x: (-x[0], x[1]))
        out[t] = [g for _, g in scored[:10]]
    return out


def label_from_phrases(phrases: list[str], keywords: list[str]) -> str:
    """A name from the best phrases ("Iterated amplification & debate"); keywords otherwise."""
    chosen: list[str] = []
    for phrase in phrases:
        if any(set(phrase.split()) & set(c.split()) for c in chosen):
            continue  # "sparse autoencoders" after "sparse autoencoder features": say it once
        chosen.append(phrase)
        if len(chosen) == 2:
            break
    if not chosen:
        return name_from_keywords([k for k in keywords if k not in GENERIC] or keywords)
    text = " & ".join(chosen)
    return text[0].upper() + text[1:]


def _store_discovered(db, docs, labels, shares, keywords, components, terms, vectorizer, matrix,
                      since, until, phrases=None) -> list[dict]:
    now = now_utc()
    sizes = Counter(int(x) for x in labels if x >= 0)
    order = sorted(range(len(keywords)), key=lambda t: (-sizes.get(t, 0), keywords[t][:1]))
    idf = vectorizer.idf_
    results = []
    with db.conn:
        db.conn.execute("DELETE FROM topic_items WHERE topic_id IN "
                        "(SELECT id FROM topics WHERE kind = 'discovered')")
        db.conn.execute("DELETE FROM topics WHERE kind = 'discovered'")
        used: set[str] = set()
        for t in order:
            if not sizes.get(t):
                continue  # a component no item prefers: no theme
            words = [w for w, _ in keywords[t]]
            name = _unique_name(label_from_phrases((phrases or {}).get(t, []), words), used)
            model = _topic_model(components[t], idf, terms, matrix, labels == t)
            topic_id = _upsert_topic(
                db, "discovered", name, keywords=json.dumps(words[:10]),
                weights=json.dumps(model), description=(
                    f"Discovered {now[:10]} from {len(docs)} items"
                    + (f" since {since}" if since else "") + (f" until {until}" if until else "")
                    + f" (TF-IDF + NMF, c-TF-IDF terms): {', '.join(words[:10])}"))
            # Its own items (the theme each prefers: every item has one) and the items
            # giving it a large share of their weight.
            members = np.where((shares[:, t] >= MIN_SHARE) | (labels == t))[0]
            db.conn.executemany(
                "INSERT OR REPLACE INTO topic_items VALUES (?, ?, ?, ?, ?)",
                [(topic_id, docs[i][0], docs[i][1], round(float(shares[i, t]), 4), now)
                 for i in members])
            results.append({"id": topic_id, "label": name, "keywords": words[:10],
                            "items": [docs[i][1] for i in members]})
    return results


def _unique_name(name: str, used: set[str]) -> str:
    candidate, n = name, 2
    while candidate.lower() in used:
        candidate, n = f"{name} ({n})", n + 1
    used.add(candidate.lower())
    return candidate


def _topic_model(component: np.ndarray, idf: np.ndarray, terms, matrix, members) -> dict:
    """The theme's top 100 terms (weight, idf) and a score threshold for later items."""
    top = np.argsort(-component, kind="stable")[:100]
    top = top[component[top] > 0]
    weights = component[top] / (np.linalg.norm(component[top]) or 1.0)
    scores = np.asarray(matrix[members][:, top] @ weights).ravel()
    # Half the score of the theme's weaker members: a new item this close is on the theme.
    threshold = 0.5 * float(np.percentile(scores, 10)) if len(scores) else 0.05
    return {"terms": {str(terms[i]): [round(float(w), 5), round(float(idf[i]), 4)]
                      for i, w in zip(top, weights)},
            "max_idf": round(float(idf.max()), 4), "threshold": round(max(threshold, 0.02), 5)}


def _assign_discovered(db, changed: dict[str, list[str]]) -> None:
    """Put new items in the nearest discovered theme, using each theme's stored top terms."""
    topics = {r[0]: json.loads(r[1]) for r in db.execute(
        "SELECT id, weights FROM topics WHERE kind = 'discovered' AND weights IS NOT NULL")}
    if not topics:
        return
    analyzer = _vectorizer(min_df=1).build_analyzer()
    now = now_utc()
    rows = []
    for table, item_id, text in _items_text(db, changed):
        if table == "comments" and len(text or "") < MIN_COMMENT_CHARS:
            continue
        counts = Counter(analyzer(_strip_quotes(text)))
        scores = {topic_id: _score(counts, model) for topic_id, model in topics.items()}
        total = sum(scores.values())
        for topic_id, score in scores.items():
            if score >= topics[topic_id]["threshold"] and total and score / total >= MIN_SHARE:
                rows.append((topic_id, table, item_id, round(score / total, 4), now))
    db.conn.executemany("INSERT OR REPLACE INTO topic_items VALUES (?, ?, ?, ?, ?)", rows)


def _score(counts: Counter, model: dict) -> float:
    """Cosine-like score of an item's TF-IDF vector against a theme's top-term weights."""
    if not counts:
        return 0.0
    known = model["terms"]
    default_idf = model["max_idf"]
    vector = {t: (1 + math.log(c)) * (known[t][1] if t in known else default_idf)
              for t, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
    return sum(vector[t] * known[t][0] for t in vector if t in known) / norm
