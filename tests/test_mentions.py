"""Paper mentions in posts and comments: identifiers, links, titles; stubs and --fill."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.analysis import mentions as M
from archiver.app.ingest import ingest
from archiver.kernel.records import Comment, Page, Paper, Post, Site, User
from archiver.store import open_db
from archiver.store.papers import save_papers
from tests.fakes.scholarly import FakeOpenAlex, arxiv_entry, arxiv_feed, oa_work

SITE = Site("lesswrong", "LessWrong", "https://www.lesswrong.com", "forummagnum")


@pytest.mark.parametrize("text, key, how", [
    ("see arXiv:2404.16014v2 for details", "arxiv:2404.16014", "arxiv_id"),
    ("bare 2404.16014 works", "arxiv:2404.16014", "arxiv_id"),
    ("(1706.03762v7)", "arxiv:1706.03762", "arxiv_id"),
    ("https://arxiv.org/abs/2404.16014", "arxiv:2404.16014", "arxiv_link"),
    ("[pdf](http://export.arxiv.org/pdf/2404.16014v1.pdf)", "arxiv:2404.16014", "arxiv_link"),
    ("https://ar5iv.labs.arxiv.org/html/1706.03762", "arxiv:1706.03762", "arxiv_link"),
    ("https://huggingface.co/papers/2404.16014", "arxiv:2404.16014", "arxiv_link"),
    ("alphaxiv.org/abs/2404.16014v1", "arxiv:2404.16014", "arxiv_link"),
    ("old hep-th/9901001 style", "arxiv:hep-th/9901001", "arxiv_id"),
    ("math.AG/0309136v1", "arxiv:math/0309136", "arxiv_id"),
    ("https://arxiv.org/abs/cond-mat/0412498v1", "arxiv:cond-mat/0412498", "arxiv_link"),
    ("doi:10.1103/PhysRevB.71.184511.", "doi:10.1103/physrevb.71.184511", "doi"),
    ("[x](https://doi.org/10.1016/0004-3702(91)90053-M)", "doi:10.1016/0004-3702(91)90053-m",
     "doi"),
    ("https://doi.org/10.48550/arXiv.2303.08774", "arxiv:2303.08774", "doi"),
    ("https://openreview.net/forum?id=HJx4DkHtPr", "openreview:HJx4DkHtPr", "openreview"),
    ("openreview.net/pdf?id=r1xMH1BtvB&noteId=x", "openreview:r1xMH1BtvB", "openreview"),
])
def test_identifiers_are_found(text, key, how):
    [ref] = M.find_identifiers(text)
    assert (ref.key, ref.how) == (key, how)
    assert text[ref.start:ref.end] == ref.text


@pytest.mark.parametrize("text", [
    "Python 3.11.2 and version 1.2404.1234",
    "v2404.16014 is a tag, 3.1415.9265 is pi-ish",
    "the year 2023.1231 and 1999.12345 and 0612.1234",
    "2015.1234 has the wrong digit count, so does 1501.1234",
    "paths like /home/math/0309136 and https://example.com/2404.16014",
    "an IP 10.2404.1601.4 and 12404.16014",
    "110.1234/abc is not a DOI",
])
def test_things_that_are_not_references(text):
    assert M.find_identifiers(text) == []


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .,:;()/-\n1")), max_size=40),
       st.text(alphabet=st.sampled_from(list("ab .,:;()/-\n")), max_size=40))
def test_an_id_between_any_text_is_found_with_an_exact_span(before, after):
    text = f"{before} arXiv:2404.16014 {after}"
    refs = [r for r in M.find_identifiers(text) if r.key == "arxiv:2404.16014"]
    assert len(refs) == 1
    assert all(text[r.start:r.end] == r.text for r in M.find_identifiers(text))


def test_titles_match_as_whole_normalised_phrases():
    index = M.TitleIndex([
        ("p1", "Attention Is All You Need"),
        ("p2", "Attention Is All You Need for Robots"),
        ("p3", "Risks from Learned Optimization"),
        ("p4", "Turing machines"),  # too short to match safely
        ("p5", "Über die Wirkung großer Modelle"),
    ])
    text = ("I reread “Attention is all-you-need!” and then attention is all you need for "
            "robots; "
            "also RISKS FROM LEARNED OPTIMIZATION. Turing machines are neat. "
            "attention is all you needed is not a title. uber die wirkung grosser modelle?")
    refs = index.find(text)
    found = [(r.key, r.text) for r in refs]
    assert found[:3] == [("p1", "Attention is all-you-need"),
                         ("p2", "attention is all you need for robots"),
                         ("p3", "RISKS FROM LEARNED OPTIMIZATION")]
    assert ("p4", "Turing machines") not in found
    assert all(text[r.start:r.end] == r.text for r in refs)
    assert len([k for k, _ in found if k == "p1"]) == 1  # not again inside the longer title
    assert ("p5", "uber die wirkung grosser modelle") in found  # accents and ß fold


def _forum(comments: list[tuple[str, str]], post_body="<p>Thread</p>") -> Page:
    return Page(
        sites=[SITE],
        users=[User("lesswrong:u1", "lesswrong", "u1", slug="alice", name="Alice", stub=False)],
        posts=[Post("lesswrong:p1", "lesswrong", "p1", title="Paper club",
                    url="https://www.lesswrong.com/posts/p1/paper-club", user_id="lesswrong:u1",
                    author="Alice", posted_at="2024-05-01T00:00:00Z", body_html=post_body)],
        comments=[Comment(f"lesswrong:{cid}", "lesswrong", cid, "lesswrong:p1",
                          user_id="lesswrong:u1", author="Alice",
                          url=f"https://www.lesswrong.com/posts/p1/paper-club?commentId={cid}",
                          posted_at=f"2024-05-0{n + 2}T00:00:00Z", body_html=html)
                  for n, (cid, html) in enumerate(comments)])


@pytest.fixture
def db():
    return open_db(":memory:")


def _mentions(db) -> list[tuple]:
    return [(m["item_id"], m["paper_id"], m["how"]) for m in
            db.query("SELECT * FROM mentions ORDER BY item_id, span_start")]


def test_mentions_are_detected_on_ingest_with_stubs(db):
    save_papers(db, [Paper("openalex", "W1", title="Risks from Learned Optimization in ML",
                           doi="10.1000/risks")])
    ingest(db, [_forum([
        ("c1", '<p>Read <a href="https://arxiv.org/abs/2404.16014v2">this</a> and '
               "Risks from learned optimization in ML.</p>"),
        ("c2", "<p>doi:10.1000/RISKS and https://openreview.net/forum?id=HJx4DkHtPr</p>"),
    ], post_body="<p>We discuss hep-th/9901001.</p>")], "thread", "test")
    assert _mentions(db) == [
        ("lesswrong:c1", "arxiv:2404.16014", "arxiv_link"),
        ("lesswrong:c1", "doi:10.1000/risks", "title"),
        ("lesswrong:c2", "doi:10.1000/risks", "doi"),
        ("lesswrong:c2", "openreview:HJx4DkHtPr", "openreview"),
        ("lesswrong:p1", "arxiv:hep-th/9901001", "arxiv_id"),
    ]
    stub = db["papers"].get("arxiv:2404.16014")
    assert stub["stub"] == 1 and stub["url"] == "https://arxiv.org/abs/2404.16014"
    detail = next(db.query("SELECT * FROM mention_details WHERE item_id = 'lesswrong:c2' "
                           "AND how = 'doi'"))
    assert (detail["author"], detail["post_title"], detail["paper_title"]) == \
        ("Alice", "Paper club", "Risks from Learned Optimization in ML")
    assert detail["url"].endswith("commentId=c2")


def test_an_edit_that_drops_a_link_drops_the_mention(db):
    ingest(db, [_forum([("c1", "<p>arXiv:2404.16014</p>")])], "thread", "test")
    assert len(_mentions(db)) == 1
    ingest(db, [_forum([("c1", "<p>never mind</p>")])], "thread", "test")
    assert _mentions(db) == []


def test_a_paper_archived_later_is_found_in_old_comments(db):
    ingest(db, [_forum([("c1", "<p>I loved Sparse Autoencoders Find Interpretable Features.</p>"),
                        ("c2", "<p>Nothing here.</p>")])], "thread", "test")
    assert _mentions(db) == []
    ingest(db, [Page(other={"papers": [Paper("openalex", "W9",
                                             title="Sparse Autoencoders Find Interpretable "
                                                   "Features")]})], "papers", "test")
    assert _mentions(db) == [("lesswrong:c1", "paper:" + _hash("sparse autoencoders find "
                                                              "interpretable features"), "title")]


def test_many_new_titles_use_a_full_pass(db, monkeypatch):
    monkeypatch.setattr(M, "FTS_TITLE_LIMIT", 0)
    ingest(db, [_forum([("c1", "<p>About Sparse Autoencoders Find Interpretable Features!</p>")])],
           "thread", "test")
    ingest(db, [Page(other={"papers": [Paper("openalex", "W9", title="Sparse Autoencoders Find "
                                             "Interpretable Features")]})], "papers", "test")
    assert [m[2] for m in _mentions(db)] == ["title"]


def test_detect_all_agrees_with_incremental_detection(db):
    save_papers(db, [Paper("openalex", "W1", title="Concrete Problems in AI Safety")])
    ingest(db, [_forum([("c1", "<p>Concrete problems in AI safety, arXiv:1606.06565</p>"),
                        ("c2", "<p>see 10.1145/3442188.3445922</p>")])], "thread", "test")
    incremental = _mentions(db)
    assert M.detect_all(db) == len(incremental) == 3
    assert _mentions(db) == incremental


def _hash(norm: str) -> str:
    import hashlib

    return hashlib.sha1(norm.encode()).hexdigest()[:12]


# -- CLI: papers, --fill, mentions ---------------------------------------------------------------


def test_cli_papers_fill_and_mentions(cli_run, httpserver, tmp_path):
    db = open_db(str(tmp_path / "archive.db"))
    ingest(db, [_forum([
        ("c1", "<p>arXiv:2404.16014 and again https://arxiv.org/abs/2404.16014</p>"),
        ("c2", "<p>https://doi.org/10.1000/ABC.1 is good</p>"),
        ("c3", "<p>Later someone says Scaling Monosemanticity Everywhere At Once.</p>"),
    ])], "thread", "test")
    db.close()
    httpserver.expect_request("/api/query", query_string={"id_list": "2404.16014",
                                                         "max_results": "1"}).respond_with_data(
        arxiv_feed([arxiv_entry("2404.16014", "Scaling Monosemanticity Everywhere At Once",
                                ["Ann Author"], categories=("cs.LG",))], total=1),
        content_type="application/atom+xml")
    fake = FakeOpenAlex()
    fake.by_doi["10.1000/abc.1"] = oa_work("W77", "A Journal Paper With A Title",
                                           [("Bob", "A9")], doi="10.1000/abc.1", venue="Nature")
    httpserver.expect_request(re.compile("^/works/.*")).respond_with_handler(fake.handler)
    root = httpserver.url_for("/").rstrip("/")

    listing = cli_run("papers", "--json")
    rows = [json.loads(line) for line in listing.stdout.splitlines()]
    assert [(r["id"], r["mentions"], r["stub"]) for r in rows] == [
        ("arxiv:2404.16014", 2, 1), ("doi:10.1000/abc.1", 1, 1)]

    result = cli_run("papers", "--fill", "--arxiv-endpoint", root, "--openalex-endpoint", root,
                     "--delay", "0", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert rows["arxiv:2404.16014"]["title"] == "Scaling Monosemanticity Everywhere At Once"
    assert rows["arxiv:2404.16014"]["primary_category"] == "cs.LG"
    assert rows["doi:10.1000/abc.1"]["venue"] == "Nature"
    assert not any(r["stub"] for r in rows.values())
    # The filled title is now recognised in c3 as well.
    assert rows["arxiv:2404.16014"]["mentions"] == 3

    result = cli_run("mentions", "--paper", "arxiv:2404.16014", "--json")
    hows = sorted(json.loads(line)["how"] for line in result.stdout.splitlines())
    assert hows == ["arxiv_id", "arxiv_link", "title"]
    text = cli_run("papers").stdout
    assert text.splitlines()[0].split()[:3] == ["3", "2024", "arxiv:2404.16014"]


def test_redetection_keeps_mentions_it_did_not_make(db):
    ingest(db, [_forum([("c1", "<p>arXiv:2404.16014</p>")])], "thread", "test")
    db.execute("INSERT INTO mentions (item_table, item_id, paper_id, how, field, span_start, "
               "span_end) VALUES ('comments', 'lesswrong:c1', 'arxiv:2404.16014', 'review', "
               "'body_text', 0, 0)")
    db.conn.commit()
    M.detect_all(db)
    ingest(db, [_forum([("c1", "<p>edited</p>")])], "thread", "test")
    assert [m[2] for m in _mentions(db)] == ["review"]
