"""The research tables: one paper row across sources, dated metrics, researcher links."""

from __future__ import annotations

import json

import pytest

from archiver.app.researchers import researcher_report
from archiver.kernel.records import (
    Page,
    Paper,
    PaperAuthor,
    Researcher,
    ResearcherMetrics,
    ResearcherPapers,
    Site,
    User,
)
from archiver.store import open_db, save_page
from archiver.store.papers import (
    normalise_arxiv_id,
    normalise_doi,
    normalise_title,
    save_papers,
    save_researcher_papers,
)


@pytest.fixture
def db():
    return open_db(":memory:")


def _paper(source, source_id, **kw) -> Paper:
    return Paper(source=source, source_id=source_id, **kw)


@pytest.mark.parametrize("raw, expected", [
    ("2404.16014", "2404.16014"),
    ("arXiv:2404.16014v2", "2404.16014"),
    ("https://arxiv.org/pdf/2404.16014v3.pdf", "2404.16014"),
    ("http://arxiv.org/abs/1201.4869v1", "1201.4869"),
    ("hep-th/9901001", "hep-th/9901001"),
    ("math.AG/0309136v1", "math/0309136"),
    ("http://arxiv.org/abs/cond-mat/0412498v1", "cond-mat/0412498"),
    ("1999.12345", None),  # month 99
    ("0612.1234", None),  # before new-style ids existed
    ("1501.1234", None),  # 2015 ids have five digits
    ("not an id", None),
])
def test_arxiv_ids_normalise_to_the_canonical_form(raw, expected):
    assert normalise_arxiv_id(raw) == expected


def test_dois_and_titles_normalise():
    assert normalise_doi("https://doi.org/10.1103/PhysRevB.71.184511") == \
        "10.1103/physrevb.71.184511"
    assert normalise_doi("doi:10.1000/xyz.") == "10.1000/xyz"
    assert normalise_doi("not-a-doi") is None
    assert normalise_title("  Attention Is All You Need!  ") == "attention is all you need"
    assert normalise_title("Réseaux – “neuronaux” ﬁnis") == "reseaux neuronaux finis"


def test_one_row_per_paper_across_three_sources(db):
    openalex = _paper("openalex", "W1", title="Sparse Features: A Study", doi="10.1000/SF.1",
                      published="2024-04-24", venue="ICML", citation_count=10,
                      topics=["Interpretability"],
                      authors=[PaperAuthor("Ann Author", 0, "openalex:A1"),
                               PaperAuthor("Bob Writer", 1, "openalex:A2")])
    s2 = _paper("semanticscholar", "abc123", title="Sparse features: a study",
                doi="https://doi.org/10.1000/sf.1", arxiv_id="2404.16014", citation_count=14,
                abstract="We study sparse features.", topics=["Computer Science"],
                authors=[PaperAuthor("Ann Author", 0, "semanticscholar:11")])
    arxiv = _paper("arxiv", "2404.16014", title="Sparse Features: A Study",
                   arxiv_id="2404.16014v2", categories=["cs.LG", "cs.AI"],
                   primary_category="cs.LG")
    for record in (openalex, s2, arxiv):
        save_papers(db, [record])
    [row] = list(db["papers"].rows)
    assert row["id"] == "doi:10.1000/sf.1"  # the first identifier seen names the row
    assert json.loads(row["source_ids"]) == {"openalex": "W1", "semanticscholar": "abc123",
                                             "arxiv": "2404.16014"}
    assert row["title"] == "Sparse Features: A Study"  # the primary source's values
    assert row["abstract"] == "We study sparse features."  # gaps filled by others
    assert row["arxiv_id"] == "2404.16014" and row["doi"] == "10.1000/sf.1"
    assert row["url"] == "https://arxiv.org/abs/2404.16014"
    assert json.loads(row["categories"]) == ["cs.LG", "cs.AI"]
    assert row["primary_category"] == "cs.LG"
    assert json.loads(row["topics"]) == ["Interpretability", "Computer Science"]
    assert row["citation_count"] == 14
    authors = list(db.query("SELECT * FROM paper_authors ORDER BY position"))
    assert [(a["name"], a["researcher_id"]) for a in authors] == [
        ("Ann Author", "openalex:A1"), ("Bob Writer", "openalex:A2")]


def test_title_merge_needs_matching_identifiers(db):
    save_papers(db, [_paper("import", None, title="On the Measure of Intelligence!")])
    save_papers(db, [_paper("semanticscholar", "s1", title="on the measure of intelligence",
                            doi="10.1/a")])
    assert db["papers"].count == 1
    # Same title, a different DOI: a different work (a reprint), kept apart.
    save_papers(db, [_paper("semanticscholar", "s2", title="On the Measure of Intelligence",
                            doi="10.1/b")])
    assert db["papers"].count == 2
    # Short generic titles never merge on their own.
    save_papers(db, [_paper("openalex", "W8", title="Introduction"),
                     _paper("openalex", "W9", title="Introduction")])
    assert db.execute("SELECT COUNT(*) FROM papers WHERE title = 'Introduction'").fetchone()[0] == 2


