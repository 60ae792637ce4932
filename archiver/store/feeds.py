"""What ``archiver feed`` remembers between runs, so each run only handles new or changed entries.

- ``feed_state``: one row per feed URL: its title and site, the ``ETag`` / ``Last-Modified`` the
  server sent (replayed as ``If-None-Match`` / ``If-Modified-Since``: an unchanged feed costs one
  304 response), when it was last fetched and how many entries it had.
- ``feed_entries``: one row per entry ever seen: its key (the entry's id, else its link), the post
  it was archived as, and a fingerprint (``updated`` date + hash of title, summary and content).
  An entry whose fingerprint is unchanged is skipped without fetching its article again.

Record kinds saved through ``Page.other`` (inside the page's transaction, so an entry is marked
seen only together with its post): ``"feed_entries"`` (objects with ``feed_url, entry_key,
post_id, updated, fingerprint``) and ``"feed_state"`` (objects with ``url, site_id, title, etag,
last_modified, status, entry_count``).
"""

from __future__ import annotations

import sqlite_utils

from archiver.store.save import Counts, Saver
from archiver.store.tables import Table, ensure_table

TABLES = [
    Table(
        name="feed_state",
        columns={
            "url": str, "site_id": str, "title": str, "etag": str, "last_modified": str,
            "fetched_at": str, "status": str, "entry_count": int,
        },
        pk="url",
        foreign_keys=(
            ("site_id", "sites", "id"),
        ),
        description="Feeds followed: ETag / Last-Modified for conditional requests, last fetch.",
        docs={
            "etag": "The ETag the server sent.",
            "last_modified": "The Last-Modified the server sent.",
            "fetched_at": "When the feed was last fetched.",
            "status": "Outcome of the last fetch.",
            "entry_count": "Entries in the feed at the last fetch.",
            "title": "The feed's title.",
        },
        label="title",
    ),
    Table(
        name="feed_entries",
        columns={
            "feed_url": str, "entry_key": str, "post_id": str, "updated": str, "fingerprint": str,
            "first_seen": str, "last_seen": str,
        },
        pk=("feed_url", "entry_key"),
        foreign_keys=(
            ("feed_url", "feed_state", "url"), ("post_id", "posts", "id"),
        ),
        description=("Every feed entry ever seen, the post it was archived as, and a fingerprint so"
                     " unchanged entries are skipped."),
        docs={
            "feed_url": "The feed (feed_state.url).",
            "entry_key": "The entry's id, else its link.",
            "updated": "The entry's updated date.",
            "fingerprint": "Hash of the entry's date, title, summary and content.",
        },
        export_as="feed_entry",
    ),
]


def ensure_schema(db: sqlite_utils.Database) -> None:
    for table in TABLES:
        ensure_table(db, table)


def known_entries(db: sqlite_utils.Database, feed_url: str) -> dict[str, str]:
    """entry key -> fingerprint of every entry archived from this feed."""
    return dict(db.execute(
        "SELECT entry_key, fingerprint FROM feed_entries WHERE feed_url = ?", [feed_url]).fetchall())


def feed_state(db: sqlite_utils.Database, feed_url: str) -> dict | None:
    rows = list(db.query("SELECT * FROM feed_state WHERE url = ?", [feed_url]))
    return rows[0] if rows else None


def save_feed_entries(db: sqlite_utils.Database, entries: list, now: str) -> Counts:
    db.conn.executemany(
        "INSERT INTO feed_entries (feed_url, entry_key, post_id, updated, fingerprint, "
        "first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(feed_url, entry_key) DO UPDATE SET post_id = excluded.post_id, "
        "updated = excluded.updated, fingerprint = excluded.fingerprint, "
        "last_seen = excluded.last_seen",
        [(e.feed_url, e.entry_key, e.post_id, e.updated, e.fingerprint, now, now)
         for e in entries],
    )
    return Counts()


def save_feed_state(db: sqlite_utils.Database, states: list, now: str) -> Counts:
    for s in states:
        db.conn.execute(
            "INSERT INTO feed_state (url, site_id, title, etag, last_modified, fetched_at, "
            "status, entry_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(url) DO UPDATE SET site_id = COALESCE(excluded.site_id, site_id), "
            "title = COALESCE(excluded.title, title), etag = excluded.etag, "
            "last_modified = excluded.last_modified, fetched_at = excluded.fetched_at, "
            "status = excluded.status, entry_count = COALESCE(excluded.entry_count, entry_count)",
            [s.url, s.site_id, s.title, s.etag, s.last_modified, now, s.status, s.entry_count],
        )
    return Counts()


# Page.other kind -> saver (archiver.store.save.other_savers lists these).
SAVERS: dict[str, Saver] = {"feed_entries": save_feed_entries, "feed_state": save_feed_state}
