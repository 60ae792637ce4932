"""`archiver stats`: counts per site and table, newest items, last runs and their outcome."""

from __future__ import annotations

import json

from archiver.app.ingest import ingest
from archiver.kernel.records import Comment, Page, Post, Site, User
from archiver.store import finish_run, open_db, start_run

SITE = Site("lesswrong", "LessWrong", "https://www.lesswrong.com", "forummagnum")
BLOG = Site("blog:example.org", "Example blog", "https://example.org", "blog")


def archive(path: str) -> None:
    db = open_db(path)
    user = User("lesswrong:u1", "lesswrong", "u1", slug="ada", name="Ada", stub=True)
    posts = [Post(f"lesswrong:p{i}", "lesswrong", f"p{i}", title=f"Post {i}", user_id=user.id,
                  posted_at=f"2024-05-0{i}T10:00:00Z", body_html=f"<p>Body {i}</p>",
                  url=f"https://www.lesswrong.com/posts/p{i}") for i in (1, 2)]
    comments = [Comment(f"lesswrong:c{i}", "lesswrong", f"c{i}", "lesswrong:p1",
                        posted_at=f"2024-05-0{i}T12:00:00Z", body_html=f"<p>Reply {i}</p>")
                for i in (1, 2, 3)]
    blog = Post("blog:example.org:/a", "blog:example.org", "/a", title="A blog post",
                posted_at="2024-04-01T00:00:00Z", body_html="<p>Text</p>", kind="blog")
    ingest(db, [Page(sites=[SITE, BLOG], users=[user], posts=posts + [blog],
                     comments=comments)], "thread", "https://www.lesswrong.com/posts/p1")
    run = start_run(db, "sync", "watch list")
    finish_run(db, run, "partial", {"new": 6}, 4, "threads lesswrong:x: no post x")
    db.close()


def test_stats_json_counts_newest_and_runs(cli_run, tmp_path):
    archive(str(tmp_path / "archive.db"))
    result = cli_run("stats", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["tables"]["posts"] == 3 and data["tables"]["comments"] == 3
    assert not any("_fts" in name for name in data["tables"])
    sites = {s["id"]: s for s in data["sites"]}
    assert sites["lesswrong"]["counts"] == {"posts": 2, "comments": 3, "users": 1}
    assert sites["blog:example.org"]["counts"]["posts"] == 1
    assert data["newest"]["posts"]["label"] == "Post 2"
    assert data["newest"]["comments"]["at"] == "2024-05-03T12:00:00Z"
    assert [r["command"] for r in data["runs"]] == ["sync", "thread"]
    assert data["last_sync"]["status"] == "partial" and data["last_sync"]["requests"] == 4
    assert data["size_bytes"] > 0


def test_stats_text_report(cli_run, tmp_path):
    archive(str(tmp_path / "archive.db"))
    output = cli_run("stats").output
    assert "lesswrong" in output and "2 posts" in output and "3 comments" in output
    assert "sync" in output and "partial" in output and "error: threads lesswrong:x" in output
    assert "Post 2" in output


def test_stats_on_an_empty_archive(cli_run, tmp_path):
    open_db(str(tmp_path / "archive.db")).close()
    result = cli_run("stats")
    assert result.exit_code == 0 and "none yet" in result.output