def test_same_source_refetch_updates_and_other_sources_only_fill(db):
    save_papers(db, [_paper("openalex", "W1", title="Old title of a paper", doi="10.1/x")])
    counts = save_papers(db, [_paper("openalex", "W1", title="Corrected title of a paper",
                                     doi="10.1/x")])
    assert counts.updated == 1
    save_papers(db, [_paper("semanticscholar", "s1", title="Another title entirely",
                            doi="10.1/x", venue="NeurIPS")])
    row = db["papers"].get("doi:10.1/x")
    assert row["title"] == "Corrected title of a paper" and row["venue"] == "NeurIPS"
    assert save_papers(db, [_paper("openalex", "W1", title="Corrected title of a paper",
                                   doi="10.1/x")]).unchanged == 1


def test_stubs_known_by_two_ids_fold_into_one_row(db):
    save_papers(db, [Paper(source="mention", doi="10.5/abc", stub=True),
                     Paper(source="mention", arxiv_id="2404.16014", stub=True)])
    db.execute("INSERT INTO mentions (item_table, item_id, paper_id, how, field, span_start, "
               "span_end) VALUES ('comments', 'c1', 'doi:10.5/abc', 'doi', 'body_text', 0, 5)")
    save_papers(db, [_paper("openalex", "W5", title="The folded paper title", doi="10.5/abc",
                            arxiv_id="2404.16014")])
    [row] = list(db["papers"].rows)
    assert row["stub"] == 0 and row["title"] == "The folded paper title"
    assert row["source"] == "openalex"
    [mention] = list(db["mentions"].rows)
    assert mention["paper_id"] == row["id"]
    keys = {k["key"]: k["paper_id"] for k in db["paper_keys"].rows}
    assert keys["doi:10.5/abc"] == keys["arxiv:2404.16014"] == row["id"]


def test_pages_carry_every_research_kind(db):
    person = Researcher("import:ann", "import", "ann", "Ann Author", affiliations=["MIT"])
    counts = save_page(db, Page(other={
        "researchers": [person],
        "researcher_metrics": [ResearcherMetrics("import:ann", "2024-01-12T00:00:00Z", h_index=9,
                                                 works_count=6, citation_count=227,
                                                 extra={"novelty": 0.52, "ai_score": 34})],
        "papers": [_paper("import", None, title="A paper on its own page", has_code=True)],
    }))
    assert counts.new == 3
    assert db["researchers"].get("import:ann")["name"] == "Ann Author"
    [m] = list(db["researcher_metrics"].rows)
    assert json.loads(m["extra"]) == {"ai_score": 34, "novelty": 0.52}
    assert list(db["papers"].rows)[0]["has_code"] == 1


def test_a_failing_page_leaves_no_research_rows(db):
    bad = Paper(source="import", source_id=None, title="A paper that will be rolled back")
    with pytest.raises(KeyError):
        save_page(db, Page(other={"papers": [bad], "no_such_kind": [1]}))
    assert db["papers"].count == 0


def test_metrics_become_a_time_series_with_change(db):
    person = Researcher("openalex:A1", "openalex", "A1", "Ann Author")
    for when, h, cites in (("2024-01-01T00:00:00Z", 8, 200), ("2024-02-01T00:00:00Z", 9, 227)):
        save_researcher_papers(db, ResearcherPapers(person, [], ResearcherMetrics(
            "openalex:A1", when, h_index=h, works_count=6, citation_count=cites)))
    # The same snapshot again (an import of an export) adds nothing.
    save_researcher_papers(db, ResearcherPapers(person, [], ResearcherMetrics(
        "openalex:A1", "2024-02-01T00:00:00Z", h_index=9, works_count=6, citation_count=227)))
    report = researcher_report(db, "openalex:A1")
    assert report["snapshots"] == 2
    assert report["metrics"]["h_index"] == 9 and report["previous"]["h_index"] == 8
    assert report["change"] == {"h_index": 1, "works_count": 0, "citation_count": 27}


def test_researcher_papers_link_and_forum_user(db):
    save_page(db, Page(
        sites=[Site("lesswrong", "LessWrong", "https://www.lesswrong.com", "forummagnum")],
        users=[User("lesswrong:u1", "lesswrong", "u1", slug="ann", name="Ann Author", stub=False),
               User("lesswrong:u2", "lesswrong", "u2", slug="bob", name="Bob", stub=False),
               User("lesswrong:u3", "lesswrong", "u3", slug="bob2", name="Bob", stub=False)]))
    papers = [_paper("openalex", f"W{i}", title=f"Paper number {i} on a topic") for i in range(3)]
    save_researcher_papers(db, ResearcherPapers(
        Researcher("openalex:A1", "openalex", "A1", "Ann Author"), papers))
    save_researcher_papers(db, ResearcherPapers(Researcher("openalex:A2", "openalex", "A2", "Bob"),
                                                papers[:1]))
    assert db["researchers"].get("openalex:A1")["forum_user_id"] == "lesswrong:u1"
    assert db["researchers"].get("openalex:A2")["forum_user_id"] is None  # two users named Bob
    assert db["researcher_papers"].count == 4
    # An explicit link survives a later fetch that carries none.
    db.execute("UPDATE researchers SET forum_user_id = 'lesswrong:u3' WHERE id = 'openalex:A2'")
    save_researcher_papers(db, ResearcherPapers(Researcher("openalex:A2", "openalex", "A2", "Bob"),
                                                []))
    assert db["researchers"].get("openalex:A2")["forum_user_id"] == "lesswrong:u3"


def test_papers_are_searchable(db):
    save_papers(db, [_paper("openalex", "W1", title="Grokking modular arithmetic",
                            abstract="Networks suddenly generalise.")])
    hits = list(db["papers"].search("generalise"))
    assert [h["title"] for h in hits] == ["Grokking modular arithmetic"]
