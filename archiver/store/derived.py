"""Tables the analysis derives (exchanges, topics, summaries): their shapes, owned by the store.

The analysis modules compute the rows; the store declares and creates the tables, so opening a
database never imports analysis code (the store sits below analysis in the layers).
"""

from __future__ import annotations

import sqlite_utils

EXCHANGE_COLUMNS = {
    "id": int, "item_id": str, "item_table": str, "post_id": str, "quoter_user_id": str,
    "quoter_author": str, "posted_at": str, "quote": str, "reply": str, "attribution": str,
    "source_id": str, "source_table": str, "source_user_id": str, "source_author": str,
    "source_start": int, "source_end": int, "kind": str, "score": float, "position": int,
    "extracted_at": str,
}

VIEW_SQL = """SELECT e.id, e.kind, e.score,
  COALESCE(qu.name, e.quoter_author) AS quoter, qu.slug AS quoter_slug, e.quoter_user_id,
  COALESCE(su.name, e.source_author) AS source_author, su.slug AS source_slug, e.source_user_id,
  e.quote, e.reply, e.posted_at,
  e.item_table, e.item_id, COALESCE(qc.url, qp.url) AS item_url,
  e.post_id, p.title AS post_title, p.url AS post_url,
  e.source_table, e.source_id, COALESCE(sc.url, sp.url) AS source_url,
  COALESCE(scp.title, sp.title) AS source_title,
  e.source_start, e.source_end, e.position, e.attribution, e.extracted_at
FROM exchanges e
LEFT JOIN users qu ON qu.id = e.quoter_user_id
LEFT JOIN users su ON su.id = e.source_user_id
LEFT JOIN posts p ON p.id = e.post_id
LEFT JOIN comments qc ON e.item_table = 'comments' AND qc.id = e.item_id
LEFT JOIN posts qp ON e.item_table = 'posts' AND qp.id = e.item_id
LEFT JOIN comments sc ON e.source_table = 'comments' AND sc.id = e.source_id
LEFT JOIN posts scp ON scp.id = sc.post_id
LEFT JOIN posts sp ON e.source_table = 'posts' AND sp.id = e.source_id"""

def ensure_exchanges(db: sqlite_utils.Database) -> None:
    if not db["exchanges"].exists():
        db["exchanges"].create(
            EXCHANGE_COLUMNS, pk="id",
            foreign_keys=[("post_id", "posts", "id"), ("quoter_user_id", "users", "id"),
                          ("source_user_id", "users", "id")],
        )
    if not db["exchange_turns"].exists():
        db["exchange_turns"].create(
            {"id": int, "exchange_id": int, "position": int, "speaker": str,
             "speaker_user_id": str, "text": str},
            pk="id",
            foreign_keys=[("exchange_id", "exchanges", "id"), ("speaker_user_id", "users", "id")],
        )
    if not db["exchange_scans"].exists():
        db["exchange_scans"].create(
            {"item_id": str, "item_table": str, "content_hash": str, "quotes": int,
             "scanned_at": str},
            pk="item_id",
        )
    for columns in (["item_id"], ["post_id", "posted_at"], ["source_id"], ["quoter_user_id"],
                    ["source_user_id"]):
        db["exchanges"].create_index(columns, if_not_exists=True)
    db["exchange_turns"].create_index(["exchange_id"], if_not_exists=True)
    db["exchange_turns"].create_index(["speaker_user_id"], if_not_exists=True)
    if not db["exchanges_fts"].exists():
        db["exchanges"].enable_fts(["quote", "reply"], create_triggers=True, tokenize="porter")
    db.create_view("exchanges_view", VIEW_SQL, replace=True)


TOPICS = {
    "id": int, "kind": str, "name": str, "label": str, "keywords": str, "match": str,
    "weights": str, "description": str, "created_at": str, "updated_at": str,
}
TOPIC_ITEMS = {"topic_id": int, "item_table": str, "item_id": str, "score": float,
               "assigned_at": str}


def ensure_topics(db: sqlite_utils.Database) -> None:
    if not db["topics"].exists():
        db["topics"].create(TOPICS, pk="id")
    _add_missing(db, "topics", TOPICS)
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS idx_topics_kind_name "
               "ON topics (kind, name COLLATE NOCASE)")
    if not db["topic_items"].exists():
        db["topic_items"].create(TOPIC_ITEMS, pk=("topic_id", "item_table", "item_id"),
                                 foreign_keys=[("topic_id", "topics", "id")])
    db["topic_items"].create_index(["item_table", "item_id"], if_not_exists=True)
    db["topic_items"].create_index(["topic_id", "score"], if_not_exists=True)
    if "primary_topics" not in db.view_names():
        db.create_view("primary_topics", PRIMARY_SQL)


# Each item's primary topic among its memberships: the highest score; on a tie a topic the user
# defined, then a site tag or blog section, an arXiv category, a discovered theme.
PRIMARY_SQL = """SELECT item_table, item_id, topic_id, kind, name, score FROM (
  SELECT ti.item_table, ti.item_id, ti.topic_id, t.kind, COALESCE(t.label, t.name) AS name,
         ti.score, row_number() OVER (PARTITION BY ti.item_table, ti.item_id ORDER BY ti.score DESC,
         CASE t.kind WHEN 'user' THEN 0 WHEN 'tag' THEN 1 WHEN 'blog-section' THEN 2
                     WHEN 'arxiv' THEN 3 ELSE 4 END, ti.topic_id) AS rank
  FROM topic_items ti JOIN topics t ON t.id = ti.topic_id) WHERE rank = 1"""


def _add_missing(db, table: str, columns: dict) -> None:
    existing = set(db[table].columns_dict)
    for column, type_ in columns.items():
        if column not in existing:
            db[table].add_column(column, type_)


SUMMARIES = {
    "id": int, "title": str, "topic_id": int, "topic_name": str, "post_id": str,
    "period_start": str, "period_end": str, "method": str, "created_at": str, "sentences": int,
    "markdown": str, "html": str, "json": str,
}


def ensure_summaries(db: sqlite_utils.Database) -> None:
    ensure_topics(db)
    if not db["summaries"].exists():
        db["summaries"].create(SUMMARIES, pk="id", foreign_keys=[
            ("topic_id", "topics", "id"), ("post_id", "posts", "id")])
    else:
        existing = set(db["summaries"].columns_dict)
        for column, type_ in SUMMARIES.items():
            if column not in existing:
                db["summaries"].add_column(column, type_)
    for columns in (["topic_id", "created_at"], ["post_id"]):
        db["summaries"].create_index(columns, if_not_exists=True)
