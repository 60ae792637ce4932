"""One declaration per table: ``Table`` (and the ``View`` s it owns).

A declaration says everything archiver knows about a table: its columns with their types, primary
and foreign keys, indexes, full-text columns, the views built on it, and how it is shown and
exported (description, column descriptions, label column, sort, facets, JSON Lines type). The
module that owns the table declares it (``archiver.store.schema`` core tables, ``papers``,
``sections``, ``feeds``, ``derived``); ``archiver.store.schema.DECLARED`` lists them all, in
foreign-key order, and three readers use that one list: ``ensure_db_shape`` (creating and
extending tables), ``archiver.app.datasette`` (metadata) and ``archiver.app.jsonl`` (export and import).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlite_utils

# Columns that mean the same thing wherever they appear (a table's own ``docs`` win).
COMMON_DOCS = {
    "id": "Primary key. Archived items use site-qualified text ids: \"site:source id\".",
    "site_id": "The site this row comes from (sites.id).",
    "source_id": "The item's own id on its site.",
    "url": "Canonical URL on the site.",
    "title": "Title.",
    "user_id": "Author (users.id), when the site identifies users.",
    "author": "Author's display name as shown on the site (kept even without a users row).",
    "posted_at": "When it was posted (ISO 8601, UTC).",
    "edited_at": "When it was last edited upstream (ISO 8601, UTC), if known.",
    "score": "Karma / points / score on the site when last fetched.",
    "vote_count": "Number of votes, where the site reports it.",
    "af": "1 if it is Alignment Forum content (LessWrong and the AF share one document store).",
    "body_html": "The body as sanitised HTML (no scripts, styles or event handlers).",
    "body_markdown": "The body as Markdown (rendered by datasette-render-markdown); NULL when it "
                     "is the same as body_text (shown from there; in SQL "
                     "COALESCE(body_markdown, body_text)).",
    "body_text": "The body as plain text (quotes kept as \"> \" lines); full-text indexed.",
    "content_hash": "Hash of what the site sent; an unchanged hash means the row is not rewritten.",
    "first_seen": "When archiver first stored this row (ISO 8601, UTC).",
    "last_seen": "When archiver last saw it upstream (ISO 8601, UTC).",
    "deleted": "1 if deleted upstream; the archived text is kept.",
    "missing": "1 if it vanished from a complete fetch of its thread; the archived text is kept.",
    "extra": "Site-specific fields as JSON.",
    "stub": "1 if only known by reference (title/URL or id), not archived in full yet.",
    "post_id": "The thread's post (posts.id).",
    "paper_id": "The paper (papers.id).",
    "researcher_id": "The researcher (researchers.id, e.g. \"openalex:A…\").",
    "topic_id": "The topic (topics.id).",
    "item_table": "Which table item_id points into: posts or comments (or papers).",
    "item_id": "The post, comment or paper (an id in item_table).",
    "position": "Order within its parent, from 0.",
    "created_at": "When the row was created (ISO 8601, UTC).",
    "updated_at": "When the row was last updated (ISO 8601, UTC).",
    "name": "Name.",
    "kind": "Kind of row (see the table description).",
}


@dataclass(frozen=True, kw_only=True)
class Shown:
    """How a table or view is shown: Datasette reads these."""

    description: str = ""
    docs: dict[str, str] = field(default_factory=dict)  # column -> description
    label: str | None = None  # the column Datasette shows for a row that another row links to
    sort: tuple[str, bool] | None = None  # (column, descending)
    facets: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class View(Shown):
    name: str
    sql: str  # the SELECT
    inherits: str | None = None  # a table whose column descriptions apply here too

    @property
    def create_sql(self) -> str:
        return f"CREATE VIEW [{self.name}] AS\n{self.sql.strip()}"


@dataclass(frozen=True)
class Index:
    columns: tuple[str, ...]
    unique: bool = False
    # What sqlite-utils' create_index cannot say (a collation): the whole CREATE INDEX statement.
    sql: str | None = None


@dataclass(frozen=True, kw_only=True)
class Table(Shown):
    name: str
    columns: dict[str, type]
    pk: str | tuple[str, ...]
    foreign_keys: tuple[tuple[str, str, str], ...] = ()  # (column, other table, other column)
    indexes: tuple[Index, ...] = ()
    # Index every foreign-key column on its own too (the derived tables list theirs explicitly).
    index_foreign_keys: bool = True
    # Store the rows in the primary key's b-tree (``WITHOUT ROWID``): for a small-row table keyed by
    # text or several columns, a rowid table keeps every key twice (the table and its primary-key
    # index). Only for tables no FTS index and no query reads by rowid, whose rows are small.
    without_rowid: bool = False
    fts: tuple[str, ...] = ()  # columns of the porter-stemmed FTS5 table <name>_fts
    views: tuple[View, ...] = ()
    export_as: str = ""  # the JSON Lines "type" (default: the table name)
    exported: bool = True  # False for what describes the archive itself (runs, meta)
    # Rows archiver writes itself (analysis, bookkeeping), not fetched: an import that brings them
    # does not re-run the analysis over the imported items (it would renumber them).
    derived: bool = False

    @property
    def export_type(self) -> str:
        return self.export_as or self.name


def ensure_table(db: sqlite_utils.Database, table: Table) -> None:
    """Create ``table`` or add the columns it lacks; then its indexes, FTS and views."""
    made = db.table(table.name)
    if not made.exists():
        create_table(db, table)
    else:
        existing = set(made.columns_dict)
        for column, type_ in table.columns.items():
            if column not in existing:
                made.add_column(column, type_)
    for index in table.indexes:
        if index.sql:
            db.execute(index.sql)
        else:
            made.create_index(list(index.columns), if_not_exists=True, unique=index.unique)
    if table.index_foreign_keys:
        for column, _other, _ in table.foreign_keys:
            if not _covered(table, column):
                made.create_index([column], if_not_exists=True)
            elif not any(list(index.columns) == [column] for index in table.indexes):
                # Archives made before this rule have the redundant one-column index: drop it.
                db.execute(f"DROP INDEX IF EXISTS [idx_{table.name}_{column}]")
    if table.fts and not db[f"{table.name}_fts"].exists():
        made.enable_fts(list(table.fts), create_triggers=True, tokenize="porter")
    for view in table.views:
        ensure_view(db, view)


def create_table(db: sqlite_utils.Database, table: Table, name: str | None = None) -> None:
    """CREATE TABLE as declared (under ``name`` if given: a migration's rebuild)."""
    sql = db.create_table_sql(name or table.name, table.columns, pk=table.pk,
                              foreign_keys=list(table.foreign_keys))
    if table.without_rowid:
        sql = sql.strip().rstrip(";") + " WITHOUT ROWID"
    db.execute(sql)


def has_rowid(db: sqlite_utils.Database, name: str) -> bool:
    """False for a WITHOUT ROWID table (as SQLite stores its CREATE statement)."""
    row = db.execute("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?",
                     [name]).fetchone()
    return bool(row) and not re.search(r"WITHOUT\s+ROWID\s*$", row[0], re.IGNORECASE)


def _covered(table: Table, column: str) -> bool:
    """True when the primary key or a declared index already starts with ``column``: SQLite uses
    that one for lookups on the column alone, and a second index would only cost pages and
    slow every write."""
    pk = (table.pk,) if isinstance(table.pk, str) else table.pk
    return pk[0] == column or any(index.columns and index.columns[0] == column and not index.sql
                                  for index in table.indexes)


def ensure_view(db: sqlite_utils.Database, view: View) -> None:
    """Create the view, or replace it when its stored SQL differs (writes nothing otherwise)."""
    row = db.execute("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = ?",
                     [view.name]).fetchone()
    if row and row[0] == view.create_sql:
        return
    with db.conn:
        db.execute(f"DROP VIEW IF EXISTS [{view.name}]")
        db.execute(view.create_sql)
