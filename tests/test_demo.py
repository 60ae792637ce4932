"""`archiver demo`: an offline archive from the shipped samples, through the real code paths."""

from __future__ import annotations

import requests

from archiver.store import bodies, open_db

POST = "lesswrong:demoPostGated001"


def test_demo_builds_the_archive_offline_and_says_what_to_open(cli_run, tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the demo touched the network")

    monkeypatch.setattr(requests.Session, "request", no_network)
    result = cli_run("demo", "--db", str(tmp_path / "demo.db"))
    assert result.exit_code == 0, result.output
    assert "demo archive ready" in result.output and "skipped" not in result.output
    assert f"archiver serve --db {tmp_path / 'demo.db'}" in result.output
    report = tmp_path / "demo-report" / "sparse-autoencoders.html"
    assert report.exists() and (tmp_path / "demo-report" / "sparse-autoencoders.md").exists()
    assert "Sparse autoencoders" in report.read_text()

    db = open_db(str(tmp_path / "demo.db"))
    # The sample threads went through the real ForumMagnum parsing: nesting, quotes, deletions.
    comments = {r["source_id"]: bodies.full("comments", r)
                for r in db.query("select * from comments")}
    assert len(comments) == 13
    assert comments["demoCmtP1a000005"]["depth"] == 2
    assert comments["demoCmtP1a000008"]["deleted"] == 1
    assert comments["demoCmtP1a000003"]["body_markdown"].startswith("> Gating removes shrinkage")
    # Quotes and pushback became exchanges of every kind the samples were written to show.
    kinds = {r[0] for r in db.execute("select kind from exchanges")}
    assert {"post", "parent", "ancestor", "thread", "archive", "external"} <= kinds
    assert db["exchange_turns"].count >= 4  # the quoted podcast transcript
    # The researcher (OpenAlex-shaped sample) and her papers, linked to the forum discussion.
    assert db["researchers"].get("openalex:A9000000001")["name"] == "Mira Okafor"
    assert db["researcher_metrics"].count == 1 and db["papers"].count == 3
    mentioned = {r[0] for r in db.execute("select paper_title from mention_details")}
    assert "Gated Sparse Autoencoders for Cleaner Features" in mentioned
    # The blog post with its sections, the topic and its stored summary.
    sections = [r[0] for r in db.execute(
        "select heading from post_sections where post_id like 'blog:%' order by position")]
    assert sections[1:] == ["Reconstruction at matched sparsity", "Robustness", "Science of ML"]
    topic = db.execute("select id from topics where kind = 'user'").fetchone()[0]
    assert db.execute("select count(*) from topic_items where topic_id = ?", [topic]).fetchone()[0] > 5
    assert db.execute("select topic_name from summaries").fetchall() == [("Sparse autoencoders",)]


def test_demo_rebuilds_itself_but_never_overwrites_an_archive(cli_run, tmp_path):
    path = tmp_path / "demo.db"
    assert cli_run("demo", "--db", str(path)).exit_code == 0
    assert cli_run("demo", "--db", str(path)).exit_code == 0  # a rebuild, not a duplicate
    db = open_db(str(path))
    assert db["posts"].count == 3 and db["summaries"].count == 1
    db.close()

    archive = tmp_path / "archive.db"
    open_db(str(archive)).close()
    result = cli_run("demo", "--db", str(archive))
    assert result.exit_code == 2 and "is not a demo archive" in result.output
    assert archive.exists()
