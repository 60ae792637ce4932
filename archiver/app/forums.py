"""Archive forum threads and users: resolve the URL to a source, fetch, store, analyse."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

import sqlite_utils

from archiver.app.ingest import ingest
from archiver.kernel.errors import UsageError
from archiver.kernel.http import ChallengeError, HttpStatusError
from archiver.kernel.records import Page
from archiver.sources import registry
from archiver.sources.contract import ForumSource
from archiver.sources.webapi import fallback_root
from archiver.store import Counts

log = logging.getLogger("archiver.app.forums")


def _counted(pages: Iterable[Page], on_page: Callable[[int], None] | None) -> Iterator[Page]:
    for page in pages:
        yield page
        if on_page:
            on_page(len(page.comments) + len(page.posts))


def fallback_for(site: str, fallback: str | None, endpoints: dict | None) -> str | None:
    """The fallback endpoint the user chose for ``site``: ``--fallback``, else
    ``<site>_fallback`` under ``[endpoints]``; None when neither (see ``fallback_root``)."""
    return fallback or (endpoints or {}).get(f"{site}_fallback")


def fallback_kwargs(source: ForumSource, fallback: str | None) -> dict:
    """``fallback=`` for a source with a second API of its own (declared as ``own_fallback``);
    other sources' fallbacks are whole other sources, tried here in ``archive_thread``."""
    return {"fallback": fallback} if source.own_fallback else {}


def archive_thread(db: sqlite_utils.Database, http, url: str, endpoint: str | None = None,
                   via: str = "api", on_page=None, fallback: str | None = None,
                   endpoints: dict | None = None) -> tuple[Counts, str]:
    """Fetch one thread into the archive; returns the counts and the thread's title.

    ``fallback`` (or ``<site>_fallback`` in ``endpoints``, the config's table) is where a
    fallback may go when ``endpoint`` is set; see ``webapi.fallback_root``.
    """
    source, ref = registry.resolve_thread(url)
    if via != "api":
        source = chosen_fallback(source, via)
    fallback = fallback_for(ref.site, fallback, endpoints)
    pages = source.fetch_thread(http, ref, endpoint=endpoint, **fallback_kwargs(source, fallback))
    try:
        counts = ingest(db, _counted(pages, on_page), "thread", ref.url, http)
    except (ChallengeError, HttpStatusError) as exc:
        other = fallback_after(source, exc, via)
        if other is None or other.public_root is None or not other.public_root(ref.site):
            raise
        target = fallback_root(endpoint, fallback, other.public_root(ref.site),
                               f"the {other.title} fallback", f"{ref.site}_fallback", exc)
        log.warning("%s refused the API (%s); fetching %s through %s (%s) instead",
                    ref.site, exc, ref.url, other.title, target)
        pages = other.fetch_thread(http, ref, endpoint=target)
        counts = ingest(db, _counted(pages, on_page), "thread", ref.url, http)
    row = db.execute("select title from posts where id = ?", [f"{ref.site}:{ref.thread_id}"]).fetchone()
    return counts, (row[0] if row and row[0] else ref.url)


def chosen_fallback(source: ForumSource, via: str) -> ForumSource:
    """``--via NAME``: the source's declared fallback, or a clear error for any other."""
    if source.fallback != via:
        raise UsageError(f"--via {via} does not apply to {source.title} threads"
                         + (f" (use --via {source.fallback})" if source.fallback else ""))
    return registry.by_name(via)


def fallback_after(source: ForumSource, exc: Exception, via: str) -> ForumSource | None:
    """The one place that decides whether a refused fetch is retried elsewhere: only when the user
    did not pick a route (--via api), the source declares a fallback, and the API refused us
    (403, 429 or a challenge page: LessWrong has answered scripts with each)."""
    refused = isinstance(exc, ChallengeError) or (
        isinstance(exc, HttpStatusError) and exc.status in (403, 429))
    if via != "api" or not source.fallback or not refused:
        return None
    return registry.by_name(source.fallback)


def archive_user(db: sqlite_utils.Database, http, who: str, site: str | None = None,
                 posts: int | None = None, comments: int | None = None, since: str | None = None,
                 endpoint: str | None = None, on_page=None, fallback: str | None = None,
                 endpoints: dict | None = None) -> tuple[Counts, str]:
    source, ref = registry.resolve_user(who, site)
    source.require("users", who)
    fallback = fallback_for(ref.site, fallback, endpoints)
    pages = source.fetch_user(http, ref, posts=posts, comments=comments, since=since,
                              endpoint=endpoint, **fallback_kwargs(source, fallback))
    counts = ingest(db, _counted(pages, on_page), "user", ref.url or who, http)
    row = db.execute("select name from users where site_id = ? and slug = ?",
                     [ref.site, ref.slug]).fetchone()
    return counts, (row[0] if row and row[0] else who)
