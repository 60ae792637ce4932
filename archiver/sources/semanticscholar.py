"""Semantic Scholar Graph API (https://api.semanticscholar.org/api-docs/graph): author profiles,
metrics and papers.

- An author by id (``2262347``, ``semanticscholar:2262347``) or profile URL
  (``https://www.semanticscholar.org/author/Alan-Turing/2262347``), or by name through
  ``/graph/v1/author/search`` (several matches ask for ``--pick N``).
- ``/graph/v1/author/{id}`` gives hIndex, paperCount, citationCount, affiliations, externalIds;
  papers come from ``/graph/v1/author/{id}/papers`` (offset/limit paging, ``next`` while more
  remain). A profile that already embeds ``papers`` (as responses requested with
  ``fields=papers.…`` do) is used as is, and only the remainder is paged.
- The API key is optional: ``SEMANTIC_SCHOLAR_API_KEY`` is sent as ``x-api-key``. Requests are
  spaced at least one second apart (the keyed rate limit; the shared unauthenticated pool is
  stricter still), and 429 answers are retried by the HTTP client with backoff.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator

from archiver.kernel.errors import FetchError, UsageError
from archiver.kernel.http import HttpStatusError
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
from archiver.sources.scholarly import (
    Candidate,
    ResearcherRef,
    choose,
    pacer,
)
from archiver.sources.webapi import root, status_error

NAME = "semanticscholar"
API = "https://api.semanticscholar.org"
SITE = "https://www.semanticscholar.org"
MIN_INTERVAL = 1.0
PAGE_SIZE = 100
AUTHOR_FIELDS = "name,url,affiliations,externalIds,paperCount,citationCount,hIndex,homepage"
PAPER_FIELDS = ("title,abstract,year,venue,externalIds,authors,citationCount,publicationDate,url,"
                "journal,fieldsOfStudy")
SEARCH_FIELDS = "name,url,affiliations,paperCount,citationCount,hIndex"

AUTHOR_URL = re.compile(r"semanticscholar\.org/author/(?:[^/?#]+/)?(\d+)", re.I)
AUTHOR_ID = re.compile(r"^(?:semanticscholar:|s2:)?(\d+)$", re.I)


def _get(http, url: str, what: str, interval: float | None, **params):
    pacer(http, NAME, MIN_INTERVAL, interval).wait()
    headers = {}
    if os.environ.get("SEMANTIC_SCHOLAR_API_KEY"):
        headers["x-api-key"] = os.environ["SEMANTIC_SCHOLAR_API_KEY"]
    try:
        return http.get_json(url, params=params, headers=headers)
    except HttpStatusError as exc:
        refused = ("check the API key in SEMANTIC_SCHOLAR_API_KEY or unset it"
                   if os.environ.get("SEMANTIC_SCHOLAR_API_KEY") else "try again later")
        raise status_error(exc, what, "Semantic Scholar", "check the id", refused) from exc


def resolve_researcher(http, query: str, pick: int | None = None, endpoint: str | None = None,
                       interval: float | None = None) -> ResearcherRef:
    query = query.strip()
    if not query:
        raise UsageError("give a Semantic Scholar author id, profile URL or name")
    base = root(endpoint, API)
    match = AUTHOR_URL.search(query) or AUTHOR_ID.match(query)
    if match:
        author_id = match[1]
    else:
        found = _get(http, f"{base}/graph/v1/author/search", f"author search {query!r}",
                     interval, query=query, fields=SEARCH_FIELDS, limit=10)
        candidates = [
            Candidate(str(a.get("authorId")), a.get("name") or "?",
                      (a.get("affiliations") or [None])[0], a.get("paperCount"), a)
            for a in found.get("data") or [] if a.get("authorId")
        ]
        author_id = choose(candidates, query, pick, "Semantic Scholar").source_id
    data = _get(http, f"{base}/graph/v1/author/{author_id}", f"author {author_id}", interval,
                fields=AUTHOR_FIELDS)
    if not isinstance(data, dict) or not data.get("authorId"):
        raise FetchError(f"Semantic Scholar answered without an author for {query!r}; "
                         "try again later")
    source_id = str(data["authorId"])
    return ResearcherRef(NAME, source_id, f"{NAME}:{source_id}", data.get("name"), data)


def parse_author(data: dict, forum_user_id: str | None = None) -> Researcher:
    source_id = str(data["authorId"])
    external = data.get("externalIds") or {}
    orcid = external.get("ORCID")
    if isinstance(orcid, list):  # a list of iDs: the first one
        orcid = orcid[0] if orcid else None
    extra = {k: data[k] for k in ("externalIds", "homepage", "aliases") if data.get(k)}
    return Researcher(
        id=f"{NAME}:{source_id}", source=NAME, source_id=source_id,
        name=data.get("name") or source_id, url=f"{SITE}/author/{source_id}",
        orcid=orcid if isinstance(orcid, str) else None,
        affiliations=[a for a in data.get("affiliations") or [] if a],
        forum_user_id=forum_user_id, extra=extra or None,
    )


def parse_metrics(data: dict, researcher_id: str, captured_at: str) -> ResearcherMetrics:
    return ResearcherMetrics(
        researcher_id=researcher_id, captured_at=captured_at, h_index=data.get("hIndex"),
        works_count=data.get("paperCount"), citation_count=data.get("citationCount"),
    )


def parse_paper(data: dict) -> Paper:
    external = data.get("externalIds") or {}
    journal = data.get("journal") or {}
    venue = data.get("venue") or journal.get("name") or \
        (data.get("publicationVenue") or {}).get("name") or None
    topics = list(data.get("fieldsOfStudy") or [])
    topics += [f.get("category") for f in data.get("s2FieldsOfStudy") or []
               if f.get("category") not in topics]
    authors = [
        PaperAuthor(name=a.get("name") or "?", position=n,
                    researcher_id=f"{NAME}:{a['authorId']}" if a.get("authorId") else None)
        for n, a in enumerate(data.get("authors") or [])
    ]
    extra = {"corpus_id": external["CorpusId"]} if external.get("CorpusId") else {}
    paper_id = data.get("paperId")
    return Paper(
        source=NAME, source_id=paper_id, title=data.get("title"), abstract=data.get("abstract"),
        published=data.get("publicationDate"), year=data.get("year"), venue=venue,
        doi=external.get("DOI"), arxiv_id=external.get("ArXiv"),
        url=data.get("url") or (f"{SITE}/paper/{paper_id}" if paper_id else None),
        topics=[t for t in topics if t], citation_count=data.get("citationCount"),
        authors=authors, extra=extra or None,
    )


def fetch_researcher(http, ref: ResearcherRef, papers: int | None = None,
                     endpoint: str | None = None, forum_user_id: str | None = None,
                     progress: Callable[[int], None] | None = None,
                     interval: float | None = None) -> Iterator[Page]:
    """The profile and metrics snapshot, then the papers (embedded ones first, then paged)."""
    researcher = parse_author(ref.data, forum_user_id)
    metrics = parse_metrics(ref.data, researcher.id, now_utc())
    embedded = [p for p in ref.data.get("papers") or [] if p.get("paperId") or p.get("title")]
    batch = [parse_paper(p) for p in embedded[:papers] if papers != 0]
    yield Page(other={"researcher_papers": [ResearcherPapers(researcher, batch, metrics)]})
    if progress and batch:
        progress(len(batch))
    fetched = len(batch)
    total = ref.data.get("paperCount")
    if papers == 0 or (papers is not None and fetched >= papers):
        return
    if embedded and (total is None or fetched >= total):
        return
    base = root(endpoint, API)
    offset = fetched
    while True:
        size = PAGE_SIZE if papers is None else min(PAGE_SIZE, papers - fetched)
        data = _get(http, f"{base}/graph/v1/author/{ref.source_id}/papers",
                    f"papers of author {ref.source_id}", interval, fields=PAPER_FIELDS,
                    offset=offset, limit=size)
        rows = data.get("data") or []
        batch = [parse_paper(p) for p in rows[:size]]
        if batch:
            yield Page(other={"researcher_papers": [ResearcherPapers(researcher, batch)]})
            if progress:
                progress(len(batch))
        fetched += len(batch)
        offset += len(rows)
        if not rows or data.get("next") is None or (papers is not None and fetched >= papers):
            return
        offset = data["next"]


SOURCE = ResearcherSource(
    name=NAME, priority=200, title="Semantic Scholar", resolve_researcher=resolve_researcher,
    fetch_researcher=fetch_researcher, description="The Graph API: authors and papers.",
)
