"""Tables the analysis derives (exchanges, topics, summaries): their declarations, owned by the
store.

The analysis modules compute the rows; the store declares and creates the tables, so opening a
database never imports analysis code (the store sits below analysis in the layers).
"""

from __future__ import annotations

import sqlite_utils

from archiver.store.tables import Index, Table, View, ensure_table

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


EXCHANGES_VIEW = View(
    name="exchanges_view",
    sql=VIEW_SQL,
    inherits="exchanges",
    description=("Exchanges with names, titles and URLs: \"quoter quoted source_author: «quote» → "
                 "reply\"."),
    docs={
        "quoter": "Who quoted.",
        "quoter_slug": "Their slug.",
        "source_author": "Who was quoted.",
        "source_slug": "Their slug.",
        "item_url": "Link to the quoting comment or post.",
        "post_title": "Thread title.",
        "post_url": "Thread link.",
        "source_url": "Link to the quoted item.",
        "source_title": "The quoted item's thread.",
    },
    sort=("posted_at", True),
    facets=("kind", "quoter", "source_author"),
)


EXCHANGE_TABLES = [
    Table(
        name="exchanges",
        columns=EXCHANGE_COLUMNS,
        pk="id",
        foreign_keys=(
            ("post_id", "posts", "id"), ("quoter_user_id", "users", "id"),
            ("source_user_id", "users", "id"),
        ),
        indexes=(
            Index(("item_id",)), Index(("post_id", "posted_at")), Index(("source_id",)),
            Index(("quoter_user_id",)), Index(("source_user_id",)),
        ),
        index_foreign_keys=False,
        fts=("quote", "reply"),
        views=(EXCHANGES_VIEW,),
        description=("One row per quote found in a post or comment: who quoted what, from whom, and"
                     " what they answered. Read them with names and links in exchanges_view."),
        docs={
            "quoter_user_id": "Who quoted (users.id).",
            "quoter_author": "Who quoted (name).",
            "quote": "The quoted text, as written.",
            "reply": "The text answering the quote (up to the next quote).",
            "attribution": "An attribution line, if the quote had one (\"X wrote:\").",
            "source_id": "The quoted item (a post or comment id), if found.",
            "source_table": "posts or comments.",
            "source_user_id": "Author of the quoted item (users.id).",
            "source_author": "Author of the quoted item (name).",
            "source_start": "Start of the quoted passage in the source's body_text.",
            "source_end": "End of the quoted passage in the source's body_text.",
            "kind": ("Where the source was found: parent, ancestor, post, thread, archive, external"
                     " or unresolved."),
            "score": "Match score of the source (100 = exact).",
            "position": "Order of the quote within the quoting item.",
            "extracted_at": "When the exchange was extracted.",
            "posted_at": "When the quoting item was posted.",
        },
        sort=("posted_at", True),
        facets=("kind", "item_table"),
        export_as="exchange",
        derived=True,
    ),
    Table(
        name="exchange_turns",
        columns={
            "id": int, "exchange_id": int, "position": int, "speaker": str, "speaker_user_id": str,
            "text": str,
        },
        pk="id",
        foreign_keys=(
            ("exchange_id", "exchanges", "id"), ("speaker_user_id", "users", "id"),
        ),
        description="Speaker turns of quoted transcripts and dialogue posts (\"Name: text\").",
        docs={
            "exchange_id": "The exchange (exchanges.id).",
            "speaker": "Speaker's name.",
            "speaker_user_id": "Speaker as a forum user, when known.",
            "text": "What the speaker said.",
        },
        export_as="exchange_turn",
        derived=True,
    ),
    Table(
        name="exchange_scans",
        columns={
            "item_id": str, "item_table": str, "content_hash": str, "quotes": int,
            "scanned_at": str,
        },
        pk="item_id",
        without_rowid=True,
        description="Bookkeeping: which items were scanned for quotes, so re-runs skip them.",
        docs={
            "quotes": "Quotes found.",
            "scanned_at": "When scanned.",
        },
        export_as="exchange_scan",
        derived=True,
    ),
]


TOPICS = {
    "id": int, "kind": str, "name": str, "label": str, "keywords": str, "match": str,
    "weights": str, "description": str, "created_at": str, "updated_at": str,
}
TOPIC_ITEMS = {"topic_id": int, "item_table": str, "item_id": str, "score": float,
               "assigned_at": str}

