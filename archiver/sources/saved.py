"""Saved pages and files, offline: tell what a file is, and turn it into Pages.

Kinds (``--kind`` forces one; otherwise ``detect_kind`` decides from the content, not the name):

=====================  ==========================================================================
``jsonl``              archiver's own JSON Lines export (``archiver.app.jsonl``)
``researcher-profile`` a researcher's page on a paper aggregator, saved as text or HTML
``review-post``        a post reviewing papers (title, abstract, "My opinion:" for each)
``forum-profile``      a forum user's profile page: name, bio, sequences, recent comments
``hackernews``         a Hacker News thread: the page's HTML, or the Algolia ``items/<id>`` /
                       Firebase item JSON
``forummagnum``        a LessWrong / Alignment Forum / EA Forum GraphQL response (post, posts,
                       comments, user), a post page of those sites, or a LessWrong 1.0 post page
``greaterwrong``       a GreaterWrong post page
``reddit``             a thread's ``.json``, or its page (old Reddit, the 2018 redesign, today's)
``discourse``          a topic's ``/t/<id>.json`` (with ``--url``), or its page
``openalex``           an OpenAlex API response (author or works)
``semanticscholar``    a Semantic Scholar Graph API response (author, papers)
``arxiv``              an arXiv API Atom response
``feed``               an RSS or Atom feed (entries archived as blog posts, summaries as given)
``blog``               an article: HTML (trafilatura extracts it) or plain text
=====================  ==========================================================================

The capture date (for "Jan 12"-style dates without a year) is ``--captured`` or, when not given,
the file's modification time; the import report says which.
"""

from __future__ import annotations

import hashlib
import html as htmlmod
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import cast

from archiver.kernel import text
from archiver.kernel.errors import ArchiverError, FetchError, UsageError
from archiver.kernel.parse import parse_date
from archiver.kernel.records import Page, Post, Site, make_id
from archiver.sources import blog, registry, seedpages
from archiver.sources.kinds import API_KINDS, LAST_KINDS, OWN_KINDS, kinds  # noqa: F401

SAVED_SITE = Site(id="saved", name="Saved pages of unknown origin", url="", kind="saved")


@dataclass
class Saved:
    path: str
    data: bytes
    captured: date
    captured_from: str  # "--captured" | "file modification time"
    url: str | None = None
    name: str | None = None
    notes: list[str] = field(default_factory=list)
    summary: str | None = None

    @property
    def text(self) -> str:
        return blog.decode_html(self.data)


def read_saved(path: str, captured: str | None = None, url: str | None = None,
               name: str | None = None) -> Saved:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder; give files, or the folder's files") from None
    stamp = parse_date(captured, "--captured")  # None for nothing, blank included
    if stamp:
        when = date.fromisoformat(stamp[:10])
        source = "--captured"
    else:
        when = datetime.fromtimestamp(os.path.getmtime(path)).date()
        source = "file modification time"
    if url:
        url = blog.check_url(url)
    return Saved(path, data, when, source, url, name)


# -- detection ---------------------------------------------------------------------------------


def detect_kind(saved: Saved) -> str:
    head = saved.data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise UsageError(f"{saved.path}: the file is empty")
    if b"\x00" in head:
        raise UsageError(f"{saved.path}: a binary file, not a saved page; "
                         f"pass --kind ({', '.join(kinds())}) if it is one")
    if head[:1] in (b"{", b"["):
        return _json_kind(saved)
    lowered = head[:2048].lower()
    if lowered.startswith(b"<?xml") or lowered.startswith((b"<feed", b"<rss", b"<rdf")):
        if b"arxiv.org/api" in lowered or b"arxiv.org/schemas/atom" in saved.data[:20000]:
            return "arxiv"
        return "feed"
    if b"<html" in lowered or b"<!doctype html" in lowered or b"<body" in lowered:
        return _html_kind(saved)
    return cast(str, _text_kind(saved.path, saved.text))  # with a fallback: a kind, or it raises


