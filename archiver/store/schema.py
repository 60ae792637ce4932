"""The database shape, declared once and applied idempotently by ``ensure_db_shape``.

Tables are created up front with explicit types (a first record full of nulls cannot fix a wrong
type), foreign keys are declared and indexed, FTS tables are kept current by triggers. This module
declares the core tables (``CORE``); the other store modules declare theirs (papers, sections,
feeds, and ``derived``: exchanges, topics, summaries), and ``DECLARED`` lists them all. Data
migrations are functions registered with ``@migration(version)`` and recorded in ``migrations``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import sqlite_utils

from archiver.store import derived, feeds, papers, problems, sections
from archiver.store.runs import mark_dead_runs
from archiver.store.tables import Index, Table, View, create_table, ensure_table, has_rowid

# 2: small link and bookkeeping tables stored WITHOUT ROWID (rebuilt by
# ``rebuild_without_rowid``).
SCHEMA_VERSION = 2

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

CORE = [
    Table(
        name="sites",
        columns={"id": str, "name": str, "url": str, "kind": str, "api_url": str},
        pk="id",
        description="Every site archived from: forums, blogs, paper sources.",
        docs={
            "name": "The site's name.",
            "url": "The site's home page.",
            "kind": ("Site family: the source that made the row (see the database description), "
                     "blog, feed or saved."),
            "api_url": "The API root used by default.",
        },
        label="name",
        export_as="site",
    ),
    Table(
        name="users",
        columns={
            "id": str, "site_id": str, "source_id": str, "slug": str, "name": str, "url": str,
            "bio_html": str, "bio_markdown": str, "bio_text": str, "karma": int, "af_karma": int,
            "post_count": int, "comment_count": int, "created_at": str, "stub": int,
            "content_hash": str, "first_seen": str, "last_seen": str, "profile_fetched_at": str,
        },
        pk="id",
        foreign_keys=(
            ("site_id", "sites", "id"),
        ),
        indexes=(
            Index(("site_id", "slug")),
        ),
        description="Forum users: full profiles (stub = 0) and authors seen in threads (stub = 1).",
        docs={
            "slug": "The user's URL slug on the site.",
            "name": "Display name.",
            "bio_html": "Profile bio as sanitised HTML.",
            "bio_markdown": "Profile bio as Markdown.",
            "bio_text": "Profile bio as plain text.",
            "karma": "Karma when last fetched.",
            "af_karma": "Alignment Forum karma when last fetched.",
            "post_count": "Posts, as the site counts them.",
            "comment_count": "Comments, as the site counts them.",
            "created_at": "When the account was created (ISO 8601, UTC).",
            "stub": "1 if only seen as an author; the profile has not been fetched.",
            "profile_fetched_at": "When the full profile was last fetched.",
        },
        label="name",
        sort=("karma", True),
        facets=("site_id", "stub"),
        export_as="user",
    ),
    Table(
        name="tags",
        columns={"id": str, "site_id": str, "name": str, "slug": str},
        pk="id",
        foreign_keys=(
            ("site_id", "sites", "id"),
        ),
        description="Forum tags and blog categories.",
        docs={
            "name": "Tag name.",
            "slug": "Tag slug on the site.",
        },
        label="name",
        facets=("site_id",),
        export_as="tag",
    ),
    Table(
        name="posts",
        columns={
            "id": str, "site_id": str, "source_id": str, "url": str, "title": str, "user_id": str,
            "author": str, "posted_at": str, "edited_at": str, "score": int, "vote_count": int,
            "comment_count": int, "af": int, "question": int, "kind": str, "tags": str,
            **BODY, "stub": int, **TRACKING,
        },
        pk="id",
        foreign_keys=(
            ("site_id", "sites", "id"), ("user_id", "users", "id"),
        ),
        indexes=(
            Index(("user_id", "posted_at")), Index(("posted_at",)), Index(("site_id",)),
        ),
        fts=("title", "body_text"),
        description=("Posts (thread starters), blog articles and feed entries. Stubs are posts "
                     "known only by title/URL, e.g. from a user's comment list."),
        docs={
            "comment_count": "Comments, as the site counts them.",
            "question": "1 for question posts (their answers are comments with answer = 1).",
            "kind": "post, question, blog, link, paper-review or feed-entry.",
            "tags": "Tag names as a JSON list (the links are in post_tags).",
        },
        label="title",
        sort=("posted_at", True),
        facets=("site_id", "kind", "af"),
        export_as="post",
    ),
    Table(
        name="post_tags",
        columns={"post_id": str, "tag_id": str},
        pk=("post_id", "tag_id"),
        without_rowid=True,
        foreign_keys=(
            ("post_id", "posts", "id"), ("tag_id", "tags", "id"),
        ),
        indexes=(
            Index(("tag_id",)),
        ),
        description="Which post carries which tag.",
        docs={
            "tag_id": "The tag (tags.id).",
        },
        export_as="post_tag",
    ),
    Table(
        name="comments",
        columns={
            "id": str, "site_id": str, "source_id": str, "post_id": str, "parent_id": str,
            "user_id": str, "author": str, "title": str, "url": str, "posted_at": str,
            "edited_at": str, "score": int, "vote_count": int, "af": int, "answer": int,
            "depth": int, "path": str, **BODY, **TRACKING,
        },
        pk="id",
        foreign_keys=(
            ("site_id", "sites", "id"), ("post_id", "posts", "id"),
            ("parent_id", "comments", "id"), ("user_id", "users", "id"),
        ),
        indexes=(
            Index(("post_id", "path")), Index(("user_id", "posted_at")), Index(("posted_at",)),
            Index(("parent_id",)),
        ),
        fts=("body_text",),
        description=("Every comment, answer and reply. Sort by path to read a thread in order; "
                     "depth is the nesting level."),
        docs={
            "parent_id": "The comment this replies to (comments.id); empty for top-level comments.",
            "title": "\"Author: first words\", a readable label for links.",
            "answer": "1 if it is an answer to a question post.",
            "depth": "Nesting level: 0 for top-level comments.",
            "path": ("Sortable thread path (timestamps and ids of the ancestors): ORDER BY path "
                     "reads the thread top to bottom."),
        },
        label="title",
        sort=("posted_at", True),
        facets=("site_id", "post_id", "user_id"),
        export_as="comment",
    ),
    # Every earlier version of an edited or deleted item: who wrote it, when it changed, what.
    Table(
        name="item_versions",
        columns={
            "id": int, "item_table": str, "item_id": str, "version": int, "user_id": str,
            "edited_at": str, "archived_at": str, "replaced_at": str, "changed": str,
            "title": str, **BODY, "deleted": int,
        },
        pk="id",
        foreign_keys=(
            ("user_id", "users", "id"),
        ),
        indexes=(
            Index(("item_table", "item_id")),
        ),
        description=("Earlier versions of edited or deleted posts and comments: who wrote it, when "
                     "it changed, what changed. Nothing archived is ever lost."),
        docs={
            "version": "1 for the first archived version, then 2, 3, …",
            "archived_at": "When this version was first archived.",
            "replaced_at": "When a newer version replaced it.",
            "changed": "Which fields changed, as a JSON list.",
            "deleted": "1 if this version was already flagged deleted.",
            "edited_at": "The upstream edit time of this version.",
            "title": "The title in this version.",
        },
        sort=("replaced_at", True),
        facets=("item_table",),
        export_as="item_version",
    ),
    Table(
        name="runs",
        columns={
            "id": int, "started_at": str, "ended_at": str, "command": str, "target": str,
            "status": str, "new": int, "updated": int, "unchanged": int, "requests": int,
            "error": str,
            # Which process wrote the row, so a killed run can be told from a running one.
            "pid": int, "host": str, "process": str,
        },
        pk="id",
        indexes=(
            Index(("status",)),
        ),
        description=("One row per fetching command (and one parent row per sync): when, what, "
                     "outcome, counts, requests made and the error, if any."),
        docs={
            "started_at": "Start (ISO 8601, UTC).",
            "ended_at": "End (ISO 8601, UTC).",
            "command": "thread, user, feed, researcher, sync, sync thread, sync user, …",
            "target": "What was fetched (a URL, a slug, the watch list).",
            "status": "running, ok, partial, failed or interrupted.",
            "new": "Rows added.",
            "updated": "Rows changed upstream and rewritten.",
            "unchanged": "Rows fetched but unchanged (not rewritten).",
            "requests": "HTTP requests made.",
            "error": "What went wrong, if anything.",
            "pid": "Process id of the command that wrote the row.",
            "host": "Machine it ran on.",
            "process": ("Identity of that process (boot id and start time): a run whose process is "
                        "gone is marked interrupted."),
        },
        sort=("id", True),
        facets=("command", "status"),
        exported=False,
        derived=True,
    ),
    Table(
        name="meta",
        columns={"key": str, "value": str},
        pk="key",
        description="Archive settings, e.g. the schema version.",
        docs={
            "key": "Setting name.",
            "value": "Setting value.",
        },
        exported=False,
        derived=True,
    ),
    # Sync state keyed by (kind, key): when a thread was last fetched completely, a user's newest
    # archived comment, a feed's ETag, ... Never guessed from max(id).
    Table(
        name="sync_state",
        columns={"kind": str, "key": str, "value": str, "updated_at": str},
        pk=("kind", "key"),
        without_rowid=True,
        description=("Where `archiver sync` left off, per item (kind): thread_fetched (last "
                     "complete fetch by any command), thread_full (last complete fetch by a "
                     "sync, the base of its next re-check), thread_synced, user_synced, "
                     "tag_synced, researcher_synced, feed_synced (cursors), thread_signature "
                     "(the change check's last answer), tag_id (a watched tag's id on its "
                     "site), watch_thread (threads a watched tag brought in), topic_defined "
                     "(the definition last applied), analysis_pending (items waiting for "
                     "exchanges, mentions and topics)."),
        docs={
            "kind": "What the state is about.",
            "key": "Which item (an id, slug or URL).",
            "value": "The cursor or state (usually an ISO 8601 UTC time).",
        },
        sort=("updated_at", True),
        facets=("kind",),
        derived=True,
    ),
    # Which registered migrations (``@migration``) have run on this archive, and when.
    Table(
        name="migrations",
        columns={"name": str, "version": int, "applied_at": str},
        pk="name",
        description="Data migrations applied to this archive: which, for which schema version, when.",
        docs={"name": "The migration function's name.",
              "version": "The schema version it brings the archive to.",
              "applied_at": "When it ran (ISO 8601, UTC)."},
        exported=False,
        derived=True,
    ),

]

# Every table archiver declares, in foreign-key order (a table after those its keys point at):
# ensure_db_shape creates them, archiver.app.datasette describes them, archiver.app.jsonl exports them.
# A module that owns tables adds its list here, by name: nothing registers itself on import.
DECLARED: list[Table] = [
    *CORE, *papers.TABLES, *derived.EXCHANGE_TABLES, *sections.TABLES, *feeds.TABLES,
    *derived.TOPIC_TABLES, *derived.SUMMARY_TABLES,
]


def declared(name: str) -> Table | None:
    return next((t for t in DECLARED if t.name == name), None)


def declared_views() -> list[View]:
    return [view for table in DECLARED for view in table.views]


def open_db(path: str, must_exist: bool = False) -> sqlite_utils.Database:
    """Open (creating folders and schema as needed) with WAL and foreign keys.

    ``must_exist`` is for commands that only read or analyse what is archived: a database that
    is not there is an error, and nothing (no file, no folder) is created.
    """
    import os

    from archiver.kernel.errors import ArchiverError

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
            raise ArchiverError(problems.explain(exc, path)) from exc
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

    from archiver.kernel.errors import ArchiverError

    text = str(exc)
    if path == ":memory:" or not os.path.isfile(path) or not (
            problems.is_read_only(exc) or "unable to open" in text):
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


def ensure_db_shape(db: sqlite_utils.Database) -> None:
    """Create or migrate the schema. An older archive is backed up before it is migrated."""
    found = _stored_version(db)
    if found is not None and found > SCHEMA_VERSION:
        from archiver.kernel.errors import ArchiverError

        raise ArchiverError(f"this database was written by a newer archiver (schema {found}, "
                            f"this one knows {SCHEMA_VERSION}); upgrade archiver")
    if found is not None and found < SCHEMA_VERSION:
        backup(db, found)
    for table in DECLARED:
        ensure_table(db, table)
    _run_migrations(db, found)
    if found != SCHEMA_VERSION:
        db.table("meta").upsert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")


Migration = Callable[[sqlite_utils.Database], None]
# Data migrations, in the order they run: (schema version they bring the archive to, function).
MIGRATIONS: list[tuple[int, Migration]] = []


def migration(version: int) -> Callable[[Migration], Migration]:
    """Register a data migration to run once per archive, after the tables have been extended to
    the declared shape (new columns and tables exist). Recorded by function name in
    ``migrations``, so it never runs twice, even when a later one fails; an archive already at
    ``version`` (a new one) records it without running it. ``version`` is the SCHEMA_VERSION
    that introduces it: raise SCHEMA_VERSION with it, so older archives are backed up first."""

    def register(function: Migration) -> Migration:
        MIGRATIONS.append((version, function))
        return function

    return register


def _run_migrations(db: sqlite_utils.Database, found: int | None) -> None:
    """Run each registered migration the archive has not had: only on an archive whose stored
    version is older than the migration's (one made in that shape already has what it does)."""
    from archiver.kernel.records import now_utc

    done = {row[0] for row in db.execute("SELECT name FROM migrations")}
    for version, function in sorted(MIGRATIONS, key=lambda item: item[0]):
        if function.__name__ in done or version > SCHEMA_VERSION:
            continue
        with db.conn:  # the migration and its record commit together
            if found is not None and found < version:
                function(db)
            db.execute("INSERT INTO migrations (name, version, applied_at) VALUES (?, ?, ?)",
                       [function.__name__, version, now_utc()])


