"""Researcher profiles from OpenAlex, Semantic Scholar and arXiv, through loopback APIs."""

from __future__ import annotations

import json

import feedparser
import pytest

from archiver.app.ingest import ingest
from archiver.app.researchers import fetch_researcher, researcher_report
from archiver.kernel.errors import FetchError, NotFound, UsageError
from archiver.kernel.records import Comment, Page, Post, Site, User
from archiver.sources import arxiv, openalex, semanticscholar
from archiver.store import open_db, save_page
from tests.conftest import shared_file
from tests.fakes.scholarly import (
    FakeOpenAlex,
    FakeSemanticScholar,
    arxiv_entry,
    arxiv_error_feed,
    arxiv_feed,
    oa_author,
    oa_work,
    s2_paper,
)

ME = "A5023888391"
ABSTRACT = "We find that features in language models are linear and sparse."


def _works():
    return [
        oa_work("W3", "Sparse Linear Features in Language Models", [("Adam Scherlis", ME),
                ("Jane Roe", "A1")], date="2024-04-24", doi="10.48550/arxiv.2404.16014",
                abstract=ABSTRACT),
        oa_work("W2", "Polysemanticity and Capacity in Neural Networks",
                [("Jane Roe", "A1"), ("Adam Scherlis", ME), ("Bob Poe", None)], date="2022-10-04",
                doi="10.1000/POLY.2022", arxiv="2210.01892", venue="ICML", cited=80),
        oa_work("W1", "An Older Paper About Something", [("Adam Scherlis", ME)],
                date="2019-01-01", doi="10.1000/old", venue="Some Journal"),
    ]


@pytest.fixture
def openalex_api(httpserver):
    fake = FakeOpenAlex()
    fake.add_author(oa_author(), _works())
    httpserver.expect_request("/authors").respond_with_handler(fake.handler)
    httpserver.expect_request("/works").respond_with_handler(fake.handler)
    httpserver.expect_request(__import__("re").compile("^/(authors|works)/.*")) \
        .respond_with_handler(fake.handler)
    return fake


@pytest.fixture
def db():
    return open_db(":memory:")


def _root(httpserver) -> str:
    return httpserver.url_for("/").rstrip("/")


def _api(httpserver) -> list[str]:
    """CLI options for a loopback API without politeness delays."""
    return ["--endpoint", _root(httpserver), "--delay", "0"]


# -- OpenAlex -------------------------------------------------------------------------------------


def test_openalex_profile_metrics_and_works(db, http, httpserver, openalex_api, monkeypatch):
    monkeypatch.setenv("ARCHIVER_CONTACT", "curator@example.org")
    monkeypatch.setattr(openalex, "PER_PAGE", 2)  # cursor paging over the 3 works
    result = fetch_researcher(db, http, f"https://openalex.org/{ME}", endpoint=_root(httpserver))
    assert result.researcher_id == f"openalex:{ME}"
    person = db["researchers"].get(result.researcher_id)
    assert person["name"] == "Adam Scherlis"
    assert person["url"] == f"https://openalex.org/{ME}"  # canonical, not the loopback
    assert person["orcid"] == "0000-0002-1825-0097"
    assert json.loads(person["affiliations"]) == ["Stanford University"]
    metrics = list(db["researcher_metrics"].rows)
    assert [(m["h_index"], m["i10_index"], m["works_count"], m["citation_count"])
            for m in metrics] == [(9, 8, 3, 227)]
    papers = {p["title"]: p for p in db["papers"].rows}
    assert len(papers) == 3
    sparse = papers["Sparse Linear Features in Language Models"]
    assert sparse["id"] == "arxiv:2404.16014"  # the arXiv DOI is the arXiv id
    assert sparse["abstract"] == ABSTRACT  # rebuilt from the inverted index
    assert sparse["venue"] == "arXiv (Cornell University)"
    assert sparse["published"] == "2024-04-24" and sparse["year"] == 2024
    assert json.loads(sparse["topics"]) == ["AI Safety and Alignment"]
    poly = papers["Polysemanticity and Capacity in Neural Networks"]
    assert poly["doi"] == "10.1000/poly.2022" and poly["arxiv_id"] == "2210.01892"
    assert poly["venue"] == "ICML" and poly["citation_count"] == 80
    authors = [(a["position"], a["name"], a["researcher_id"]) for a in
               db.query("SELECT * FROM paper_authors WHERE paper_id = ? ORDER BY position",
                        [poly["id"]])]
    assert authors == [(0, "Jane Roe", "openalex:A1"), (1, "Adam Scherlis", f"openalex:{ME}"),
                       (2, "Bob Poe", None)]
    assert db["researcher_papers"].count == 3
    work_requests = [r for r in openalex_api.requests if r["path"] == "/works"]
    assert [r["cursor"] for r in work_requests][0] == "*"
    assert len(work_requests) == 2  # 2 + 1 works; the short page ends the paging
    assert all(r["filter"] == f"author.id:{ME}" for r in work_requests)
    assert all(r.get("mailto") == "curator@example.org" for r in openalex_api.requests)


