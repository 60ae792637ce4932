"""RSS and Atom feeds (feedparser): every entry becomes a blog post, incrementally.

- The feed is fetched with ``If-None-Match`` / ``If-Modified-Since`` from the last run
  (``feed_state``): a 304 answer ends the run at once.
- Each entry has a key (its id, else its link) and a fingerprint (updated date + hash of title,
  summary and content). Entries seen before with the same fingerprint are skipped; only new or
  changed entries are archived (``feed_entries``).
- An entry carrying only a summary (no full content, or a short one ending in "…" / "Read more")
  has its article fetched through ``archiver.sources.blog``; if that fails the summary is kept and
  the post is marked ``summary_only`` in ``extra``.
- Posts get the same id as ``archiver page`` gives the article (``blog:<host>:<path>``).
"""

from __future__ import annotations

import calendar
import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import feedparser

from archiver.kernel import text
from archiver.kernel.errors import ArchiverError, UsageError
from archiver.kernel.records import Page, Post, Site, Tag, iso_utc, make_id
from archiver.sources import blog

log = logging.getLogger("archiver.feed")

TRUNCATED = re.compile(r"(\.\.\.|…|\[…\]|\[\.\.\.\]|read more|continue reading|\(more\))\W*$", re.I)
# A feed body at least this long (plain text) is taken as the full article when it is not cut.
FULL_TEXT_CHARS = 1500


@dataclass
class FeedEntryState:
    feed_url: str
    entry_key: str
    post_id: str
    updated: str | None
    fingerprint: str


@dataclass
class FeedState:
    url: str
    site_id: str | None
    title: str | None
    etag: str | None
    last_modified: str | None
    status: str
    entry_count: int | None


@dataclass
class FeedReport:
    """What a run did, for the CLI to print."""

    url: str
    title: str | None = None
    not_modified: bool = False
    entries: int = 0
    archived: int = 0  # new or changed entries written
    unchanged: int = 0  # skipped: same fingerprint as last time
    fetched_articles: int = 0
    summary_only: list[str] = field(default_factory=list)  # links whose article fetch failed


def fetch_feed(http, url: str, known: dict[str, str], state: dict | None,
               report: FeedReport) -> Iterator[Page]:
    """Pages for the new or changed entries of a feed, then one with the feed's state."""
    url = blog.check_url(url)
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
                         "text/xml;q=0.8, */*;q=0.5"}
    if state and state.get("etag"):
        headers["If-None-Match"] = state["etag"]
    if state and state.get("last_modified"):
        headers["If-Modified-Since"] = state["last_modified"]
    response = http.request("GET", url, headers=headers)
    if response.status_code == 304:
        report.not_modified = True
        known_state = state or {}  # a server may answer 304 to a first, unconditional fetch
        report.title = known_state.get("title")
        yield Page(other={"feed_state": [FeedState(
            url, known_state.get("site_id"), report.title, known_state.get("etag"),
            known_state.get("last_modified"), "not-modified", None)]})
        return
    parsed = parse_feed(response.content, url, response.headers.get("Content-Type"))
    report.title = _clean(parsed.feed.get("title"))
    feed_site = blog.site_for(parsed.feed.get("link") or url, report.title)
    report.entries = len(parsed.entries)
    for entry in parsed.entries:
        key = entry_key(entry)
        mark = fingerprint(entry)
        if known.get(key) == mark:
            report.unchanged += 1
            continue
        page = entry_page(http, entry, url, feed_site, report)
        post = page.posts[0]
        page.other["feed_entries"] = [FeedEntryState(url, key, post.id, post.edited_at or
                                                     post.posted_at, mark)]
        report.archived += 1
        yield page
    yield Page(sites=[feed_site], other={"feed_state": [FeedState(
        url, feed_site.id, report.title, response.headers.get("ETag"),
        response.headers.get("Last-Modified"), "ok", len(parsed.entries))]})