def _json_kind(saved: Saved) -> str:
    content = saved.text
    first = content.lstrip().split("\n", 1)[0]
    try:
        obj = json.loads(content)
    except ValueError:
        obj = None
    if obj is None:
        try:
            line = json.loads(first)
        except ValueError:
            raise UsageError(f"{saved.path}: looks like JSON but does not parse; "
                             "is the file complete?") from None
        if isinstance(line, dict) and isinstance(line.get("type"), str):
            return "jsonl"
        raise UsageError(f"{saved.path}: JSON lines without a 'type'; not an archiver export")
    # The sources first: an API item such as HN Algolia's {"id": 1, "type": "story", ...} is one
    # line with a "type" too, and was once taken for a one-line export.
    kind = _source_kind(content, saved.url) or api_kind(obj)
    if kind:
        return kind
    if isinstance(obj, dict) and isinstance(obj.get("type"), str) and "\n" not in content.strip():
        return "jsonl"  # a one-line export
    names = ", ".join(s.title for s in registry.saved_sources())
    raise UsageError(f"{saved.path}: a JSON file archiver does not recognise (not a response of "
                     f"{names}, OpenAlex or Semantic Scholar, nor an archiver export); "
                     f"pass --kind ({', '.join(kinds())})")


def _source_kind(content: str, url: str | None) -> str | None:
    """The first forum source (by priority) that recognises the file as one of its own."""
    for source in registry.saved_sources():
        sniff = source.sniff_saved  # saved_sources() have one
        if sniff is not None and sniff(content, url):
            return source.name
    return None


def api_kind(obj) -> str | None:
    """Which researcher API a saved JSON response came from, by its documented shape."""
    if isinstance(obj, list):
        return api_kind(obj[0]) if obj and isinstance(obj[0], dict) else None
    if not isinstance(obj, dict):
        return None
    data = obj.get("data")
    ident = str(obj.get("id") or "")
    results = obj.get("results")
    if ident.startswith("https://openalex.org/") or (
            isinstance(results, list) and results and isinstance(results[0], dict)
            and str(results[0].get("id", "")).startswith("https://openalex.org/")):
        return "openalex"
    if "authorId" in obj or "paperId" in obj:
        return "semanticscholar"
    if isinstance(data, list) and data and isinstance(data[0], dict) and (
            "paperId" in data[0] or "authorId" in data[0]):
        return "semanticscholar"
    return None


def _html_kind(saved: Saved) -> str:
    html = saved.text
    url = saved.url or _html_url(html)
    kind = _source_kind(html, url)
    if kind:
        return kind
    _refuse_unread_thread(saved.path, html, url)
    plain = text.html_to_text(html) or ""
    kind = _text_kind(saved.path, plain, fallback=None)
    return kind or "blog"


# Elements marked as comments: a thread page that no source could read, not an article.
COMMENT_MARKUP = re.compile(r"<[a-z]+[^>]+(?:class|id)=[\"'][^\"']*comment", re.I)


def _refuse_unread_thread(path: str, html: str, url: str | None) -> None:
    """A page of a forum thread (its URL is one, and it shows comments) that no source claimed is
    an error, never a "blog post" that silently drops the comments."""
    if not url or len(COMMENT_MARKUP.findall(html, 0, 2_000_000)) < 3:
        return
    try:
        source, _ref = registry.resolve_thread(url)
    except ArchiverError:
        return
    raise UsageError(f"{path}: a {source.title} thread page archiver cannot read (not markup it "
                     f"knows); saved pages and API files it reads: "
                     f"{', '.join(s.name for s in registry.saved_sources())}. Fetch it with "
                     f"archiver thread {url}, or pass --kind blog to keep the page as an article")


def _text_kind(path: str, content: str, fallback: str | None = "blog") -> str | None:
    if seedpages.is_researcher_profile(content):
        return "researcher-profile"
    if seedpages.is_review_post(content):
        return "review-post"
    if seedpages.is_forum_profile(content):
        return "forum-profile"
    paragraphs = [p for p in re.split(r"\n\s*\n", content) if len(p.split()) >= 8]
    if fallback and len(paragraphs) >= 3 and len(content) >= 300:
        return fallback
    if fallback is None:
        return None
    raise UsageError(f"{path}: cannot tell what kind of saved page this is (too little text to "
                     f"be an article); pass --kind ({', '.join(kinds())})")


