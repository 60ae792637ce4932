"""The database shape, declared once and applied idempotently by ``ensure_db_shape``.

Tables are created up front with explicit types (a first record full of nulls cannot fix a wrong
type), foreign keys are declared and indexed, FTS tables are kept current by triggers. The other
store modules' tables (papers, sections, feeds) and the analysis output (``derived``: exchanges,
topics, summaries) are made by the functions in ``EXTENSIONS``, imported here, never by name.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import sqlite_utils

from archiver.store import derived, feeds, papers, sections
from archiver.store.runs import mark_dead_runs

SCHEMA_VERSION = 1

# Bodies are stored three ways; every body-bearing table has these columns.
BODY = {"body_html": str, "body_markdown": str, "body_text": str}
# Bookkeeping on archived items: a hash of what the site sent (to skip unchanged rows cheaply),
# when we first and last saw it, and flags for upstream deletion / disappearance.
TRACKING = {
    "content_hash": str,
    "first_seen": str,
    "last_seen": str,
    "deleted": int,
    "missing": int,
    "extra": str,
}

TABLES: dict[str, dict] = {
    "sites": {
        "columns": {"id": str, "name": str, "url": str, "kind": str, "api_url": str},
        "pk": "id",
    },
    "users": {
        "columns": {
            "id": str, "site_id": str, "source_id": str, "slug": str, "name": str, "url": str,
            "bio_html": str, "bio_markdown": str, "bio_text": str, "karma": int, "af_karma": int,
            "post_count": int, "comment_count": int, "created_at": str, "stub": int,
            "content_hash": str, "first_seen": str, "last_seen": str, "profile_fetched_at": str,
        },
        "pk": "id",
        "foreign_keys": [("site_id", "sites", "id")],
    },
    "posts": {
        "columns": {
            "id": str, "site_id": str, "source_id": str, "url": str, "title": str, "user_id": str,
            "author": str, "posted_at": str, "edited_at": str, "score": int, "vote_count": int,
            "comment_count": int, "af": int, "question": int, "kind": str, "tags": str,
            **BODY, "stub": int, **TRACKING,
        },
        "pk": "id",
        "foreign_keys": [("site_id", "sites", "id"), ("user_id", "users", "id")],
    },
    "comments": {
        "columns": {
            "id": str, "site_id": str, "source_id": str, "post_id": str, "parent_id": str,
            "user_id": str, "author": str, "title": str, "url": str, "posted_at": str,
            "edited_at": str, "score": int, "vote_count": int, "af": int, "answer": int,
            "depth": int, "path": str, **BODY, **TRACKING,
        },
        "pk": "id",
        "foreign_keys": [
            ("site_id", "sites", "id"), ("post_id", "posts", "id"),
            ("parent_id", "comments", "id"), ("user_id", "users", "id"),
        ],
    },
    "tags": {
        "columns": {"id": str, "site_id": str, "name": str, "slug": str},
        "pk": "id",
        "foreign_keys": [("site_id", "sites", "id")],
    },
    "post_tags": {
        "columns": {"post_id": str, "tag_id": str},
        "pk": ("post_id", "tag_id"),
        "foreign_keys": [("post_id", "posts", "id"), ("tag_id", "tags", "id")],
    },
    # Every earlier version of an edited or deleted item: who wrote it, when it changed, what.
    "item_versions": {
        "columns": {
            "id": int, "item_table": str, "item_id": str, "version": int, "user_id": str,
            "edited_at": str, "archived_at": str, "replaced_at": str, "changed": str,
            "title": str, **BODY, "deleted": int,
        },
        "pk": "id",
        "foreign_keys": [("user_id", "users", "id")],
    },
    "runs": {
        "columns": {
            "id": int, "started_at": str, "ended_at": str, "command": str, "target": str,
            "status": str, "new": int, "updated": int, "unchanged": int, "requests": int,
            "error": str,
            # Which process wrote the row, so a killed run can be told from a running one.
            "pid": int, "host": str, "process": str,
        },
        "pk": "id",
    },
    "meta": {"columns": {"key": str, "value": str}, "pk": "key"},
    # Sync state keyed by (kind, key): when a thread was last fetched completely, a user's newest
    # archived comment, a feed's ETag, ... Never guessed from max(id).
    "sync_state": {
        "columns": {"kind": str, "key": str, "value": str, "updated_at": str},
        "pk": ("kind", "key"),
    },
}

INDEXES = [
    ("comments", ["post_id", "path"]),
    ("comments", ["user_id", "posted_at"]),
    ("comments", ["posted_at"]),
    ("comments", ["parent_id"]),
    ("posts", ["user_id", "posted_at"]),
    ("posts", ["posted_at"]),
    ("posts", ["site_id"]),
    ("users", ["site_id", "slug"]),
    ("post_tags", ["tag_id"]),
    ("item_versions", ["item_table", "item_id"]),
    ("runs", ["status"]),
]

FTS = {
    "posts": ["title", "body_text"],
    "comments": ["body_text"],
}

# The other tables' makers (papers, analysis output, sections, feeds), in foreign-key order.
EXTENSIONS: list[Callable[[sqlite_utils.Database], None]] = [
    papers.ensure_schema, derived.ensure_exchanges, sections.ensure_schema, feeds.ensure_schema,
    derived.ensure_topics, derived.ensure_summaries,
]


def open_db(path: str, must_exist: bool = False) -> sqlite_utils.Database:
    """Open (creating folders and schema as needed) with WAL and foreign keys.

    ``must_exist`` is for commands that only read or analyse what is archived: a database that
    is not there is an error, and nothing (no file, no folder) is created.
    """
    import os

    from archiver.errors import ArchiverError

    if must_exist and path != ":memory:" and not os.path.isfile(path):
        raise ArchiverError(f"no archive at {path}; archive something first (`archiver thread "
                            "URL`, `archiver import FILE`), try `archiver demo`, or pass --db")
    if path != ":memory:":
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
    db = sqlite_utils.Database(path)
    try:
        db.execute("PRAGMA busy_timeout = 15000")
        # A bigger page cache and memory-mapped reads: FTS queries over a large archive touch
        # many index pages (SQLite's default cache is 2 MB). Both fill up and count in the
        # process's resident memory: at 64 + 256 MB a 100k-comment ingest peaked at 535 MB,
        # at 32 + 32 MB at 250 MB.
        db.execute("PRAGMA cache_size = -32768")
        db.execute("PRAGMA mmap_size = 33554432")
        if path != ":memory:":
            _set_page_size(db)
            db.execute("PRAGMA journal_mode = WAL")
            # Safe with WAL (no corruption on a crash; at worst the last commit before a power
            # cut is lost) and it makes each page's commit, and creating a database, much faster.
            db.execute("PRAGMA synchronous = NORMAL")
        # Foreign keys are declared (Datasette links, documentation) but not enforced: a reply's
        # parent or a comment's post may legitimately not be archived yet.
        ensure_db_shape(db)
        mark_dead_runs(db)
    except sqlite3.DatabaseError as exc:
        read_only = _open_read_only(path, exc)
        if read_only is None:
            raise ArchiverError(_open_problem(path, exc)) from exc
        db.close()
        return read_only
    return db


# A forum comment row (its HTML, Markdown and text) is 1-3 KB: in SQLite's default 4 KB pages one
# fits where two do not, and up to half of each page stays empty (a 2,000-comment thread: 11.1
# MB). 8 KB pages hold three or four such rows (8.9 MB); 16 KB pages waste more on the many
# small tables and indexes (9.7 MB).
PAGE_SIZE = 8192


def _set_page_size(db: sqlite_utils.Database) -> None:
    """Only a database with no tables yet takes a page size (an archive keeps the one it has)."""
    if not db.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]:
        db.execute(f"PRAGMA page_size = {PAGE_SIZE}")


def _open_read_only(path: str, exc: Exception) -> sqlite_utils.Database | None:
    """An archive we may read but not write (a read-only folder or mount, an immutable file):
    opened read-only, so searching, listing and exporting still work; a command that writes then
    fails with "attempt to write a readonly database", which the CLI reports as read-only."""
    import os
    import urllib.parse

    from archiver.errors import ArchiverError

    text = str(exc)
    if path == ":memory:" or not os.path.isfile(path) or not (
            "readonly" in text or "unable to open" in text):
        return None
    location = "file:" + urllib.parse.quote(os.path.abspath(path))
    # mode=ro reads a WAL archive when its -shm file exists or can be created; in a read-only
    # folder without one, only immutable=1 (no locks: nobody can be writing it) can read it.
    for options in ("mode=ro", "immutable=1"):
        conn = sqlite3.connect(f"{location}?{options}", uri=True)
        try:
            conn.execute("PRAGMA busy_timeout = 15000")
            db = sqlite_utils.Database(conn)
            found = _stored_version(db)
        except sqlite3.DatabaseError:
            conn.close()
            continue
        if found != SCHEMA_VERSION:
            conn.close()
            what = "no archive tables" if found is None else f"schema {found}"
            raise ArchiverError(
                f"{path} is read-only and has {what} (this archiver uses schema "
                f"{SCHEMA_VERSION}); open it once where it is writable so it can be set up")
        return db
    return None


def _open_problem(path: str, exc: Exception) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return (f"{path}: the database is locked by another process (a sync or a writer); "
                "wait for it to finish and try again")
    if "readonly" in text or "read-only" in text:
        return f"{path}: the database is read-only; check the file's permissions or pass --db"
    if "not a database" in text or "malformed" in text or "encrypted" in text:
        return (f"{path}: not an SQLite database or corrupted ({text}); move it aside and "
                "pass --db to start a new archive")
    if "disk" in text or "full" in text:
        return f"{path}: cannot write ({text}); free some disk space and try again"
    return f"{path}: cannot open as an archive database ({text})"


def ensure_db_shape(db: sqlite_utils.Database) -> None:
    """Create or migrate the schema. An older archive is backed up before it is migrated."""
    found = _stored_version(db)
    if found is not None and found > SCHEMA_VERSION:
        from archiver.errors import ArchiverError

        raise ArchiverError(f"this database was written by a newer archiver (schema {found}, "
                            f"this one knows {SCHEMA_VERSION}); upgrade archiver")
    if found is not None and found < SCHEMA_VERSION:
        backup(db, found)
    _create_or_extend(db)
    for version in range(found or SCHEMA_VERSION, SCHEMA_VERSION):
        for step in MIGRATIONS.get(version + 1, []):
            step(db)
    if found != SCHEMA_VERSION:
        db["meta"].upsert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")


# version -> data migrations to run after the tables have been extended to that version's shape.
MIGRATIONS: dict[int, list] = {}


def _stored_version(db: sqlite_utils.Database) -> int | None:
    """None for a new database; 0 for an archive from before versioning."""
    if not db["posts"].exists():
        return None
    if not db["meta"].exists():
        return 0
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row and str(row[0]).isdigit() else 0


def backup(db: sqlite_utils.Database, version: int) -> str | None:
    """Copy the database next to itself (SQLite's online backup) before migrating it."""
    import logging
    import os
    import time

    row = db.execute("PRAGMA database_list").fetchone()
    path = row[2] if row else ""
    if not path:
        return None  # in-memory
    target = f"{path}.schema{version}-{time.strftime('%Y%m%d%H%M%S')}.bak"
    with sqlite3.connect(target) as copy:
        db.conn.backup(copy)
    logging.getLogger("archiver.store").warning(
        "migrating %s from schema %s to %s; a backup is at %s", os.path.basename(path), version,
        SCHEMA_VERSION, target)
    return target


def _create_or_extend(db: sqlite_utils.Database) -> None:
    for name, spec in TABLES.items():
        if not db[name].exists():
            db[name].create(
                spec["columns"], pk=spec["pk"], foreign_keys=spec.get("foreign_keys", []),
                not_null=spec.get("not_null"),
            )
        else:
            _add_missing_columns(db, name, spec["columns"])
    for table, columns in INDEXES:
        db[table].create_index(columns, if_not_exists=True)
    for table, spec in TABLES.items():
        for column, _other, _ in spec.get("foreign_keys", []):
            if not _covered(table, column):
                db[table].create_index([column], if_not_exists=True)
    _drop_redundant_indexes(db)
    for table, columns in FTS.items():
        if not db[f"{table}_fts"].exists():
            db[table].enable_fts(columns, create_triggers=True, tokenize="porter")
    for ensure in EXTENSIONS:
        ensure(db)


def _covered(table: str, column: str) -> bool:
    """True when a declared index already starts with ``column``: SQLite uses that one for
    lookups on the column alone, and a second index would only slow every write."""
    return any(t == table and columns[0] == column for t, columns in INDEXES)


def _drop_redundant_indexes(db: sqlite_utils.Database) -> None:
    """Archives made before ``_covered`` have single-column foreign-key indexes that a declared
    index makes redundant (``idx_comments_post_id``, ``idx_comments_user_id``): drop them."""
    for table, spec in TABLES.items():
        for column, _other, _ in spec.get("foreign_keys", []):
            if _covered(table, column) and (table, [column]) not in INDEXES:
                db.execute(f"DROP INDEX IF EXISTS idx_{table}_{column}")


def _add_missing_columns(db: sqlite_utils.Database, name: str, columns: dict) -> None:
    existing = set(db[name].columns_dict)
    for column, type_ in columns.items():
        if column not in existing:
            db[name].add_column(column, type_)
