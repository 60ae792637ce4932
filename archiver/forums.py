"""Archive forum threads and users: resolve the URL to a source, fetch, store, analyse."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator

import sqlite_utils

from archiver.errors import UsageError
from archiver.http import ChallengeError, HttpStatusError
from archiver.ingest import ingest
from archiver.records import Page, iso_utc
from archiver.sources import resolve_thread, resolve_user
from archiver.store import Counts

log = logging.getLogger("archiver.forums")


def parse_count(value: str | int | None, option: str) -> int | None:
    """``N`` or ``all`` (None = no limit)."""
    if value is None or str(value).lower() == "all":
        return None
    if str(value).isdigit():
        return int(value)
    raise UsageError(f"{option} takes a number or 'all', not {value!r}")


def parse_since(value: str | None) -> str | None:
    if not value:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ][\d:.]+Z?)?", value.strip()):
        raise UsageError(f"--since takes a date like 2024-05-01, not {value!r}")
    return iso_utc(value.strip().replace(" ", "T"))


def _counted(pages: Iterable[Page], on_page: Callable[[int], None] | None) -> Iterator[Page]:
    for page in pages:
        yield page
        if on_page:
            on_page(len(page.comments) + len(page.posts))


def fallback_for(site: str, fallback: str | None, endpoints: dict | None) -> str | None:
    """The fallback endpoint the user chose for ``site``: ``--fallback``, else
    ``<site>_fallback`` under ``[endpoints]``; None when neither (see ``fallback_root``)."""
    return fallback or (endpoints or {}).get(f"{site}_fallback")


def fallback_kwargs(module, fallback: str | None) -> dict:
    """Hacker News takes its fallback (the Firebase root) as ``firebase``; other sources have
    none inside the source (the GreaterWrong fallback happens here, in ``archive_thread``)."""
    return {"firebase": fallback} if module.NAME == "hackernews" else {}


def archive_thread(db: sqlite_utils.Database, http, url: str, endpoint: str | None = None,
                   via: str = "api", on_page=None, fallback: str | None = None,
                   endpoints: dict | None = None) -> tuple[Counts, str]:
    """Fetch one thread into the archive; returns the counts and the thread's title.

    ``fallback`` (or ``<site>_fallback`` in ``endpoints``, the config's table) is where a
    fallback may go when ``endpoint`` is set; see ``webapi.fallback_root``.
    """
    module, ref = resolve_thread(url)
    if via == "greaterwrong":
        from archiver.sources import greaterwrong as module
    fallback = fallback_for(ref.site, fallback, endpoints)
    pages = module.fetch_thread(http, ref, endpoint=endpoint, **fallback_kwargs(module, fallback))
    try:
        counts = ingest(db, _counted(pages, on_page), "thread", ref.url, http)
    except (ChallengeError, HttpStatusError) as exc:
        # LessWrong has answered scripts with 403, 429 or a challenge page: read the same thread
        # from GreaterWrong's HTML instead (same ids, same rows).
        refused = isinstance(exc, ChallengeError) or exc.status in (403, 429)
        if via != "api" or module.NAME != "forummagnum" or not refused:
            raise
        from archiver.sources import greaterwrong
        from archiver.sources.webapi import fallback_root

        if ref.site not in greaterwrong.ROOTS:
            raise
        target = fallback_root(endpoint, fallback, greaterwrong.ROOTS[ref.site],
                               "the GreaterWrong fallback", f"{ref.site}_fallback", exc)
        log.warning("%s refused the API (%s); fetching %s through GreaterWrong (%s) instead",
                    ref.site, exc, ref.url, target)
        pages = greaterwrong.fetch_thread(http, ref, endpoint=target)
        counts = ingest(db, _counted(pages, on_page), "thread", ref.url, http)
    row = db.execute("select title from posts where id = ?", [f"{ref.site}:{ref.thread_id}"]).fetchone()
    return counts, (row[0] if row and row[0] else ref.url)


def archive_user(db: sqlite_utils.Database, http, who: str, site: str | None = None,
                 posts: int | None = None, comments: int | None = None, since: str | None = None,
                 endpoint: str | None = None, on_page=None, fallback: str | None = None,
                 endpoints: dict | None = None) -> tuple[Counts, str]:
    module, ref = resolve_user(who, site)
    fetch = getattr(module, "fetch_user", None)
    if fetch is None:
        raise UsageError(f"{who}: archiving users is not supported for this site")
    fallback = fallback_for(ref.site, fallback, endpoints)
    pages = fetch(http, ref, posts=posts, comments=comments, since=since, endpoint=endpoint,
                  **fallback_kwargs(module, fallback))
    counts = ingest(db, _counted(pages, on_page), "user", ref.url or who, http)
    row = db.execute("select name from users where site_id = ? and slug = ?",
                     [ref.site, ref.slug]).fetchone()
    return counts, (row[0] if row and row[0] else who)
