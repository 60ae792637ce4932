"""Loopback OpenAlex, Semantic Scholar and arXiv APIs, answering in the documented shapes.

- OpenAlex (docs.openalex.org): author objects (``summary_stats``, ``last_known_institutions``,
  ``affiliations``, ``topics``), works with ``abstract_inverted_index``, ``primary_location``,
  ``locations``, ``authorships``; lists as ``{"meta": {..., "next_cursor"}, "results": [...]}``
  where the last non-empty page still carries a cursor and the page after it is empty with a
  null cursor (as the real API does); errors as ``{"error": ..., "message": ...}``.
- Semantic Scholar Graph API: ``{"offset", "next", "data"}`` paging, ``{"error": ...}`` errors.
- arXiv: Atom feeds with opensearch totals, arxiv:primary_category, arxiv:doi; errors as a feed
  with one entry titled "Error".
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from werkzeug.wrappers import Request, Response


def inverted_index(text: str) -> dict:
    index: dict[str, list[int]] = {}
    for position, word in enumerate(text.split()):
        index.setdefault(word, []).append(position)
    return index


def oa_author(key="A5023888391", name="Adam Scherlis", works=3, cited=227, h=9, i10=8,
              orcid="0000-0002-1825-0097", institution="Stanford University") -> dict:
    inst = {"id": "https://openalex.org/I97018004", "ror": "https://ror.org/00f54p054",
            "display_name": institution, "country_code": "US", "type": "education",
            "lineage": ["https://openalex.org/I97018004"]}
    return {
        "id": f"https://openalex.org/{key}",
        "orcid": f"https://orcid.org/{orcid}" if orcid else None,
        "display_name": name,
        "display_name_alternatives": [name, name.split()[0][0] + ". " + name.split()[-1]],
        "works_count": works,
        "cited_by_count": cited,
        "summary_stats": {"2yr_mean_citedness": 3.5, "h_index": h, "i10_index": i10},
        "ids": {"openalex": f"https://openalex.org/{key}",
                "orcid": f"https://orcid.org/{orcid}" if orcid else None},
        "affiliations": [{"institution": inst, "years": [2024, 2023, 2022]}],
        "last_known_institutions": [inst],
        "topics": [{"id": "https://openalex.org/T10181", "display_name": "AI Safety and Alignment",
                    "count": 3,
                    "subfield": {"id": "https://openalex.org/subfields/1702",
                                 "display_name": "Artificial Intelligence"},
                    "field": {"id": "https://openalex.org/fields/17",
                              "display_name": "Computer Science"},
                    "domain": {"id": "https://openalex.org/domains/3",
                               "display_name": "Physical Sciences"}}],
        "counts_by_year": [{"year": 2024, "works_count": 2, "cited_by_count": 120}],
        "works_api_url": f"https://api.openalex.org/works?filter=author.id:{key}",
        "updated_date": "2025-01-05T05:12:44.011463",
        "created_date": "2023-07-21",
    }


def oa_work(key: str, title: str, authors: list[tuple[str, str | None]], *, date="2024-04-24",
            doi: str | None = None, arxiv: str | None = None, venue="arXiv (Cornell University)",
            abstract: str | None = None, cited=12) -> dict:
    landing = f"http://arxiv.org/abs/{arxiv}" if arxiv else \
        (f"https://doi.org/{doi}" if doi else None)
    source = {"id": "https://openalex.org/S4306400194", "display_name": venue, "issn_l": None,
              "issn": None, "is_oa": True, "is_in_doaj": False, "is_core": False,
              "host_organization": "https://openalex.org/I205783295", "type": "repository"}
    primary = {"is_oa": True, "landing_page_url": landing,
               "pdf_url": f"http://arxiv.org/pdf/{arxiv}" if arxiv else None, "source": source,
               "license": None, "version": "submittedVersion", "is_accepted": False,
               "is_published": False}
    authorships = [
        {"author_position": "first" if n == 0 else ("last" if n == len(authors) - 1 else "middle"),
         "author": {"id": f"https://openalex.org/{aid}" if aid else None, "display_name": name,
                    "orcid": None},
         "institutions": [], "countries": [], "is_corresponding": n == 0,
         "raw_author_name": name, "raw_affiliation_strings": ["Some Lab, Somewhere"],
         "affiliations": []}
        for n, (name, aid) in enumerate(authors)
    ]
    return {
        "id": f"https://openalex.org/{key}",
        "doi": f"https://doi.org/{doi}" if doi else None,
        "title": title, "display_name": title,
        "publication_year": int(date[:4]), "publication_date": date,
        "ids": {"openalex": f"https://openalex.org/{key}",
                **({"doi": f"https://doi.org/{doi}"} if doi else {})},
        "language": "en", "type": "preprint" if arxiv else "article",
        "primary_location": primary, "locations": [primary], "best_oa_location": primary,
        "authorships": authorships, "cited_by_count": cited,
        "topics": [{"id": "https://openalex.org/T10181", "display_name": "AI Safety and Alignment",
                    "score": 0.98}],
        "primary_topic": {"id": "https://openalex.org/T10181",
                          "display_name": "AI Safety and Alignment", "score": 0.98},
        "abstract_inverted_index": inverted_index(abstract) if abstract else None,
        "counts_by_year": [], "updated_date": "2025-01-05T00:00:00", "created_date": "2024-04-26",
    }


def _json(data, status=200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


@dataclass
class FakeOpenAlex:
    authors: dict[str, dict] = field(default_factory=dict)  # key -> author object
    works: dict[str, list[dict]] = field(default_factory=dict)  # author key -> works, newest first
    search: dict[str, list[str]] = field(default_factory=dict)  # query -> author keys
    by_doi: dict[str, dict] = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)

    def add_author(self, author: dict, works: list[dict] = ()) -> None:
        key = author["id"].rsplit("/", 1)[-1]
        self.authors[key] = author
        self.works[key] = list(works)

    def handler(self, request: Request) -> Response:
        self.requests.append({"path": request.path, **request.args.to_dict()})
        path = request.path
        if path == "/authors":
            keys = self.search.get(request.args.get("search", ""), [])
            results = [{**self.authors[k], "relevance_score": 100.0 - n}
                       for n, k in enumerate(keys)]
            return _json({"meta": {"count": len(results), "db_response_time_ms": 12, "page": 1,
                                   "per_page": 25, "groups_count": None},
                          "results": results, "group_by": []})
        if path.startswith("/authors/"):
            wanted = path[len("/authors/"):]
            for key, author in self.authors.items():
                if wanted.upper() == key or (author.get("orcid") or "").endswith(wanted[-19:]):
                    return _json(author)
            return _json({"error": "NotFoundError", "message": f"{wanted} does not exist"}, 404)
        if path == "/works":
            return self._works(request)
        if path.startswith("/works/doi:"):
            work = self.by_doi.get(path[len("/works/doi:"):].lower())
            if work is None:
                return _json({"error": "NotFoundError", "message": "work not found"}, 404)
            return _json(work)
        return _json({"error": "Invalid path", "message": path}, 404)

    def _works(self, request: Request) -> Response:
        filt = request.args.get("filter", "")
        if not filt.startswith("author.id:"):
            return _json({"error": "Invalid query parameters error.",
                          "message": f"{filt} is not a valid filter"}, 403)
        per_page = int(request.args.get("per-page") or request.args.get("per_page") or 25)
        if not 1 <= per_page <= 200:
            return _json({"error": "Invalid query parameters error.",
                          "message": "per-page parameter must be between 1 and 200"}, 403)
        works = self.works.get(filt.split(":", 1)[1], [])
        cursor = request.args.get("cursor")
        start = 0 if cursor in (None, "*") else int(base64.b64decode(cursor).decode())
        page = works[start:start + per_page]
        next_cursor = base64.b64encode(str(start + per_page).encode()).decode() if page else None
        return _json({"meta": {"count": len(works), "db_response_time_ms": 30, "page": None,
                               "per_page": per_page, "next_cursor": next_cursor,
                               "groups_count": None},
                      "results": page, "group_by": []})


# -- Semantic Scholar ------------------------------------------------------------------------------


def s2_paper(paper_id: str, title: str, authors: list[tuple[str, str | None]], *, year=2023,
             doi=None, arxiv=None, abstract=None, venue="", date=None, cited=5) -> dict:
    external = {"CorpusId": abs(hash(paper_id)) % 10**9}
    if doi:
        external["DOI"] = doi
    if arxiv:
        external["ArXiv"] = arxiv
    return {"paperId": paper_id, "externalIds": external,
            "url": f"https://www.semanticscholar.org/paper/{paper_id}", "title": title,
            "abstract": abstract, "venue": venue, "year": year, "citationCount": cited,
            "publicationDate": date, "journal": {"name": venue} if venue else None,
            "fieldsOfStudy": ["Computer Science"],
            "authors": [{"authorId": aid, "name": name} for name, aid in authors]}


@dataclass
class FakeSemanticScholar:
    authors: dict[str, dict] = field(default_factory=dict)
    papers: dict[str, list[dict]] = field(default_factory=dict)
    search: dict[str, list[str]] = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)

    def handler(self, request: Request) -> Response:
        self.requests.append({"path": request.path, "x-api-key": request.headers.get("x-api-key"),
                              **request.args.to_dict()})
        parts = request.path.strip("/").split("/")
        if parts[:3] == ["graph", "v1", "author"] and len(parts) == 4 and parts[3] == "search":
            found = [self.authors[a] for a in self.search.get(request.args.get("query", ""), [])]
            data = [{k: a.get(k) for k in ("authorId", "name", "url", "affiliations",
                                          "paperCount", "citationCount", "hIndex")}
                    for a in found]
            return _json({"total": len(data), "offset": 0, "data": data})
        if parts[:3] == ["graph", "v1", "author"] and len(parts) >= 4:
            author = self.authors.get(parts[3])
            if author is None:
                return _json({"error": f"Author with id {parts[3]} not found"}, 404)
            if len(parts) == 4:
                return _json(author)
            if len(parts) == 5 and parts[4] == "papers":
                offset = int(request.args.get("offset", 0))
                limit = int(request.args.get("limit", 100))
                if limit > 1000:
                    return _json({"error": "Requested limit exceeds the maximum of 1000"}, 400)
                rows = self.papers.get(parts[3], [])
                page = rows[offset:offset + limit]
                body = {"offset": offset, "data": page}
                if offset + limit < len(rows):
                    body["next"] = offset + limit
                return _json(body)
        return _json({"error": "Not found"}, 404)


# -- arXiv ----------------------------------------------------------------------------------------


def arxiv_entry(arxiv_id: str, title: str, authors: list[str], *, published="2024-04-24T17:59:58Z",
                categories=("cs.LG", "cs.AI"), doi=None, summary="An abstract.") -> str:
    cats = "".join(f'<category term="{c}" scheme="http://arxiv.org/schemas/atom"/>'
                   for c in categories)
    doi_xml = (f'<arxiv:doi xmlns:arxiv="http://arxiv.org/schemas/atom">{doi}</arxiv:doi>'
               if doi else "")
    names = "".join(f"<author><name>{escape(a)}</name></author>" for a in authors)
    return f"""<entry>
    <id>http://arxiv.org/abs/{arxiv_id}v1</id>
    <updated>{published}</updated>
    <published>{published}</published>
    <title>{escape(title)}</title>
    <summary>  {escape(summary)}
