"""Blog pages and feeds: fetch, then store through ``archiver.app.ingest`` (so every command
leaves a ``runs`` row and analysis runs on what changed)."""

from __future__ import annotations

import sqlite_utils

from archiver.app.ingest import ingest
from archiver.kernel.records import Post
from archiver.store import Counts
from archiver.store import feeds as feed_store


def archive_page(db: sqlite_utils.Database, http, url: str) -> tuple[Counts, Post]:
    """Fetch one article into the archive; returns the counts and the post as extracted."""
    from archiver.sources import blog

    page = blog.fetch_page(http, url)
    counts = ingest(db, [page], "page", url, http)
    return counts, page.posts[0]


def archive_feed(db: sqlite_utils.Database, http, url: str):
    """Archive a feed's new or changed entries; returns (counts, FeedReport)."""
    from archiver.sources import blog, feed

    url = blog.check_url(url)
    report = feed.FeedReport(url)
    pages = feed.fetch_feed(http, url, feed_store.known_entries(db, url),
                            feed_store.feed_state(db, url), report)
    counts = ingest(db, pages, "feed", url, http)
    return counts, report