def _html_url(html: str) -> str | None:
    for pattern in (r"<link[^>]+rel=[\"']canonical[\"'][^>]*href=[\"']([^\"']+)",
                    r"<link[^>]+href=[\"']([^\"']+)[\"'][^>]*rel=[\"']canonical",
                    r"<meta[^>]+property=[\"']og:url[\"'][^>]*content=[\"']([^\"']+)"):
        match = re.search(pattern, html, re.I)
        if match and match.group(1).startswith(("http://", "https://")):
            return htmlmod.unescape(match.group(1))
    return None


# -- pages -------------------------------------------------------------------------------------


def pages_for(saved: Saved, kind: str, known_user=None) -> Iterator[Page]:
    """Records for one saved file. ``known_user(site_id, slug)`` may return the id an archived
    profile already has (the caller looks it up; a source never reads the database)."""
    if kind not in kinds() or kind == "jsonl":
        raise UsageError(f"unknown kind {kind!r}; use one of: {', '.join(kinds())}")
    if kind in API_KINDS:
        return _api(saved, kind)
    own = {
        "researcher-profile": _researcher_profile, "review-post": _review_post,
        "forum-profile": _forum_profile, "blog": _blog, "feed": _feed,
    }
    if kind in own:
        return own[kind](saved, known_user or _no_user)
    return _forum_saved(saved, registry.by_name(kind))


def _no_user(site_id: str, slug: str) -> None:
    return None


def _content_text(saved: Saved) -> str:
    """The file as text; an HTML file reduced to its readable text."""
    content = saved.text
    if re.search(r"<html|<body|<!doctype html", content[:4096], re.I):
        return text.html_to_text(content) or ""
    return content


def _note_dates(saved: Saved, assumed: bool) -> None:
    if assumed:
        saved.notes.append(
            f"dates without a year were resolved against the capture date "
            f"{saved.captured.isoformat()} ({saved.captured_from}"
            + ("; pass --captured DATE if the page was saved on another day)"
               if saved.captured_from != "--captured" else ")"))


def _researcher_profile(saved: Saved, known_user) -> Iterator[Page]:
    rp = seedpages.parse_researcher_profile(_content_text(saved), saved.captured, saved.url,
                                            saved.name)
    _note_dates(saved, any((p.extra or {}).get("year_assumed") for p in rp.papers))
    metrics = rp.metrics
    saved.summary = (f"researcher {rp.researcher.name}: {len(rp.papers)} papers"
                     + (f", h-index {metrics.h_index}" if metrics and metrics.h_index is not None
                        else ""))
    yield Page(other={"researcher_papers": [rp]})


def _origin(saved: Saved, content: str) -> tuple[Site, str, str | None]:
    """(site, post source id, canonical URL) of a saved post: from --url or the page, else a
    content hash under the ``saved`` site."""
    url = saved.url or (_html_url(saved.text) if "<" in saved.text[:4096] else None)
    if url:
        try:
            source, ref = registry.resolve_thread(url)
            return source.site_record(ref), ref.thread_id, ref.url
        except ArchiverError:
            pass
        return blog.site_for(url), blog.post_source_id(url), blog.canonical_url(url)
    digest = hashlib.sha1(re.sub(r"\s+", " ", content).strip().encode()).hexdigest()[:16]
    return SAVED_SITE, f"sha1-{digest}", None


@dataclass
class PaperReview:
    paper: object
    post_id: str
    comment_id: str | None
    position: int


def _review_post(saved: Saved, known_user) -> Iterator[Page]:
    content = _content_text(saved)
    review = seedpages.parse_review_post(content)
    site, source_id, url = _origin(saved, content)
    post = Post(id=make_id(site.id, source_id), site_id=site.id, source_id=source_id, url=url,
                title=saved.name, kind="paper-review",
                body_html=seedpages.review_body_html(review),
                extra={"saved_from": os.path.basename(saved.path),
                       "captured": saved.captured.isoformat()})
    comments, papers = seedpages.review_records(review, post)
    reviews = [PaperReview(paper, post.id, comment.id, n)
               for n, (paper, comment) in enumerate(zip(papers, comments))]
    saved.summary = f"review post: {len(papers)} papers with the reviewer's opinion"
    yield Page(sites=[site], posts=[post], comments=comments,
               other={"sections": blog.split_sections(post.id, post.body_html),
                      "paper_reviews": reviews})