@migration(2)
def rebuild_without_rowid(db: sqlite_utils.Database) -> None:
    """Store the tables declared ``without_rowid`` that way: copy each into a new table, drop
    the old one and its indexes (among them those no query needs any more), rename, index as
    declared. A table with a NULL in a primary-key column (a rowid table allows it, WITHOUT
    ROWID does not) is left as it is: no row is dropped to save space."""
    if not db.conn.in_transaction:
        db.execute("BEGIN")  # the CREATE too: a failure leaves no half-built table behind
    for table in DECLARED:
        if table.without_rowid and has_rowid(db, table.name) and not _null_keys(db, table):
            _rebuild(db, table)


def _null_keys(db: sqlite_utils.Database, table: Table) -> bool:
    pk = (table.pk,) if isinstance(table.pk, str) else table.pk
    where = " OR ".join(f"[{column}] IS NULL" for column in pk)
    return db.execute(f"SELECT 1 FROM [{table.name}] WHERE {where} LIMIT 1").fetchone() is not None


def _rebuild(db: sqlite_utils.Database, table: Table) -> None:
    new = f"_rebuild_{table.name}"
    columns = ", ".join(f"[{c}]" for c in db[table.name].columns_dict)
    create_table(db, table, name=new)
    for column in set(db[table.name].columns_dict) - set(table.columns):
        db.execute(f"ALTER TABLE [{new}] ADD COLUMN [{column}]")  # a column added by hand stays
    db.execute(f"INSERT INTO [{new}] ({columns}) SELECT {columns} FROM [{table.name}]")
    db.execute(f"DROP TABLE [{table.name}]")
    # Legacy renaming leaves the views alone: they name the table, which is the new one again.
    db.execute("PRAGMA legacy_alter_table = ON")
    try:
        db.execute(f"ALTER TABLE [{new}] RENAME TO [{table.name}]")
    finally:
        db.execute("PRAGMA legacy_alter_table = OFF")
    ensure_table(db, table)


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
