"""OpenAlex (https://docs.openalex.org): researcher profiles, metrics and works.

- An author by OpenAlex id (``A5023888391``, ``https://openalex.org/A5023888391``), ORCID
  (``0000-0002-1825-0097`` or its URL) or name (``/authors?search=``; several matches ask for
  ``--pick N``).
- Metrics from the author object: ``summary_stats.h_index``/``i10_index``, ``works_count``,
  ``cited_by_count`` (plus ``2yr_mean_citedness`` in the snapshot's extra).
- Works from ``/works?filter=author.id:A…`` with cursor paging (``meta.next_cursor``), newest
  first. Abstracts are rebuilt from ``abstract_inverted_index``; the venue is
  ``primary_location.source.display_name``; the arXiv id comes from an arXiv location or an arXiv
  DOI (10.48550/arXiv.…).
- Politeness: ``mailto`` (the configured contact) puts us in the polite pool; ``OPENALEX_API_KEY``
  in the environment is sent as ``api_key`` (OpenAlex's free keys lift the daily budget).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from urllib.parse import quote

from archiver.kernel.errors import FetchError, NotFound, UsageError
from archiver.kernel.http import DEFAULT_CONTACT, HttpStatusError
from archiver.kernel.paperids import normalise_arxiv_id, normalise_doi
from archiver.kernel.records import (
    Page,
    Paper,
    PaperAuthor,
    Researcher,
    ResearcherMetrics,
    ResearcherPapers,
    now_utc,
)
from archiver.sources.contract import ResearcherSource
from archiver.sources.scholarly import Candidate, ResearcherRef, choose
from archiver.sources.webapi import root, status_error

NAME = "openalex"
API = "https://api.openalex.org"
SITE = "https://openalex.org"
# The current API reference allows 1-100 results per page (older docs said 200).
PER_PAGE = 100
SEARCH_CANDIDATES = 10

AUTHOR_ID = re.compile(r"^(?:https?://(?:api\.)?openalex\.org/(?:authors/)?|openalex:)?(A\d+)/?$",
                       re.I)
ORCID = re.compile(r"^(?:https?://(?:www\.)?orcid\.org/|orcid:)?(\d{4}-\d{4}-\d{4}-\d{3}[\dX])/?$",
                   re.I)
ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/([^?#\s]+?)(?:\.pdf)?/?$", re.I)


def _params(http, **extra) -> dict:
    params = dict(extra)
    contact = http.settings.contact or os.environ.get("ARCHIVER_CONTACT")
    if contact and contact != DEFAULT_CONTACT:
        params["mailto"] = contact
    if os.environ.get("OPENALEX_API_KEY"):
        params["api_key"] = os.environ["OPENALEX_API_KEY"]
    return params


def _get(http, url: str, what: str, **params):
    try:
        return http.get_json(url, params=_params(http, **params))
    except HttpStatusError as exc:
        refused = ("check OPENALEX_API_KEY or try later" if os.environ.get("OPENALEX_API_KEY")
                   else "set OPENALEX_API_KEY (a free key from openalex.org/settings/api) or "
                        "try later")
        raise status_error(exc, what, "OpenAlex", "check the id", refused) from exc


# -- resolving a researcher ----------------------------------------------------------------------


def resolve_researcher(http, query: str, pick: int | None = None, endpoint: str | None = None,
                       interval: float | None = None) -> ResearcherRef:
    query = query.strip()
    if not query:
        raise UsageError("give an OpenAlex author id, an ORCID or a name")
    base = root(endpoint, API)
    author_id = AUTHOR_ID.match(query)
    orcid = ORCID.match(query)
    if author_id:
        key = author_id[1].upper()
        data = _get(http, f"{base}/authors/{key}", f"author {key}")
    elif orcid:
        key = orcid[1].upper()
        data = _get(http, f"{base}/authors/https://orcid.org/{key}", f"author with ORCID {key}")
    else:
        found = _get(http, f"{base}/authors", f"author search {query!r}", search=query,
                     **{"per-page": SEARCH_CANDIDATES})
        candidates = [_candidate(a) for a in found.get("results") or []]
        data = choose(candidates, query, pick, "OpenAlex").data
    if not isinstance(data, dict) or not data.get("id"):
        raise FetchError(f"OpenAlex answered without an author for {query!r}; try again later")
    source_id = _key(data["id"])
    return ResearcherRef(NAME, source_id, f"{NAME}:{source_id}", data.get("display_name"), data)


def _candidate(author: dict) -> Candidate:
    return Candidate(_key(author.get("id", "")), author.get("display_name") or "?",
                     _institutions(author)[:1][0] if _institutions(author) else None,
                     author.get("works_count"), author)


def _key(openalex_id: str) -> str:
    return openalex_id.rstrip("/").rsplit("/", 1)[-1]


def _institutions(author: dict) -> list[str]:
    names = [i.get("display_name") for i in author.get("last_known_institutions") or []]
    legacy = author.get("last_known_institution") or {}
    names.append(legacy.get("display_name"))
    for affiliation in author.get("affiliations") or []:
        names.append((affiliation.get("institution") or {}).get("display_name"))
    return list(dict.fromkeys(n for n in names if n))


# -- records ---------------------------------------------------------------------------------------


def parse_author(data: dict, forum_user_id: str | None = None) -> Researcher:
    source_id = _key(data["id"])
    orcid = data.get("orcid") or (data.get("ids") or {}).get("orcid")
    topics = [t.get("display_name") for t in data.get("topics") or []] or \
        [c.get("display_name") for c in data.get("x_concepts") or []]
    extra = {k: data[k] for k in ("display_name_alternatives", "counts_by_year", "ids")
             if data.get(k)}
    return Researcher(
        id=f"{NAME}:{source_id}", source=NAME, source_id=source_id,
        name=data.get("display_name") or source_id, url=f"{SITE}/{source_id}",
        orcid=_key(orcid) if orcid else None, affiliations=_institutions(data)[:10],
        topics=[t for t in topics if t][:10], forum_user_id=forum_user_id, extra=extra or None,
    )


def parse_metrics(data: dict, researcher_id: str, captured_at: str) -> ResearcherMetrics:
    stats = data.get("summary_stats") or {}
    extra = {"2yr_mean_citedness": stats["2yr_mean_citedness"]} \
        if stats.get("2yr_mean_citedness") is not None else None
    return ResearcherMetrics(
        researcher_id=researcher_id, captured_at=captured_at, h_index=stats.get("h_index"),
        i10_index=stats.get("i10_index"), works_count=data.get("works_count"),
        citation_count=data.get("cited_by_count"), extra=extra,
    )


def rebuild_abstract(inverted: dict | None) -> str | None:
    """OpenAlex ships abstracts as {word: [positions]}; put the words back in order."""
    if not inverted:
        return None
    positions = {}
    for word, places in inverted.items():
        for place in places or []:
            positions[place] = word
    return " ".join(positions[p] for p in sorted(positions)) or None


def parse_work(work: dict) -> Paper:
    source_id = _key(work.get("id", ""))
    doi = normalise_doi(work.get("doi") or (work.get("ids") or {}).get("doi"))
    primary = work.get("primary_location") or {}
    venue = (primary.get("source") or {}).get("display_name")
    authors = []
    for position, authorship in enumerate(work.get("authorships") or []):
        author = authorship.get("author") or {}
        institutions = [i.get("display_name") for i in authorship.get("institutions") or []]
        raw = authorship.get("raw_affiliation_strings") or []
        authors.append(PaperAuthor(
            name=author.get("display_name") or authorship.get("raw_author_name") or "?",
            position=position,
            researcher_id=f"{NAME}:{_key(author['id'])}" if author.get("id") else None,
            affiliation=next((i for i in institutions if i), None) or (raw[0] if raw else None),
        ))
    topics = [t.get("display_name") for t in work.get("topics") or []]
    if not topics and work.get("primary_topic"):
        topics = [work["primary_topic"].get("display_name")]
    extra = {k: work[k] for k in ("type", "language") if work.get(k)}
    return Paper(
        source=NAME, source_id=source_id, title=work.get("title") or work.get("display_name"),
        abstract=rebuild_abstract(work.get("abstract_inverted_index")),
        published=work.get("publication_date"), year=work.get("publication_year"), venue=venue,
        doi=doi, arxiv_id=_arxiv_id(work, doi),
        url=primary.get("landing_page_url") or f"{SITE}/{source_id}",
        topics=[t for t in topics if t], citation_count=work.get("cited_by_count"),
        authors=authors, extra={**extra, "openalex_url": f"{SITE}/{source_id}"},
    )


def _arxiv_id(work: dict, doi: str | None) -> str | None:
    if doi and doi.startswith("10.48550/arxiv."):
        return normalise_arxiv_id(doi.split("arxiv.", 1)[1])
    found = normalise_arxiv_id((work.get("ids") or {}).get("arxiv"))
    if found:
        return found
    locations = [work.get("primary_location"), work.get("best_oa_location"),
                 *(work.get("locations") or [])]
    for location in locations:
        for url in ((location or {}).get("landing_page_url"), (location or {}).get("pdf_url")):
            match = ARXIV_URL.search(url or "")
            if match and normalise_arxiv_id(match[1]):
                return normalise_arxiv_id(match[1])
    return None


# -- fetching ------------------------------------------------------------------------------------


def fetch_researcher(http, ref: ResearcherRef, papers: int | None = None,
                     endpoint: str | None = None, forum_user_id: str | None = None,
                     progress: Callable[[int], None] | None = None,
                     interval: float | None = None) -> Iterator[Page]:
    """The profile and metrics snapshot, then the works page by page (newest first)."""
    researcher = parse_author(ref.data, forum_user_id)
    metrics: ResearcherMetrics | None = parse_metrics(ref.data, researcher.id, now_utc())
    if papers == 0:
        yield Page(other={"researcher_papers": [ResearcherPapers(researcher, [], metrics)]})
        return
    base = root(endpoint, API)
    cursor: str | None = "*"
    fetched = 0
    while cursor:
        size = PER_PAGE if papers is None else min(PER_PAGE, papers - fetched)
        data = _get(http, f"{base}/works", f"works of {ref.source_id}",
                    filter=f"author.id:{ref.source_id}", sort="publication_date:desc",
                    cursor=cursor, **{"per-page": size})
        results = data.get("results") or []
        batch = [parse_work(w) for w in results[:size] if w.get("id")]
        fetched += len(batch)
        yield Page(other={"researcher_papers": [ResearcherPapers(researcher, batch, metrics)]})
        metrics = None
        if progress:
            progress(len(batch))
        cursor = (data.get("meta") or {}).get("next_cursor")
        # A short page is the last one (the API would answer one more, empty, page).
        if len(results) < size or (papers is not None and fetched >= papers):
            break


def fetch_work_by_doi(http, doi: str, endpoint: str | None = None) -> Paper | None:
    """One work by DOI (``archiver papers --fill``); None when OpenAlex does not know it."""
    base = root(endpoint, API)
    try:
        work = _get(http, f"{base}/works/doi:{quote(doi, safe='/:;()')}", f"work doi:{doi}")
    except NotFound:
        return None
    return parse_work(work) if isinstance(work, dict) and work.get("id") else None


# Listed first: the default researcher source (widest coverage, ORCID and name search).
SOURCE = ResearcherSource(
    name=NAME, priority=300, title="OpenAlex", resolve_researcher=resolve_researcher,
    fetch_researcher=fetch_researcher, description="Authors and works by OpenAlex id, ORCID or name.",
)