# Each item's primary topic among its memberships: the highest score; on a tie a topic the user
# defined, then a site tag or blog section, an arXiv category, a discovered theme.
PRIMARY_SQL = """SELECT item_table, item_id, topic_id, kind, name, score FROM (
  SELECT ti.item_table, ti.item_id, ti.topic_id, t.kind, COALESCE(t.label, t.name) AS name,
         ti.score, row_number() OVER (PARTITION BY ti.item_table, ti.item_id ORDER BY ti.score DESC,
         CASE t.kind WHEN 'user' THEN 0 WHEN 'tag' THEN 1 WHEN 'blog-section' THEN 2
                     WHEN 'arxiv' THEN 3 ELSE 4 END, ti.topic_id) AS rank
  FROM topic_items ti JOIN topics t ON t.id = ti.topic_id) WHERE rank = 1"""

PRIMARY_TOPICS = View(
    name="primary_topics",
    sql=PRIMARY_SQL,
    description=("Each item's primary topic: its highest-scoring membership (on a tie a user topic,"
                 " then a tag or blog section, an arXiv category, a discovered theme)."),
    docs={
        "score": "The membership score of the primary topic.",
        "kind": "The topic's kind.",
        "name": "The topic's label or name.",
    },
    facets=("kind", "name", "item_table"),
)


TOPIC_TABLES = [
    Table(
        name="topics",
        columns=TOPICS,
        pk="id",
        indexes=(
            # Names are unique per kind whatever their case (a collation create_index cannot say).
            Index(("kind", "name"), unique=True,
                  sql="CREATE UNIQUE INDEX IF NOT EXISTS idx_topics_kind_name "
                      "ON topics (kind, name COLLATE NOCASE)"),
        ),
        views=(PRIMARY_TOPICS,),
        description=("Topics: site tags, arXiv categories, blog sections, your own (kind = user, "
                     "from the config or `archiver topics add`) and discovered ones."),
        docs={
            "kind": "tag, arxiv, blog-section, user or discovered.",
            "name": "Topic name.",
            "label": "Human-readable label.",
            "keywords": "Top distinctive terms as JSON.",
            "match": "A user topic's phrases / regular expressions as JSON.",
            "weights": "A discovered topic's term weights as JSON.",
            "description": "What the topic is about.",
        },
        label="name",
        facets=("kind",),
        export_as="topic",
        derived=True,
    ),
    Table(
        name="topic_items",
        columns=TOPIC_ITEMS,
        pk=("topic_id", "item_table", "item_id"),
        without_rowid=True,
        foreign_keys=(
            ("topic_id", "topics", "id"),
        ),
        # A topic's items are found through the primary key (topic_id first); the items' topics
        # through this index.
        indexes=(
            Index(("item_table", "item_id")),
        ),
        index_foreign_keys=False,
        description="Which item belongs to which topic, with a membership score.",
        docs={
            "score": "Membership score (higher = more central).",
            "assigned_at": "When it was assigned.",
        },
        sort=("score", True),
        facets=("topic_id", "item_table"),
        export_as="topic_item",
        derived=True,
    ),
]

SUMMARIES = {
    "id": int, "title": str, "topic_id": int, "topic_name": str, "post_id": str,
    "period_start": str, "period_end": str, "method": str, "created_at": str, "sentences": int,
    "markdown": str, "html": str, "json": str,
}

SUMMARY_TABLES = [
    Table(
        name="summaries",
        columns=SUMMARIES,
        pk="id",
        foreign_keys=(
            ("topic_id", "topics", "id"), ("post_id", "posts", "id"),
        ),
        indexes=(
            Index(("topic_id", "created_at")), Index(("post_id",)),
        ),
        index_foreign_keys=False,
        description=("Topic and thread reports: an extractive summary with a source after each "
                     "sentence, debates, threads by importance, papers, contributors. A row is "
                     "stored by `summarize --out/--save`; the same topic and period replaces its "
                     "row."),
        docs={
            "topic_name": "The topic's name.",
            "post_id": "The thread, for a thread summary.",
            "period_start": "Start of the period summarised (empty = from the beginning).",
            "period_end": "End of the period summarised (empty = up to the report).",
            "method": "How it was made (e.g. lexrank-mmr, +llm:MODEL).",
            "sentences": "Number of summary sentences.",
            "markdown": "The report as Markdown (rendered).",
            "html": "The report as HTML.",
            "json": "The report as JSON, every sentence with its source.",
        },
        label="title",
        sort=("created_at", True),
        facets=("topic_name", "method"),
        export_as="summary",
        derived=True,
    ),
]


def ensure_exchanges(db: sqlite_utils.Database) -> None:
    for table in EXCHANGE_TABLES:
        ensure_table(db, table)


def ensure_topics(db: sqlite_utils.Database) -> None:
    """The analysis calls this before writing topics (cheap: every step is "if not exists")."""
    for table in TOPIC_TABLES:
        ensure_table(db, table)


def ensure_summaries(db: sqlite_utils.Database) -> None:
    ensure_topics(db)
    for table in SUMMARY_TABLES:
        ensure_table(db, table)
