"""The five pages archiver was created from (../shared/seeds) import into the right rows."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from archiver.cli import cli
from archiver.store import open_db
from tests.conftest import SHARED, shared_file

CAPTURED = "2026-02-01"  # "Jan 12" -> 2026-01-12; "Mar 3" would be after it -> 2025-03-03


def seed(prefix: str) -> str:
    folder = shared_file("seeds")
    matches = sorted(folder.glob(f"{prefix}_*.txt"))
    if not matches:
        pytest.skip(f"seed {prefix} not in {folder}")
    return str(matches[0])


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    if not (SHARED / "seeds").exists():
        pytest.skip("../shared/seeds not available")
    path = tmp_path_factory.mktemp("seeds") / "a.db"
    result = CliRunner().invoke(cli, ["import", *(seed(p) for p in ("000", "001", "002", "003",
                                                                     "004")),
                                      "--captured", CAPTURED, "--db", str(path)])
    assert result.exit_code == 0, result.output
    return open_db(str(path)), result.output


def test_each_seed_is_detected_as_its_kind(archive):
    _db, output = archive
    kinds = [line.split(": ")[1] for line in output.splitlines() if line.startswith("/")]
    assert kinds == ["researcher-profile", "researcher-profile", "blog", "review-post",
                     "forum-profile"]


def test_000_researcher_metrics(archive):
    db, _ = archive
    researcher = next(db.query("SELECT * FROM researchers WHERE name = 'Adam Scherlis'"))
    metrics = next(db.query("SELECT * FROM researcher_metrics WHERE researcher_id = ?",
                            [researcher["id"]]))
    assert (metrics["h_index"], metrics["works_count"], metrics["citation_count"]) == (9, 6, 227)
    assert json.loads(metrics["extra"]) == {"novelty_percent": 52, "ai_score": 34}
    assert metrics["captured_at"] == "2026-02-01T00:00:00Z"
    assert json.loads(researcher["topics"]) == ["cs.LG"]


def test_000_six_papers_with_all_fields(archive):
    db, _ = archive
    papers = list(db.query(
        "SELECT p.* FROM papers p JOIN researcher_papers rp ON rp.paper_id = p.id "
        "JOIN researchers r ON r.id = rp.researcher_id WHERE r.name = 'Adam Scherlis' "
        "ORDER BY p.published"))
    assert len(papers) == 6
    assert all(p["title"] and p["abstract"] and p["published"] and p["primary_category"]
               for p in papers)
    refusal = next(p for p in papers if p["title"] == "Refusal in LLMs is an Affine Function")
    assert (refusal["published"], refusal["primary_category"], refusal["has_code"]) == \
        ("2024-11-13", "cs.LG", 1)
    assert refusal["abstract"].startswith("We propose affine concept editing (ACE)")
    authors = [r[0] for r in db.execute(
        "SELECT name FROM paper_authors WHERE paper_id = ? ORDER BY position", [refusal["id"]])]
    assert authors == ["Thomas Marshall", "Adam Scherlis", "Nora Belrose"]
    poly = next(p for p in papers if p["title"].startswith("Polysemanticity"))
    assert (poly["primary_category"], poly["has_code"]) == ("cs.NE", 0)
    assert json.loads(poly["extra"])["authors_truncated"] is True
    assert [p["title"] for p in papers][0].startswith("The Goldilocks zone")


def test_001_titles_split_from_authors_with_affiliation_tags(archive):
    db, _ = archive
    fort = next(db.query("SELECT * FROM researchers WHERE name = 'Stanislav Fort'"))
    papers = {p["title"]: p for p in db.query(
        "SELECT p.* FROM papers p JOIN researcher_papers rp ON rp.paper_id = p.id "
        "WHERE rp.researcher_id = ?", [fort["id"]])}
    assert len(papers) == 32
    cai = papers["Constitutional AI: Harmlessness from AI Feedback"]
    assert json.loads(cai["extra"])["affiliations"] == ["anthropic", "berkeley"]
    first = [t for t in papers if t.startswith("What does a deep neural network")][0]
    assert first.endswith("their low confidence boundaries")
    authors = [r[0] for r in db.execute(
        "SELECT name FROM paper_authors WHERE paper_id = ? ORDER BY position",
        [papers["Get RICH or Die Scaling: Profitably Trading Inference Compute for Robustness"]
         ["id"]])]
    assert authors == ["Tavish McDonald", "Bo Lei", "Stanislav Fort"]
    assert papers["Adaptive Quantum State Tomography with Neural Networks"][
        "primary_category"] == "quant-ph"


def test_001_dates_without_year_resolve_against_capture_date(archive):
    db, _ = archive
    published = dict(db.execute(
        "SELECT title, published FROM papers WHERE title LIKE 'Representations of Text%' "
        "OR title LIKE 'Solving adversarial examples%'").fetchall())
    assert published == {
        "Representations of Text and Images Align From Layer One": "2026-01-12",
        "Solving adversarial examples requires solving exponential misalignment": "2025-03-03",
    }


def test_paper_on_both_profiles_is_one_row(archive):
    db, _ = archive
    rows = db.execute("SELECT id FROM papers WHERE title LIKE 'The Goldilocks zone%'").fetchall()
    assert len(rows) == 1
    owners = {r[0] for r in db.execute(
        "SELECT r.name FROM researcher_papers rp JOIN researchers r ON r.id = rp.researcher_id "
        "WHERE rp.paper_id = ?", rows[0])}
    assert owners == {"Adam Scherlis", "Stanislav Fort"}


def test_002_blog_post_stored_once_with_sections(archive):
    db, _ = archive
    posts = list(db.query("SELECT * FROM posts WHERE kind = 'blog'"))
    assert len(posts) == 1
    post = posts[0]
    assert post["body_text"].count("Predicting Out-of-Distribution Error") == 1
    assert post["body_text"].count("fairly broad term") == 1
    assert "framingandanchoring" not in post["body_text"]
    headings = [r[0] for r in db.execute(
        "SELECT heading FROM post_sections WHERE post_id = ? AND heading IS NOT NULL "
        "ORDER BY position", [post["id"]])]
    assert headings == ["Robustness", "Science of ML"]
    robustness = db.execute("SELECT body_text FROM post_sections WHERE post_id = ? AND "
                            "heading = 'Robustness'", [post["id"]]).fetchone()[0]
    assert "PixMix" in robustness and "fairly broad term" not in robustness


def test_003_reviewed_papers_with_abstract_and_opinion(archive):
    db, _ = archive
    post = next(db.query("SELECT * FROM posts WHERE kind = 'paper-review'"))
    reviews = list(db.query(
        "SELECT pr.position, p.title, p.abstract, c.body_text AS opinion, c.post_id "
        "FROM paper_reviews pr JOIN papers p ON p.id = pr.paper_id "
        "JOIN comments c ON c.id = pr.comment_id WHERE pr.post_id = ? ORDER BY pr.position",
        [post["id"]]))
    assert len(reviews) == 10
    assert [r["title"] for r in reviews][:3] == [
        "Locating and Editing Factual Associations in GPT",
        "Using cognitive psychology to understand GPT-3",
        "Mapping Language Models to Grounded Conceptual Spaces"]
    assert reviews[4]["title"] == "SGD on Neural Networks Learns Functions of Increasing Complexity"
    assert reviews[-1]["title"].startswith("Adversarial Perturbations Are Not So Weird")
    assert reviews[0]["abstract"].startswith("We analyze the storage and recall")
    assert reviews[0]["opinion"].startswith("Most people I talk to about this paper")
    assert "My opinion" not in reviews[0]["abstract"]
    assert reviews[3]["opinion"].endswith("Related: Path dependence in ML inductive biases")
    assert "Going forward" not in reviews[-1]["opinion"]
    assert all(r["post_id"] == post["id"] for r in reviews)
    # The post's body names each paper: mention detection links the post to all ten.
    linked = db.execute("SELECT COUNT(DISTINCT paper_id) FROM mentions WHERE item_table = "
                        "'posts' AND item_id = ?", [post["id"]]).fetchone()[0]
    assert linked == 10


def test_004_forum_profile_bio_sequences_and_comments(archive):
    db, _ = archive
    user = next(db.query("SELECT * FROM users WHERE name = 'Rohin Shah'"))
    assert user["bio_text"] == ("Research Scientist at DeepMind. Creator of the Alignment "
                                "Newsletter.")
    assert user["stub"] == 0
    sequences = [r[0] for r in db.execute(
        "SELECT title FROM user_sequences WHERE user_id = ? ORDER BY position", [user["id"]])]
    assert sequences == ["Value Learning", "Alignment Newsletter"]
    comments = [r[0] for r in db.execute(
        "SELECT body_text FROM comments WHERE user_id = ? ORDER BY json_extract(extra, "
        "'$.position')", [user["id"]])]
    assert len(comments) >= 15
    assert comments[0].startswith("Sounds plausible, but why")
    exchange = [c for c in comments if "Daniel Filan:" in c]
    assert len(exchange) == 1
    assert "> Vikrant Varma: Yes." in exchange[0] and "My pet hypothesis" in exchange[0]
    assert not any("Load More" in c for c in comments)
    assert not any("Wiki Contributions" in c for c in comments)


def test_reimport_is_unchanged(archive, tmp_path):
    db, _ = archive
    path = db.execute("PRAGMA database_list").fetchone()[2]
    result = CliRunner().invoke(cli, ["import", seed("000"), seed("003"), seed("004"),
                                      "--captured", CAPTURED, "--db", path, "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [line["new"] for line in lines] == [0, 0, 0]
    assert [line["updated"] for line in lines] == [0, 0, 0]


def test_capture_date_assumed_from_file_time_is_said(tmp_path):
    result = CliRunner().invoke(cli, ["import", seed("001"), "--db", str(tmp_path / "a.db")])
    assert result.exit_code == 0, result.output
    assert "(file modification time; pass --captured DATE" in result.output


def test_004_joins_the_profile_already_archived(tmp_path):
    """A saved profile of a user archived from the API lands on that user, not a new one."""
    from archiver.kernel.records import Page, Site, User
    from archiver.store import save_page

    path = str(tmp_path / "a.db")
    db = open_db(path)
    save_page(db, Page(sites=[Site("lesswrong", "LessWrong", "https://www.lesswrong.com",
                                   "forummagnum")],
                       users=[User("lesswrong:rohinApiId00001", "lesswrong", "rohinApiId00001",
                                   slug="rohinmshah", name="Rohin Shah", stub=False)]))
    result = CliRunner().invoke(cli, ["import", seed("004"), "--captured", CAPTURED, "--url",
                                      "https://www.lesswrong.com/users/rohinmshah", "--db", path])
    assert result.exit_code == 0, result.output
    owners = {r[0] for r in db.execute("SELECT DISTINCT user_id FROM comments")}
    assert owners == {"lesswrong:rohinApiId00001"}