def test_openalex_papers_limit_and_orcid(db, http, httpserver, openalex_api):
    result = fetch_researcher(db, http, "0000-0002-1825-0097", papers=1,
                              endpoint=_root(httpserver))
    assert result.researcher_id == f"openalex:{ME}"
    assert [p["title"] for p in db["papers"].rows] == ["Sparse Linear Features in Language Models"]
    assert openalex_api.requests[0]["path"] == "/authors/https://orcid.org/0000-0002-1825-0097"


def test_openalex_name_search_ambiguous_unique_and_pick(http, httpserver, openalex_api):
    other = oa_author("A777", "Adam Scherlis", works=1, cited=0, h=0, i10=0, orcid=None,
                      institution="Elsewhere University")
    openalex_api.add_author(other)
    openalex_api.search["Adam Scherlis"] = [ME, "A777"]
    with pytest.raises(UsageError) as error:
        openalex.resolve_researcher(http, "Adam Scherlis", endpoint=_root(httpserver))
    message = str(error.value)
    assert "--pick" in message and "A777" in message and ME in message
    assert "Stanford University" in message and "Elsewhere University" in message
    picked = openalex.resolve_researcher(http, "Adam Scherlis", pick=2, endpoint=_root(httpserver))
    assert picked.id == "openalex:A777"
    openalex_api.search["scherlis"] = [ME]
    assert openalex.resolve_researcher(http, "scherlis", endpoint=_root(httpserver)).id == \
        f"openalex:{ME}"


def test_openalex_unknown_author_and_error_body(http, httpserver, openalex_api):
    with pytest.raises(NotFound, match=r"author A999 not found \(OpenAlex: HTTP 404: NotFoundError: A999 does not exist\)"):
        openalex.resolve_researcher(http, "A999", endpoint=_root(httpserver))
    with pytest.raises(NotFound, match="no researcher matching"):
        openalex.resolve_researcher(http, "Nobody Atall", endpoint=_root(httpserver))


def test_openalex_api_error_message_is_relayed(http, httpserver):
    httpserver.expect_request("/authors/A1").respond_with_json(
        {"error": "Invalid query parameters error.", "message": "bad select field"}, status=400)
    with pytest.raises(Exception, match="OpenAlex: Invalid query parameters error.: bad select"):
        openalex.resolve_researcher(http, "A1", endpoint=_root(httpserver))


def test_rebuild_abstract_orders_words():
    assert openalex.rebuild_abstract({"world": [1, 3], "hello": [0], "big": [2]}) == \
        "hello world big world"
    assert openalex.rebuild_abstract(None) is None