@dataclass
class UserSequence:
    user_id: str
    position: int
    title: str
    url: str | None = None


def _forum_profile(saved: Saved, known_user) -> Iterator[Page]:
    profile = seedpages.parse_forum_profile(_content_text(saved))
    site, slug, url = SAVED_SITE, _slug(profile.name), None
    if saved.url:
        source, ref = registry.resolve_user(saved.url)
        site, slug, url = source.site_record(ref), ref.slug or slug, ref.url
    user_id = known_user(site.id, slug) or make_id(site.id, slug)
    user, holder, comments = seedpages.profile_records(profile, site.id, slug, user_id, url,
                                                       saved.captured)
    saved.summary = (f"forum profile {profile.name}: bio, {len(profile.sequences)} sequences, "
                     f"{len(comments)} comments")
    saved.notes.append("comments from a saved profile have no dates or post links; they are "
                       f"kept under the placeholder post {holder.id}")
    yield Page(sites=[site], users=[user], posts=[holder], comments=comments,
               other={"user_sequences": [UserSequence(user.id, n, title)
                                         for n, title in enumerate(profile.sequences)]})


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.fold(name)).strip("-") or "user"


def _blog(saved: Saved, known_user) -> Iterator[Page]:
    content = saved.text
    if re.search(r"<html|<body|<!doctype html|<p[ >]", content[:4096], re.I):
        article = blog.extract_article(content, saved.url or _html_url(content))
    else:
        article = blog.article_from_text(content, saved.url, saved.name)
    if saved.name:
        article.title = saved.name
    site, source_id, kind = None, None, "blog"
    origin = _origin(saved, text.html_to_text(article.body_html) or "")
    if not article.url or origin[0].kind not in ("blog", "saved"):
        # No URL, or a forum thread saved as a page: the forum's site and post id, not a blog's.
        site, source_id, url = origin
        article.url, kind = url or article.url, ("blog" if site.kind == "saved" else "post")
    page = blog.article_page(article, kind=kind, source_id=source_id, site=site,
                             extra={"saved_from": os.path.basename(saved.path)})
    sections = page.other["sections"]
    saved.summary = (f"blog post {article.title or page.posts[0].id}: "
                     f"{sum(1 for s in sections if s.heading)} sections")
    yield page


def _feed(saved: Saved, known_user) -> Iterator[Page]:
    from archiver.sources import feed  # feedparser: only for a feed, not every imported file

    url = saved.url or "file://" + os.path.abspath(saved.path)
    parsed = feed.parse_feed(saved.data, url)
    site = blog.site_for(parsed.feed.get("link") or saved.url, parsed.feed.get("title"))
    report = feed.FeedReport(url)
    for entry in parsed.entries:
        yield feed.entry_page(None, entry, url, site, report)
    saved.summary = f"feed {parsed.feed.get('title') or ''}: {len(parsed.entries)} entries"


def _forum_saved(saved: Saved, source) -> Iterator[Page]:
    """A forum source's own saved page or API response, parsed by the source."""
    try:
        pages = source.parse_saved(saved.text, saved.url)
    except UsageError as exc:
        raise UsageError(f"{saved.path}: {exc}") from None
    except (FetchError, KeyError, TypeError, ValueError, AttributeError) as exc:
        # A file shaped like the source's but with fields of the wrong type or missing (hand-
        # edited, or truncated by a browser; the coercion layer reports a missing id as a
        # FetchError): one line naming it, never a traceback.
        reason = exc if isinstance(exc, FetchError) else f"{type(exc).__name__}: {exc}"
        raise UsageError(f"{saved.path}: a damaged {source.title} file ({reason}); save it again "
                         "or pass --kind") from None
    if pages is None:
        raise UsageError(f"{saved.path}: not a saved {source.title} page or response")
    for page in pages:
        # A saved file is a snapshot, often of part of a thread: never let it flag the comments
        # it does not show as vanished (that is what complete_post_ids asks the store to do).
        page.complete_post_ids, page.seen_comment_ids = [], []
    posts = sum(len(p.posts) for p in pages)
    comments = sum(len(p.comments) for p in pages)
    users = sum(len(p.users) for p in pages)
    saved.summary = f"{source.title}: {posts} posts, {comments} comments, {users} users"
    yield from pages


