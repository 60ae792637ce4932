"""arXiv API (Atom, https://info.arxiv.org/help/api/user-manual.html): papers by author.

``archiver researcher "Adrian Del Maestro" --source arxiv`` queries ``au:"Adrian Del Maestro"``;
an explicit query such as ``au:del_maestro`` is passed as is (arXiv's own syntax, which also
matches "A. Del Maestro"). arXiv has no author ids or metrics: the researcher's id is derived
from the query (``arxiv:del_maestro``), the name is the commonest matching author name, and the
snapshot records the number of papers (``opensearch:totalResults``) as ``works_count``.

Entries give title, abstract, dates, authors, categories with the primary category
(``arxiv:primary_category``), DOI, journal reference, comment and links. Paging uses ``start``;
requests are spaced three seconds apart as arXiv asks. Errors come back as an Atom feed whose
single entry is titled "Error": its text is relayed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from urllib.parse import quote_plus

from archiver.kernel.errors import FetchError, NotFound, UsageError
from archiver.kernel.http import HttpStatusError
from archiver.kernel.paperids import normalise_arxiv_id, normalise_title
from archiver.kernel.records import (
    Page,
    Paper,
    PaperAuthor,
    Researcher,
    ResearcherMetrics,
    ResearcherPapers,
    iso_utc,
    now_utc,
)
from archiver.sources.contract import ResearcherSource
from archiver.sources.scholarly import ResearcherRef, pacer
from archiver.sources.webapi import root

NAME = "arxiv"
API = "http://export.arxiv.org"
SITE = "https://arxiv.org"
MIN_INTERVAL = 3.0
PAGE_SIZE = 100
ID_BATCH = 50
FIELD_QUERY = re.compile(r"^(?:au|ti|abs|co|jr|cat|rn|id|all):", re.I)


def _query_for(text: str) -> str:
    text = text.strip()
    if FIELD_QUERY.match(text):
        return text
    if not text:
        raise UsageError("give an author name or an arXiv query such as au:del_maestro")
    return f'au:"{" ".join(text.replace(chr(34), " ").split())}"'


def _slug(search_query: str) -> str:
    text = re.sub(r"^au:", "", search_query, flags=re.I)
    return re.sub(r"[^a-z0-9]+", "_", normalise_title(text)).strip("_") or "query"


def _get_feed(http, url: str, params: dict, interval: float | None):
    # Imported here, not with the module: the registry loads every source for any command, and
    # a forum thread run should not pay feedparser's ~15 ms.
    import feedparser

    pacer(http, NAME, MIN_INTERVAL, interval).wait()
    try:
        content = http.request("GET", url, params=params).content
    except HttpStatusError as exc:
        reason = _error_text(feedparser.parse((exc.body or "").encode()))
        if reason:
            raise UsageError(f"arXiv API: {reason}") from exc
        raise
    feed = feedparser.parse(content)
    reason = _error_text(feed)
    if reason:
        raise UsageError(f"arXiv API: {reason}")
    if feed.bozo and not feed.entries and "opensearch_totalresults" not in feed.feed:
        raise FetchError(f"{url}: the arXiv API did not answer with an Atom feed; try again later")
    return feed


def _error_text(feed) -> str | None:
    for entry in feed.entries:
        if "api/errors" in entry.get("id", "") or entry.get("title", "").strip() == "Error":
            return " ".join(entry.get("summary", "unknown error").split())
    return None


def _total(feed) -> int | None:
    value = feed.feed.get("opensearch_totalresults")
    return int(value) if value and str(value).isdigit() else None


# -- records ---------------------------------------------------------------------------------------


def parse_entry(entry, researcher_name: str | None = None,
                researcher_id: str | None = None) -> Paper | None:
    """One Atom entry as a Paper (None for an entry without a usable arXiv id)."""
    raw_id = entry.get("id", "")
    arxiv_id = normalise_arxiv_id(raw_id)
    if not arxiv_id:
        return None
    version = re.search(r"v(\d+)$", raw_id)
    wanted = normalise_title(researcher_name) if researcher_name else None
    authors = []
    for position, author in enumerate(entry.get("authors") or []):
        name = " ".join((author.get("name") or "?").split())
        mine = researcher_id if wanted and _same_person(name, wanted) else None
        authors.append(PaperAuthor(name=name, position=position, researcher_id=mine))
    links = {link.get("title") or link.get("rel"): link.get("href")
             for link in entry.get("links") or []}
    primary = (entry.get("arxiv_primary_category") or {}).get("term")
    categories = [t.get("term") for t in entry.get("tags") or [] if t.get("term")]
    published = iso_utc(entry.get("published"))
    extra = {
        "version": int(version[1]) if version else None, "comment": entry.get("arxiv_comment"),
        "journal_ref": entry.get("arxiv_journal_ref"), "published_at": published,
        "updated_at": iso_utc(entry.get("updated")), "pdf_url": links.get("pdf"),
    }
    return Paper(
        source=NAME, source_id=arxiv_id, title=" ".join(entry.get("title", "").split()) or None,
        abstract=" ".join(entry.get("summary", "").split()) or None,
        published=published[:10] if published else None,
        year=int(published[:4]) if published else None,
        venue=entry.get("arxiv_journal_ref"), doi=entry.get("arxiv_doi"), arxiv_id=arxiv_id,
        url=f"{SITE}/abs/{arxiv_id}", categories=categories,
        primary_category=primary or (categories[0] if categories else None),
        authors=authors, extra={k: v for k, v in extra.items() if v is not None},
    )


def _same_person(name: str, wanted: str) -> bool:
    """"A. Del Maestro" is "Adrian Del Maestro": same surname words, compatible initials."""
    have, want = normalise_title(name).split(), wanted.split()
    if not have or not want:
        return False
    if have == want:
        return True
    surname = [w for w in want if len(w) > 1][-2:]
    if surname and " ".join(have).endswith(" ".join(surname)):
        return have[0][0] == want[0][0] or len(want) == len(surname)
    return False


def _commonest_name(entries, search_query: str) -> str:
    words = [w for w in normalise_title(re.sub(r"^au:", "", search_query, flags=re.I)).split()
             if len(w) > 1]
    names: Counter[str] = Counter()
    for entry in entries:
        for author in entry.get("authors") or []:
            name = " ".join((author.get("name") or "").split())
            if name and all(w in normalise_title(name).split() for w in words):
                names[name] += 1
    if not names:
        return re.sub(r"^au:", "", search_query, flags=re.I).strip('"')
    # Prefer the fullest spelling among the most frequent ("Adrian Del Maestro" over "A. …").
    return max(names, key=lambda n: (names[n], len(n)))


# -- fetching ------------------------------------------------------------------------------------


def resolve_researcher(http, query: str, pick: int | None = None, endpoint: str | None = None,
                       interval: float | None = None) -> ResearcherRef:
    """The first result page for the author query (kept in ``ref.data`` for fetch_researcher)."""
    search_query = _query_for(query)
    url = f"{root(endpoint, API)}/api/query"
    params = {"search_query": search_query, "start": 0, "max_results": PAGE_SIZE,
              "sortBy": "submittedDate", "sortOrder": "descending"}
    feed = _get_feed(http, url, params, interval)
    if not feed.entries:
        raise NotFound(f"arXiv has no papers for {search_query}; check the name, or use arXiv "
                       "syntax such as au:del_maestro")
    name = _commonest_name(feed.entries, search_query)
    slug = _slug(search_query)
    return ResearcherRef(NAME, search_query, f"{NAME}:{slug}", name,
                         {"feed": feed, "search_query": search_query})


def fetch_researcher(http, ref: ResearcherRef, papers: int | None = None,
                     endpoint: str | None = None, forum_user_id: str | None = None,
                     progress: Callable[[int], None] | None = None,
                     interval: float | None = None) -> Iterator[Page]:
    feed = ref.data["feed"]
    search_query = ref.data["search_query"]
    total = _total(feed)
    researcher = Researcher(
        id=ref.id, source=NAME, source_id=search_query, name=ref.name or search_query,
        url=f"{SITE}/search/?searchtype=author&query={quote_plus(ref.name or search_query)}",
        forum_user_id=forum_user_id, extra={"search_query": search_query},
    )
    metrics: ResearcherMetrics | None = ResearcherMetrics(
        researcher_id=ref.id, captured_at=now_utc(),
        works_count=total if total is not None else len(feed.entries))
    url = f"{root(endpoint, API)}/api/query"
    start, fetched = 0, 0
    while True:
        limit = None if papers is None else papers - fetched
        entries = feed.entries if limit is None else feed.entries[:max(limit, 0)]
        batch = [p for p in (parse_entry(e, ref.name, ref.id) for e in entries) if p]
        fetched += len(batch)
        yield Page(other={"researcher_papers": [ResearcherPapers(researcher, batch, metrics)]})
        metrics = None
        if progress and batch:
            progress(len(batch))
        start += len(feed.entries)
        done = (papers is not None and fetched >= papers) or not feed.entries
        if done or (total is not None and start >= total):
            return
        params = {"search_query": search_query, "start": start, "max_results": PAGE_SIZE,
                  "sortBy": "submittedDate", "sortOrder": "descending"}
        feed = _get_feed(http, url, params, interval)


def fetch_by_ids(http, arxiv_ids: list[str], endpoint: str | None = None,
                 interval: float | None = None) -> list[Paper]:
    """Metadata for known arXiv ids (``archiver papers --fill``), ``ID_BATCH`` per request."""
    url = f"{root(endpoint, API)}/api/query"
    found = []
    for start in range(0, len(arxiv_ids), ID_BATCH):
        chunk = arxiv_ids[start:start + ID_BATCH]
        feed = _get_feed(http, url, {"id_list": ",".join(chunk), "max_results": len(chunk)},
                         interval)
        found += [p for p in (parse_entry(e) for e in feed.entries) if p and p.title]
    return found


SOURCE = ResearcherSource(
    name=NAME, title="arXiv", resolve_researcher=resolve_researcher,
    fetch_researcher=fetch_researcher, description="The arXiv API: an author query's papers.",
)