def test_cli_researcher_ambiguous_and_unknown_exit_nonzero(cli_run, httpserver, openalex_api):
    openalex_api.add_author(oa_author("A777", "Adam Scherlis", orcid=None))
    openalex_api.search["Adam Scherlis"] = [ME, "A777"]
    result = cli_run("researcher", "Adam Scherlis", *_api(httpserver))
    assert result.exit_code == 2
    assert "error:" in result.output and "--pick N" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = cli_run("researcher", "A424242", *_api(httpserver))
    assert result.exit_code == 1 and "author A424242 not found" in result.output
    result = cli_run("researcher", "Adam Scherlis", "--pick", "1", *_api(httpserver), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["researcher"]["id"] == f"openalex:{ME}" and report["papers"] == 3


def test_cli_metrics_time_series_and_discussion(cli_run, httpserver, openalex_api, tmp_path,
                                                monkeypatch):
    # A forum thread that links one of the papers, archived before the researcher.
    db = open_db(str(tmp_path / "archive.db"))
    ingest(db, [Page(
        sites=[Site("lesswrong", "LessWrong", "https://www.lesswrong.com", "forummagnum")],
        users=[User("lesswrong:u1", "lesswrong", "u1", slug="alice", name="Alice", stub=False),
               User("lesswrong:u2", "lesswrong", "u2", slug="adam", name="Adam Scherlis",
                    stub=False)],
        posts=[Post("lesswrong:p1", "lesswrong", "p1", title="Reading group notes",
                    url="https://www.lesswrong.com/posts/p1/x", user_id="lesswrong:u1",
                    author="Alice", posted_at="2024-05-01T10:00:00Z", body_html="<p>Notes</p>")],
        comments=[Comment("lesswrong:c1", "lesswrong", "c1", "lesswrong:p1",
                          user_id="lesswrong:u1", author="Alice",
                          url="https://www.lesswrong.com/posts/p1/x?commentId=c1",
                          posted_at="2024-05-02T10:00:00Z",
                          body_html='<p>See <a href="https://arxiv.org/abs/2404.16014v1">this</a>'
                                    '</p>')])], "thread", "test")
    assert db["papers"].get("arxiv:2404.16014")["stub"] == 1  # known only by the mention
    db.close()
    stamps = iter(["2024-06-01T00:00:00Z", "2024-07-01T00:00:00Z"])
    monkeypatch.setattr(openalex, "now_utc", lambda: next(stamps))
    root = _root(httpserver)
    assert cli_run("researcher", ME, "--endpoint", root, "--delay", "0").exit_code == 0
    openalex_api.authors[ME]["summary_stats"]["h_index"] = 10
    openalex_api.authors[ME]["cited_by_count"] = 250
    result = cli_run("researcher", ME, "--endpoint", root, "--delay", "0")
    assert result.exit_code == 0, result.output
    assert "h-index 10 (+1)" in result.output and "citations 250 (+23)" in result.output
    assert "Sparse Linear Features in Language Models" in result.output
    assert "Alice" in result.output and "Reading group notes" in result.output
    assert "forum user: Adam Scherlis [lesswrong:u2]" in result.output  # confident name match
    db = open_db(str(tmp_path / "archive.db"))
    series = [(m["captured_at"], m["h_index"]) for m in
              db.query("SELECT * FROM researcher_metrics ORDER BY captured_at")]
    assert series == [("2024-06-01T00:00:00Z", 9), ("2024-07-01T00:00:00Z", 10)]
    full = researcher_report(db, f"openalex:{ME}")
    assert full["change"] == {"h_index": 1, "i10_index": 0, "works_count": 0,
                              "citation_count": 23}
    [discussed] = full["discussed"]
    assert discussed["paper_id"] == "arxiv:2404.16014"
    assert discussed["where"][0]["author"] == "Alice"
    assert discussed["where"][0]["how"] == ["arxiv_link"]


def test_cli_forum_user_option(cli_run, httpserver, openalex_api, tmp_path):
    db = open_db(str(tmp_path / "archive.db"))
    save_page(db, Page(
        sites=[Site("lesswrong", "LessWrong", "https://www.lesswrong.com", "forummagnum")],
        users=[User("lesswrong:u9", "lesswrong", "u9", slug="ascherlis", name="A.S.",
                    stub=False)]))
    db.close()
    result = cli_run("researcher", ME, "--forum-user", "ascherlis", *_api(httpserver),
                     "--papers", "0")
    assert result.exit_code == 0, result.output
    assert "forum user: A.S. [lesswrong:u9]" in result.output
    result = cli_run("researcher", ME, "--forum-user", "nobody", *_api(httpserver))
    assert result.exit_code == 1 and "no archived user 'nobody'" in result.output


# -- Semantic Scholar ----------------------------------------------------------------------------


@pytest.fixture
def s2_api(httpserver):
    fake = FakeSemanticScholar()
    httpserver.expect_request(__import__("re").compile("^/graph/v1/.*")) \
        .respond_with_handler(fake.handler)
    return fake


def test_semanticscholar_real_author_with_embedded_papers(db, http, httpserver):
    path = shared_file("realworld", "semanticscholar_author_turing.json")
    httpserver.expect_request("/graph/v1/author/2262347").respond_with_data(
        path.read_bytes(), content_type="application/json")
    result = fetch_researcher(db, http,
                              "https://www.semanticscholar.org/author/Alan-Turing/2262347",
                              source="semanticscholar", endpoint=_root(httpserver), interval=0)
    assert result.researcher_id == "semanticscholar:2262347"
    person = db["researchers"].get("semanticscholar:2262347")
    assert person["name"] == "A. Turing"
    assert person["url"] == "https://www.semanticscholar.org/author/2262347"
    [m] = db["researcher_metrics"].rows
    assert (m["h_index"], m["works_count"], m["citation_count"]) == (23, 60, 12415)
    assert db["researcher_papers"].count == 60
    rows = {p["title"]: p for p in db["papers"].rows}
    ordinals = rows["Systems of Logic Based on Ordinals"]
    assert ordinals["doi"] == "10.1016/b978-044450423-4/50007-3"
    assert ordinals["venue"] == "Alan Turing's Systems of Logic"
    assert ordinals["citation_count"] == 328
    assert json.loads(ordinals["source_ids"]) == {
        "semanticscholar": "947efa54175145240c1a33f62321f23db43571e7"}
    dystopian = rows["Dystopian or Utopian? Two Images of Alan Turing"]
    assert dystopian["abstract"].startswith("Turing made intriguing statements")
    assert dystopian["year"] == 2022
    # Only the author request: the embedded papers were all of them.
    assert len(httpserver.log) == 1


@pytest.mark.parametrize("orcid, stored", [
    ("0000-0002-1825-0097", "0000-0002-1825-0097"), (["0000-0002-1825-0097"], "0000-0002-1825-0097"),
    ([], None), ({"id": 1}, None), (5, None)])
def test_semanticscholar_orcid_is_text_or_nothing(orcid, stored):
    data = {"authorId": "1", "name": "A. Turing", "externalIds": {"ORCID": orcid}}
    assert semanticscholar.parse_author(data).orcid == stored


def test_semanticscholar_paging_search_and_key(db, http, httpserver, s2_api, monkeypatch):
    monkeypatch.setenv("SEMANTIC_SCHOLAR_API_KEY", "k-123")
    s2_api.authors["42"] = {"authorId": "42", "name": "Ada Lovelace",
                            "url": "https://www.semanticscholar.org/author/42",
                            "affiliations": ["Analytical Engines Ltd"], "externalIds": {},
                            "paperCount": 3, "citationCount": 10, "hIndex": 2, "homepage": None}
    s2_api.papers["42"] = [s2_paper(f"p{i}", f"Notes on the engine part {i}",
                                    [("Ada Lovelace", "42")],
                                    arxiv=f"2301.0000{i}" if i == 1 else None)
                           for i in range(3)]
    s2_api.search["Ada Lovelace"] = ["42"]
    monkeypatch.setattr(semanticscholar, "PAGE_SIZE", 2)
    fetch_researcher(db, http, "Ada Lovelace", source="semanticscholar",
                     endpoint=_root(httpserver), interval=0)
    assert db["papers"].count == 3
    assert db["papers"].get("arxiv:2301.00001")["title"] == "Notes on the engine part 1"
    pages = [r for r in s2_api.requests if r["path"].endswith("/papers")]
    assert [(r["offset"], r["limit"]) for r in pages] == [("0", "2"), ("2", "2")]
    assert all(r["x-api-key"] == "k-123" for r in s2_api.requests)
    assert json.loads(db["researchers"].get("semanticscholar:42")["affiliations"]) == \
        ["Analytical Engines Ltd"]


def test_semanticscholar_unknown_author(cli_run, httpserver, s2_api):
    result = cli_run("researcher", "999", "--source", "semanticscholar", *_api(httpserver))
    assert result.exit_code == 1
    assert "author 999 not found (Semantic Scholar: HTTP 404: Author with id 999 not found)" \
        in result.output


def test_semanticscholar_paces_requests(http, httpserver, s2_api):
    s2_api.authors["42"] = {"authorId": "42", "name": "Ada", "paperCount": 0}
    slept = []
    http.sleep = slept.append
    semanticscholar.resolve_researcher(http, "42", endpoint=_root(httpserver))
    semanticscholar.resolve_researcher(http, "42", endpoint=_root(httpserver))
    assert slept and 0.5 < slept[0] <= 1.0  # one request per second


# -- arXiv -----------------------------------------------------------------------------------------


def test_arxiv_real_feed_conformance(db, http, httpserver):
    path = shared_file("realworld", "arxiv_api_search_au_del_maestro.xml")
    httpserver.expect_request("/api/query").respond_with_data(
        path.read_bytes(), content_type="application/atom+xml")
    result = fetch_researcher(db, http, "au:del_maestro", source="arxiv", papers=10,
                              endpoint=_root(httpserver), interval=0)
    assert result.researcher_id == "arxiv:del_maestro"
    person = db["researchers"].get("arxiv:del_maestro")
    assert person["name"] == "Adrian Del Maestro"
    [m] = db["researcher_metrics"].rows
    assert m["works_count"] == 31  # opensearch:totalResults
    rows = {p["id"]: p for p in db["papers"].rows}
    assert len(rows) == 10
    nanopores = rows["arxiv:1201.4869"]
    assert nanopores["title"] == "A Luttinger Liquid Core Inside Helium-4 Filled Nanopores"
    assert nanopores["primary_category"] == "cond-mat.mes-hall"
    assert json.loads(nanopores["categories"]) == ["cond-mat.mes-hall", "cond-mat.other"]
    assert nanopores["doi"] == "10.1142/s021797921244002x"
    assert nanopores["published"] == "2012-01-23"
    assert nanopores["url"] == "https://arxiv.org/abs/1201.4869"
    assert nanopores["abstract"].startswith("As helium-4 is cooled below 2.17 K")
    old = rows["arxiv:cond-mat/0412498"]
    assert old["title"] == "Thermal melting of density waves on the square lattice"
    authors = [(a["name"], a["researcher_id"]) for a in db.query(
        "SELECT * FROM paper_authors WHERE paper_id = 'arxiv:1303.6954' ORDER BY position")]
    assert authors == [("B. Kulchytskyy", None), ("G. Gervais", None),
                       ("A. Del Maestro", "arxiv:del_maestro")]
    query = httpserver.log[0][0].args
    assert query["search_query"] == "au:del_maestro" and query["sortBy"] == "submittedDate"


def test_arxiv_paging_by_start(db, http, httpserver, monkeypatch):
    entries = [arxiv_entry(f"2401.0000{i}", f"Paper number {i} about things", ["Ann Author"])
               for i in range(3)]
    monkeypatch.setattr(arxiv, "PAGE_SIZE", 2)
    httpserver.expect_request("/api/query", query_string={
        "search_query": 'au:"Ann Author"', "start": "0", "max_results": "2",
        "sortBy": "submittedDate", "sortOrder": "descending"}).respond_with_data(
        arxiv_feed(entries[:2], total=3), content_type="application/atom+xml")
    httpserver.expect_request("/api/query", query_string={
        "search_query": 'au:"Ann Author"', "start": "2", "max_results": "2",
        "sortBy": "submittedDate", "sortOrder": "descending"}).respond_with_data(
        arxiv_feed(entries[2:], total=3, start=2), content_type="application/atom+xml")
    result = fetch_researcher(db, http, "Ann Author", source="arxiv",
                              endpoint=_root(httpserver), interval=0)
    assert result.researcher_id == "arxiv:ann_author"
    assert sorted(p["id"] for p in db["papers"].rows) == [
        "arxiv:2401.00000", "arxiv:2401.00001", "arxiv:2401.00002"]
    assert len(httpserver.log) == 2


def test_arxiv_no_results_is_a_clear_error(cli_run, httpserver):
    httpserver.expect_request("/api/query").respond_with_data(
        arxiv_feed([], total=0), content_type="application/atom+xml")
    result = cli_run("researcher", "Nobody Here", "--source", "arxiv", *_api(httpserver))
    assert result.exit_code == 1 and "arXiv has no papers for au:\"Nobody Here\"" in result.output


def test_arxiv_error_entry_is_relayed(http, httpserver):
    httpserver.expect_request("/api/query").respond_with_data(
        arxiv_error_feed("incorrect id format for 1234.1234v2"), status=400,
        content_type="application/atom+xml")
    with pytest.raises(UsageError, match="arXiv API: incorrect id format for 1234.1234v2"):
        arxiv.fetch_by_ids(http, ["1234.1234"], endpoint=_root(httpserver), interval=0)


def test_arxiv_entry_parsing_of_real_feed():
    path = shared_file("realworld", "arxiv_api_search_au_del_maestro.xml")
    feed = feedparser.parse(path.read_bytes())
    papers = [arxiv.parse_entry(e) for e in feed.entries]
    assert all(p.arxiv_id and p.title and p.abstract and p.primary_category for p in papers)
    assert all(p.primary_category in p.categories for p in papers)
    assert sum(1 for p in papers if "/" in p.arxiv_id) == 4  # old-style ids


def test_openalex_refusal_names_the_key_to_set(http, httpserver, monkeypatch):
    monkeypatch.delenv("OPENALEX_API_KEY", raising=False)
    httpserver.expect_request("/authors/A1").respond_with_json(
        {"error": "Unauthorized", "message": "API key required"}, status=401)
    with pytest.raises(Exception, match="set OPENALEX_API_KEY"):
        openalex.resolve_researcher(http, "A1", endpoint=_root(httpserver))


def test_semanticscholar_bad_request_reason_is_relayed(http, httpserver, s2_api, monkeypatch):
    s2_api.authors["42"] = {"authorId": "42", "name": "Ada", "paperCount": 5000}
    monkeypatch.setattr(semanticscholar, "PAGE_SIZE", 5000)
    ref = semanticscholar.resolve_researcher(http, "42", endpoint=_root(httpserver), interval=0)
    with pytest.raises(FetchError, match="Semantic Scholar: Requested limit exceeds the maximum"):
        list(semanticscholar.fetch_researcher(http, ref, endpoint=_root(httpserver), interval=0))


def test_cli_rejects_a_bad_papers_value(cli_run):
    result = cli_run("researcher", "A1", "--papers", "lots")
    assert result.exit_code == 2 and "--papers expects a number or 'all'" in result.output