def parse_feed(body: bytes, url: str, content_type: str | None = None):
    """feedparser's result, or a one-line error when the document is not a feed."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(body, response_headers=headers)
    if parsed.get("version"):
        return parsed
    head = body[:2048].lstrip().lower()
    if b"<html" in head or b"<!doctype html" in head:
        alternate = discover_feed(body.decode("utf-8", errors="replace"), url)
        hint = (f"; the page names its feed: run `archiver feed {alternate}`" if alternate
                else "; give the URL of its RSS or Atom feed (often /feed, /rss or /atom.xml)")
        raise UsageError(f"{url} is not an RSS or Atom feed but an HTML page{hint}")
    kind = (content_type or "unknown content type").split(";")[0]
    raise UsageError(f"{url} is not an RSS or Atom feed ({kind}, and feedparser found no feed "
                     "in it); check the URL")


def discover_feed(html: str, base: str) -> str | None:
    from urllib.parse import urljoin

    for tag in re.findall(r"<link\b[^>]*>", html, re.I):
        if re.search(r"type=[\"']application/(?:rss|atom)\+xml", tag, re.I):
            href = re.search(r"href=[\"']([^\"']+)", tag, re.I)
            if href:
                return urljoin(base, href.group(1))
    return None


def entry_key(entry) -> str:
    return entry.get("id") or entry.get("link") or "title:" + (entry.get("title") or "")


def _raw(entry, key: str):
    """The entry's own value (feedparser maps a missing ``updated`` to ``published`` with a
    deprecation warning; plain dict access does not)."""
    return dict.get(entry, key)


def fingerprint(entry) -> str:
    parts = [_raw(entry, "updated") or _raw(entry, "published") or "", entry.get("title") or "",
             entry.get("summary") or ""]
    parts += [c.get("value") or "" for c in entry.get("content") or []]
    return text.content_hash(*parts)


def _clean(value: str | None) -> str | None:
    value = " ".join((value or "").split())
    return value or None


def _when(entry, name: str) -> str | None:
    parsed = _raw(entry, f"{name}_parsed")
    if parsed:
        return iso_utc(calendar.timegm(parsed))
    raw = _raw(entry, name)
    return iso_utc(raw) if raw else None


def _edited(entry) -> str | None:
    published, updated = _when(entry, "published"), _when(entry, "updated")
    return updated if published and updated and updated != published else None


def _content(entry) -> str | None:
    """The longest full-content body the entry carries (Atom content, RSS content:encoded)."""
    bodies = [c.get("value") for c in entry.get("content") or [] if c.get("value")]
    return max(bodies, key=len) if bodies else None


def summary_only(entry) -> bool:
    """True when the feed gives only a teaser of the article."""
    body = _content(entry)
    if body is None:
        summary = text.html_to_text(entry.get("summary") or "") or ""
        return len(summary) < FULL_TEXT_CHARS or bool(TRUNCATED.search(summary))
    plain = text.html_to_text(body) or ""
    return len(plain) < 500 and bool(TRUNCATED.search(plain))


def entry_page(http, entry, feed_url: str, feed_site: Site, report: FeedReport) -> Page:
    link = entry.get("link")
    site = blog.site_for(link, feed_site.name if link and blog.host_of(link) ==
                         blog.host_of(feed_site.url) else None) if link else feed_site
    if link:
        source_id = blog.post_source_id(link)
    else:
        source_id = "entry:" + hashlib.sha1(entry_key(entry).encode()).hexdigest()[:16]
    body = _content(entry) or entry.get("summary")
    extra: dict = {"feed": feed_url, "entry_id": entry.get("id")}
    article = None
    if link and summary_only(entry):
        article = _fetch_article(http, link, report) if http is not None else None
        if article is None:
            extra["summary_only"] = True
    if article is not None:
        body = article.body_html
        extra["summary"] = text.html_to_text(entry.get("summary") or "") or None
    post = Post(
        id=make_id(site.id, source_id), site_id=site.id, source_id=source_id,
        url=blog.canonical_url(link) if link else None,
        title=_clean(entry.get("title")) or (article.title if article else None),
        author=_clean(entry.get("author")) or (article.author if article else None),
        posted_at=_when(entry, "published") or (article.published if article else None),
        edited_at=_edited(entry),
        kind="blog", body_html=body,
        tags=[Tag(id=make_id(site.id, "tag:" + t.term.strip().lower()), site_id=site.id,
                  name=t.term.strip(), slug=t.term.strip().lower())
              for t in entry.get("tags") or [] if t.get("term") and t.term.strip()],
        extra={k: v for k, v in extra.items() if v},
    )
    return Page(sites=[site], posts=[post],
                other={"sections": blog.split_sections(post.id, body)})


def _fetch_article(http, link: str, report: FeedReport):
    try:
        final_url, html = blog.fetch_html(http, link)
        article = blog.extract_article(html, final_url)
    except ArchiverError as exc:
        log.warning("%s: keeping the feed's summary (%s)", link, exc)
        report.summary_only.append(link)
        return None
    report.fetched_articles += 1
    return article