# -- research APIs (OpenAlex, Semantic Scholar, arXiv) -------------------------------------------


def _api(saved: Saved, kind: str) -> Iterator[Page]:
    """A saved API response, read with the researcher sources' own record parsers."""
    captured = saved.captured.isoformat() + "T00:00:00Z"
    if kind == "arxiv":
        batches, papers = _arxiv_saved(saved.data, captured)
    else:
        obj = json.loads(saved.text)
        parse = _openalex_saved if kind == "openalex" else _semanticscholar_saved
        batches, papers = parse(obj, captured)
    if not batches and not papers:
        raise UsageError(f"{saved.path}: a {kind} response with no researcher or paper in it")
    count = len(papers) + sum(len(b.papers) for b in batches)
    names = ", ".join(b.researcher.name for b in batches)
    saved.summary = f"{kind} response: " + (f"researcher {names}, " if names else "") + \
        f"{count} papers"
    other: dict = {}
    if batches:
        other["researcher_papers"] = batches
    if papers:
        other["papers"] = papers
    return iter([Page(other=other)])


def _openalex_saved(obj, captured: str):
    from archiver.kernel.records import ResearcherPapers
    from archiver.sources import openalex

    items = obj.get("results") if isinstance(obj, dict) and "results" in obj else obj
    items = items if isinstance(items, list) else [items]
    batches, papers = [], []
    for item in items:
        ident = str((item or {}).get("id", "")).rstrip("/").rsplit("/", 1)[-1]
        if ident.startswith("A"):
            researcher = openalex.parse_author(item)
            batches.append(ResearcherPapers(
                researcher, [], openalex.parse_metrics(item, researcher.id, captured)))
        elif ident.startswith("W"):
            papers.append(openalex.parse_work(item))
    return batches, papers


def _semanticscholar_saved(obj, captured: str):
    from archiver.kernel.records import ResearcherPapers
    from archiver.sources import semanticscholar as s2

    items = obj.get("data") if isinstance(obj, dict) and isinstance(obj.get("data"), list) \
        else obj
    items = items if isinstance(items, list) else [items]
    batches, papers = [], []
    for item in items:
        if not isinstance(item, dict):
            continue
        if "paperId" in item:
            papers.append(s2.parse_paper(item))
        elif "authorId" in item:
            researcher = s2.parse_author(item)
            own = [s2.parse_paper(p) for p in item.get("papers") or [] if p.get("paperId")]
            batches.append(ResearcherPapers(
                researcher, own, s2.parse_metrics(item, researcher.id, captured)))
    return batches, papers


def _arxiv_saved(data: bytes, captured: str):
    import feedparser

    from archiver.kernel.records import Researcher, ResearcherMetrics, ResearcherPapers
    from archiver.sources import arxiv

    feed = feedparser.parse(data)
    links = " ".join([feed.feed.get("title", "")] + [
        link.get("href", "") for link in feed.feed.get("links") or []])
    match = re.search(r"search_query(?:=|%3D)([^&\s]+)", links)
    query = _unquote(match.group(1)) if match else None
    if query and query.lower().startswith("au:"):
        name = arxiv._commonest_name(feed.entries, query)
        rid = make_id("arxiv", arxiv._slug(query))
        researcher = Researcher(id=rid, source="arxiv", source_id=query, name=name,
                                extra={"search_query": query})
        total = feed.feed.get("opensearch_totalresults")
        papers = [p for p in (arxiv.parse_entry(e, name, rid) for e in feed.entries) if p]
        metrics = ResearcherMetrics(
            researcher_id=rid, captured_at=captured,
            works_count=int(total) if str(total or "").isdigit() else len(papers))
        return [ResearcherPapers(researcher, papers, metrics)], []
    return [], [p for p in (arxiv.parse_entry(e) for e in feed.entries) if p]


def _unquote(value: str) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(unquote_plus(value))