</summary>
    {names}
    {doi_xml}
    <link href="http://arxiv.org/abs/{arxiv_id}v1" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/{arxiv_id}v1" rel="related" type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="{categories[0]}" scheme="http://arxiv.org/schemas/atom"/>
    {cats}
  </entry>"""


def arxiv_feed(entries: list[str], total: int, start: int = 0) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query?search_query%3Dau%3Atest" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=au:test</title>
  <id>http://arxiv.org/api/abc</id>
  <updated>2024-05-01T00:00:00-04:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{total}</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{start}</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{len(entries)}</opensearch:itemsPerPage>
  {"".join(entries)}
</feed>"""


def arxiv_error_feed(message: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query?search_query%3D%26id_list%3D1234.1234v2" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=&amp;id_list=1234.1234v2</title>
  <id>http://arxiv.org/api/kvuntZ8c9a4Eq5CF7KY03nMug+Q</id>
  <updated>2024-05-01T00:00:00-04:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1</opensearch:itemsPerPage>
  <entry>
    <id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.1234v2</id>
    <title>Error</title>
    <summary>{escape(message)}</summary>
    <updated>2024-05-01T00:00:00-04:00</updated>
    <link href="http://arxiv.org/api/errors#incorrect_id_format_for_1234.1234v2" rel="alternate" type="text/html"/>
    <author>
      <name>arXiv api core</name>
    </author>
  </entry>
</feed>"""
