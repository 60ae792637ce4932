"""GreaterWrong as the LessWrong fallback: the same rows as the API path, by choice or after a refusal."""

from __future__ import annotations

import logging
import re

import pytest
from werkzeug.wrappers import Response

from archiver.app.forums import archive_thread
from archiver.kernel.errors import UsageError
from archiver.kernel.http import ChallengeError
from archiver.sources import greaterwrong as gw
from archiver.store import open_db
from tests.fakes import forummagnum as fm
from tests.fakes.greaterwrong import FakeGreaterWrong, render_post

ALICE = fm.user("aliceid000000001", "alice", "Alice Smith")
BOB = fm.user("bobid00000000001", "bob", "Bob")
CAROL = fm.user("carolid000000001", "carol", "Carol")
POST_ID = "postid0000000001"
QUESTION_ID = "questid000000001"


def debate(forum: fm.FakeForum) -> None:
    forum.posts[POST_ID] = fm.post(
        POST_ID, "Gated SAEs fix shrinkage", ALICE,
        "<h2>Summary</h2><p>Gated autoencoders reduce <em>shrinkage</em> considerably.</p>",
        commentCount=5, url="https://arxiv.org/abs/2404.16014")
    forum.comments += [
        fm.comment("c000000000000001", POST_ID, BOB, "<p>Why does gating help?</p>", fm.stamp(1)),
        fm.comment("c000000000000002", POST_ID, ALICE,
                   "<blockquote><p>Why does gating help?</p></blockquote><p>It separates detection "
                   "from magnitude estimation.</p>", fm.stamp(2), parent="c000000000000001",
                   af=True, baseScore=12, voteCount=7),
        fm.comment("c000000000000003", POST_ID, CAROL, "<p>I disagree entirely.</p>", fm.stamp(3),
                   parent="c000000000000002", baseScore=-2),
        fm.comment("c000000000000004", POST_ID, None, "", fm.stamp(4), deleted=True),
        fm.comment("c000000000000005", POST_ID, BOB, "<p>See <a href=\"https://www.lesswrong.com/posts/abc/x\">this</a>.</p>",
                   fm.stamp(5)),
    ]
    forum.posts[QUESTION_ID] = fm.post(QUESTION_ID, "Which SAE variant", ALICE, "<p>Which?</p>",
                                       question=True, posted="2024-05-02T12:00:00.000Z")
    forum.comments += [
        fm.comment("a000000000000001", QUESTION_ID, BOB, "<p>Gated.</p>", fm.stamp(10), answer=True),
        fm.comment("r000000000000001", QUESTION_ID, CAROL, "<p>Why gated?</p>", fm.stamp(11),
                   parentAnswerId="a000000000000001"),
        fm.comment("q000000000000001", QUESTION_ID, CAROL, "<p>Nice question.</p>", fm.stamp(12)),
    ]


@pytest.fixture
def gw_site(httpserver, forum, monkeypatch) -> FakeGreaterWrong:
    """GreaterWrong pages on the same loopback server as the fake GraphQL API."""
    site = FakeGreaterWrong(forum)
    httpserver.expect_request(re.compile("^/posts/.*")).respond_with_handler(site.handler)
    root = httpserver.url_for("/").rstrip("/")
    monkeypatch.setitem(gw.ROOTS, "lesswrong", root)
    monkeypatch.setitem(gw.ROOTS, "eaforum", root)
    return site


POST_COLUMNS = ("id, site_id, source_id, url, title, user_id, author, posted_at, score, vote_count, "
                "comment_count, af, question, kind, body_text, deleted, missing")
COMMENT_COLUMNS = ("id, site_id, source_id, post_id, parent_id, user_id, author, url, posted_at, "
                   "score, vote_count, af, answer, depth, path, body_html, body_text, deleted, "
                   "missing")


@pytest.mark.parametrize("post_id", [POST_ID, QUESTION_ID])
def test_same_rows_as_the_api_path(forum, endpoint, gw_site, http, post_id):
    debate(forum)
    by_api, by_gw = open_db(":memory:"), open_db(":memory:")
    archive_thread(by_api, http, f"lesswrong:{post_id}", endpoint=endpoint)
    archive_thread(by_gw, http, f"https://www.greaterwrong.com/posts/{post_id}/x", via="greaterwrong")
    assert list(by_api.query(f"select {POST_COLUMNS} from posts")) == \
        list(by_gw.query(f"select {POST_COLUMNS} from posts"))
    live = f"select {COMMENT_COLUMNS} from comments where deleted = 0 order by path"
    assert list(by_api.query(live)) == list(by_gw.query(live))
    assert list(by_api.query("select id, slug, name, url from users order by id")) == \
        list(by_gw.query("select id, slug, name, url from users order by id"))
    assert by_gw["sites"].get("lesswrong")["kind"] == "forummagnum"


def test_gw_refresh_of_an_api_archive_changes_no_comment(forum, endpoint, gw_site, http):
    debate(forum)
    db = open_db(":memory:")
    archive_thread(db, http, f"lesswrong:{POST_ID}", endpoint=endpoint)
    counts, _ = archive_thread(db, http, f"lesswrong:{POST_ID}", via="greaterwrong")
    assert counts.new == 0
    assert db.execute("select count(*) from comments where missing = 1").fetchone()[0] == 0
    assert db["comments"].get("lesswrong:c000000000000004")["deleted"] == 1  # left as it was
    assert db["item_versions"].count == 0  # same titles and bodies: nothing to version


def test_soft_hyphens_toc_and_links_are_cleaned(forum, gw_site, http):
    debate(forum)
    ref = gw.ThreadRef("lesswrong", POST_ID, f"https://www.lesswrong.com/posts/{POST_ID}")
    pages = list(gw.fetch_thread(http, ref))
    post = pages[0].posts[0]
    assert "\u00ad" not in post.body_html and "autoencoders" in post.body_html
    assert "Contents" not in post.body_html and "Link post" not in post.body_html
    assert post.extra == {"coauthors": [], "link_url": "https://arxiv.org/abs/2404.16014"}
    comments = {c.source_id: c for p in pages for c in p.comments}
    assert 'href="https://www.lesswrong.com/posts/abc/x"' in comments["c000000000000005"].body_html
    assert comments["c000000000000003"].score == -2
    assert [t.slug for t in post.tags] == ["sparse-autoencoders"]
    final = pages[-1]
    assert "lesswrong:c000000000000004" in final.seen_comment_ids  # deleted, but not vanished


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_api_refusal_switches_to_greaterwrong_once(httpserver, forum, gw_site, http):
    debate(forum)
    refused = httpserver.url_for("/refused/graphql")
    httpserver.expect_request("/refused/graphql", method="POST").respond_with_response(
        Response('{"error": "forbidden"}', status=403, content_type="application/json"))
    db = open_db(":memory:")
    records = _Records()  # the CLI stops archiver loggers propagating, so listen directly
    logging.getLogger("archiver.app.forums").addHandler(records)
    try:
        counts, title = archive_thread(db, http, f"lesswrong:{POST_ID}", endpoint=refused,
                                       fallback=gw.ROOTS["lesswrong"])
    finally:
        logging.getLogger("archiver.app.forums").removeHandler(records)
    assert title == "Gated SAEs fix shrinkage" and db["comments"].count == 4
    assert len([m for m in records.messages if "GreaterWrong" in m]) == 1
    runs = list(db.query("select status from runs order by rowid"))
    assert [r["status"] for r in runs] == ["failed", "ok"]  # the refusal stays on record


def test_challenge_page_switches_to_greaterwrong(httpserver, forum, gw_site, http):
    debate(forum)
    httpserver.expect_request("/challenge/graphql", method="POST").respond_with_response(
        Response("<!DOCTYPE html><html><title>Just a moment...</title></html>", status=200,
                 content_type="text/html"))
    db = open_db(":memory:")
    archive_thread(db, http, f"lesswrong:{POST_ID}", endpoint=httpserver.url_for("/challenge/graphql"),
                   endpoints={"lesswrong_fallback": gw.ROOTS["lesswrong"]})
    assert db["comments"].count == 4


def test_greaterwrong_challenge_is_a_clear_error(forum, gw_site, http):
    debate(forum)
    gw_site.challenge = True
    ref = gw.ThreadRef("lesswrong", POST_ID, f"https://www.lesswrong.com/posts/{POST_ID}")
    with pytest.raises(ChallengeError, match="not a post"):
        list(gw.fetch_thread(http, ref))


def test_other_sites_cannot_go_via_greaterwrong(http):
    ref = gw.ThreadRef("hackernews", "1", "https://news.ycombinator.com/item?id=1")
    with pytest.raises(UsageError, match="GreaterWrong mirrors only"):
        list(gw.fetch_thread(http, ref))


def test_rerun_is_idempotent(forum, gw_site, http):
    debate(forum)
    db = open_db(":memory:")
    archive_thread(db, http, f"lesswrong:{POST_ID}", via="greaterwrong")
    before = db.conn.total_changes
    counts, _ = archive_thread(db, http, f"lesswrong:{POST_ID}", via="greaterwrong")
    assert counts.new == 0 and counts.updated == 0
    assert db.conn.total_changes - before <= 3


def test_cli_via_greaterwrong_with_endpoint(httpserver, forum, cli_run, tmp_path):
    debate(forum)
    site = FakeGreaterWrong(forum)
    httpserver.expect_request(re.compile("^/posts/.*")).respond_with_handler(site.handler)
    result = cli_run("thread", f"https://www.lesswrong.com/posts/{POST_ID}/gated", "--via",
                     "greaterwrong", "--endpoint", httpserver.url_for("/").rstrip("/"), "--delay",
                     "0", "--db", str(tmp_path / "a.db"))
    assert result.exit_code == 0, result.output
    db = open_db(str(tmp_path / "a.db"))
    assert db["comments"].count == 4
    assert db["posts"].get(f"lesswrong:{POST_ID}")["url"].startswith("https://www.lesswrong.com/")


def test_saved_page_import(forum):
    debate(forum)
    html = render_post(forum, POST_ID)
    [page] = gw.parse_saved_html(html, f"https://www.greaterwrong.com/posts/{POST_ID}/gated")
    assert page.posts[0].id == f"lesswrong:{POST_ID}" and len(page.comments) == 4
    assert page.complete_post_ids == []
    [page] = gw.parse_saved_html(html.replace(' data-userid="bobid00000000001"', ""), None)
    bob = {u.id for u in page.users}
    assert "lesswrong:slug:bob" in bob  # no user id on the page: the documented slug scheme
    assert gw.parse_saved_html("<html><body>hi</body></html>", None) is None
