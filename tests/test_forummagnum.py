"""ForumMagnum threads and users, end to end against a loopback GraphQL server."""

from __future__ import annotations

import json

import pytest

from archiver.app.forums import archive_thread, archive_user
from archiver.kernel.errors import FetchError, NotFound, UsageError
from archiver.sources import resolve_thread
from archiver.sources.forummagnum import parse_thread_url, parse_user_url
from archiver.store import bodies, open_db
from tests.conftest import shared_file
from tests.fakes import forummagnum as fm

ALICE = fm.user("aliceid000000001", "alice", "Alice")
BOB = fm.user("bobid00000000001", "bob", "Bob")
CAROL = fm.user("carolid000000001", "carol", "Carol")
POST_ID = "postid0000000001"


def debate(forum: fm.FakeForum) -> None:
    """A post, nested replies, a blockquote reply, and a deleted comment."""
    forum.posts[POST_ID] = fm.post(
        POST_ID, "Gated SAEs fix shrinkage", ALICE,
        "<h2>Summary</h2><p>Gated SAEs reduce <em>shrinkage</em>.</p><ul><li>one</li><li>two</li></ul>",
        commentCount=4)
    forum.comments += [
        fm.comment("c000000000000001", POST_ID, BOB, "<p>Why does gating help?</p>", fm.stamp(1)),
        fm.comment("c000000000000002", POST_ID, ALICE,
                   "<blockquote><p>Why does gating help?</p></blockquote><p>It separates detection "
                   "from magnitude.</p>", fm.stamp(2), parent="c000000000000001"),
        fm.comment("c000000000000003", POST_ID, CAROL, "<p>I disagree entirely.</p>", fm.stamp(3),
                   parent="c000000000000002"),
        fm.comment("c000000000000004", POST_ID, None, "", fm.stamp(4), deleted=True),
    ]


def test_thread_archives_post_comments_nesting_and_quotes(forum, endpoint, http):
    debate(forum)
    db = open_db(":memory:")
    counts, title = archive_thread(db, http, f"lesswrong:{POST_ID}", endpoint=endpoint)
    assert title == "Gated SAEs fix shrinkage"
    assert counts.new == 5  # the post and four comments
    post = db["posts"].get(f"lesswrong:{POST_ID}")
    assert post["url"].startswith("https://www.lesswrong.com/posts/")  # canonical, not loopback
    # The site's own Markdown (Turndown's: underlined heading, "*" bullets) is kept as sent.
    assert post["body_markdown"].startswith("Summary\n---") and "* one" in post["body_markdown"]
    rows = [bodies.full("comments", r) for r in db.query("select * from comments order by path")]
    assert [r["source_id"] for r in rows] == [
        "c000000000000001", "c000000000000002", "c000000000000003", "c000000000000004"]
    assert [r["depth"] for r in rows] == [0, 1, 2, 0]
    quoted = rows[1]
    assert "<blockquote>" in quoted["body_html"]
    assert quoted["body_markdown"].startswith("> Why does gating help?")
    assert "> Why does gating help?" in quoted["body_text"]
    assert rows[2]["parent_id"] == "lesswrong:c000000000000002"
    assert rows[3]["deleted"] == 1
    assert db["users"].get("lesswrong:bobid00000000001")["name"] == "Bob"
    tags = list(db.query("select t.name from post_tags pt join tags t on t.id = pt.tag_id"))
    assert tags == [{"name": "Sparse Autoencoders"}]


def test_thread_uses_one_comments_request(forum, endpoint, http):
    debate(forum)
    archive_thread(open_db(":memory:"), http, f"lesswrong:{POST_ID}", endpoint=endpoint)
    assert len(forum.queries) == 2  # the post, then every comment in one request
    assert "limit: 5000" in forum.queries[1]


def test_question_post_includes_answers_and_replies(forum, endpoint, http):
    forum.posts[POST_ID] = fm.post(POST_ID, "Which SAE variant?", ALICE, "<p>Which?</p>",
                                   question=True)
    forum.comments += [
        fm.comment("a000000000000001", POST_ID, BOB, "<p>Gated.</p>", fm.stamp(1), answer=True),
        fm.comment("r000000000000001", POST_ID, CAROL, "<p>Why gated?</p>", fm.stamp(2),
                   parentAnswerId="a000000000000001"),
        fm.comment("c000000000000001", POST_ID, CAROL, "<p>Nice question.</p>", fm.stamp(3)),
    ]
    db = open_db(":memory:")
    archive_thread(db, http, f"lesswrong:{POST_ID}", endpoint=endpoint)
    rows = {r["source_id"]: r for r in db["comments"].rows}
    assert set(rows) == {"a000000000000001", "r000000000000001", "c000000000000001"}
    assert rows["a000000000000001"]["answer"] == 1
    assert rows["r000000000000001"]["parent_id"] == "lesswrong:a000000000000001"
    assert db["posts"].get(f"lesswrong:{POST_ID}")["question"] == 1


def test_rerun_duplicates_nothing_and_rewrites_nothing(forum, endpoint, http):
    debate(forum)
    db = open_db(":memory:")
    archive_thread(db, http, f"lesswrong:{POST_ID}", endpoint=endpoint)
    changes = db.conn.total_changes
    counts, _ = archive_thread(db, http, f"lesswrong:{POST_ID}", endpoint=endpoint)
    assert (counts.new, counts.updated, counts.unchanged) == (0, 0, 5)
    assert db["comments"].count == 4 and db["posts"].count == 1
    # Only the runs row and the thread's fetch time are written on an unchanged re-run.
    assert db.conn.total_changes - changes <= 3


def test_edit_keeps_previous_version(forum, endpoint, http):
    debate(forum)
    db = open_db(":memory:")
    archive_thread(db, http, f"lesswrong:{POST_ID}", endpoint=endpoint)
    forum.comments[2]["contents"]["html"] = "<p>I disagree, on reflection, partly.</p>"
    forum.comments[2]["lastEditedAt"] = fm.stamp(99)
    counts, _ = archive_thread(db, http, f"lesswrong:{POST_ID}", endpoint=endpoint)
    assert counts.updated == 1
    now = db["comments"].get("lesswrong:c000000000000003")
    assert now["body_text"] == "I disagree, on reflection, partly."
    [old] = db["item_versions"].rows
    assert old["item_id"] == "lesswrong:c000000000000003"
    assert old["body_text"] == "I disagree entirely."
    assert old["user_id"] == "lesswrong:carolid000000001"
    assert "body_html" in json.loads(old["changed"])


def test_upstream_delete_keeps_text_and_vanished_comment_is_flagged(forum, endpoint, http):
    debate(forum)
    db = open_db(":memory:")
    archive_thread(db, http, f"lesswrong:{POST_ID}", endpoint=endpoint)
    forum.comments[0].update(deleted=True, user=None, contents={"html": None, "markdown": None})
    del forum.comments[2]  # vanished from the API altogether
    archive_thread(db, http, f"lesswrong:{POST_ID}", endpoint=endpoint)
    deleted = db["comments"].get("lesswrong:c000000000000001")
    assert deleted["deleted"] == 1
    assert deleted["body_text"] == "Why does gating help?"
    assert (deleted["user_id"], deleted["author"]) == ("lesswrong:bobid00000000001", "Bob")
    vanished = db["comments"].get("lesswrong:c000000000000003")
    assert vanished["missing"] == 1 and vanished["body_text"] == "I disagree entirely."


def test_long_thread_pages_by_date(forum, endpoint, http):
    fm.big_thread(forum, POST_ID, 5_600, body_chars=40)
    db = open_db(":memory:")
    counts, _ = archive_thread(db, http, f"lesswrong:{POST_ID}", endpoint=endpoint)
    assert db["comments"].count == 5_600 and counts.new == 5_601
    assert len(forum.queries) == 3  # post + two pages of comments
    assert "after:" in forum.queries[2] and "offset" not in forum.queries[2]


def test_legacy_only_server_falls_back(forum, endpoint, http):
    forum.legacy_only = True
    debate(forum)
    db = open_db(":memory:")
    archive_thread(db, http, f"eaforum:{POST_ID}", endpoint=endpoint)
    assert db["comments"].count == 4
    post = db["posts"].get(f"eaforum:{POST_ID}")
    assert post["site_id"] == "eaforum"
    assert any("input:" in q for q in forum.queries)


def test_missing_post_is_not_found(forum, endpoint, http):
    with pytest.raises(NotFound, match="no post"):
        list(resolve_thread(f"lesswrong:{POST_ID}")[0].fetch_thread(
            http, parse_thread_url(f"lesswrong:{POST_ID}"), endpoint=endpoint))


def user_with_comments(forum: fm.FakeForum, n: int) -> None:
    forum.users["rohin"] = fm.profile("rohinid000000001", "rohinmshah", "Rohin Shah")
    rohin = forum.users["rohin"]
    forum.posts[POST_ID] = fm.post(POST_ID, "Alignment newsletter", rohin, "<p>News.</p>")
    for i in range(n):
        forum.comments.append(fm.comment(f"rc{i:014d}", f"other{i % 7:011d}", rohin,
                                         f"<p>Comment number {i}</p>", fm.stamp(i * 13)))


def test_user_profile_posts_and_comments_past_the_offset_cap(forum, endpoint, http):
    user_with_comments(forum, 2_600)
    db = open_db(":memory:")
    counts, name = archive_user(db, http, "https://www.lesswrong.com/users/rohinmshah",
                                endpoint=endpoint)
    assert name == "Rohin Shah"
    profile = db["users"].get("lesswrong:rohinid000000001")
    assert profile["karma"] == 1000 and profile["stub"] == 0
    assert "alignment" in profile["bio_text"]
    assert db["comments"].count == 2_600
    # every comment links to its post, archived as a stub with title and URL
    stub = db["posts"].get("lesswrong:other00000000003")
    assert stub["stub"] == 1 and stub["title"] == "Post other00000000003"
    assert stub["url"].startswith("https://www.lesswrong.com/posts/")
    assert db["posts"].get(f"lesswrong:{POST_ID}")["stub"] == 0


def test_user_comment_limit_and_since(forum, endpoint, http):
    user_with_comments(forum, 40)
    db = open_db(":memory:")
    archive_user(db, http, "rohinmshah", comments=10, posts=0, endpoint=endpoint)
    assert db["comments"].count == 10
    newest = max(r["posted_at"] for r in db["comments"].rows)
    assert newest == fm.stamp(39 * 13)[:19] + "Z"
    db2 = open_db(":memory:")
    archive_user(db2, http, "rohinmshah", since=fm.stamp(30 * 13)[:19] + "Z", endpoint=endpoint)
    assert db2["comments"].count == 10


def test_unknown_user_is_not_found(forum, endpoint, http):
    with pytest.raises(NotFound, match="no user 'nobody'"):
        archive_user(open_db(":memory:"), http, "nobody", endpoint=endpoint)


def test_a_profile_without_a_usable_id_is_one_clear_error(forum, endpoint, http):
    forum.users["odd"] = dict(fm.user("x", "oddone", "Odd"), _id=["not", "an", "id"])
    with pytest.raises(FetchError, match="profile of 'oddone' without a usable user id"):
        archive_user(open_db(":memory:"), http, "oddone", endpoint=endpoint)


def test_realworld_post_agi_ruin(httpserver, http):
    recorded = json.loads(shared_file("realworld", "lw_graphql_post_agi_ruin.json").read_text())

    def handler(request):
        from werkzeug.wrappers import Response

        query = json.loads(request.get_data())["query"]
        body = recorded if "post(" in query else {"data": {"comments": {"results": []}}}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/graphql", method="POST").respond_with_handler(handler)
    db = open_db(":memory:")
    archive_thread(db, http, "https://www.lesswrong.com/posts/uMQ3cqWDPHhjtiesc/agi-ruin",
                   endpoint=httpserver.url_for("/graphql"))
    post = db["posts"].get("lesswrong:uMQ3cqWDPHhjtiesc")
    assert post["title"] == "AGI Ruin: A List of Lethalities"
    assert post["author"] == "Eliezer Yudkowsky"
    assert post["posted_at"] == "2022-06-05T22:05:52Z"
    assert post["score"] == 956 and post["comment_count"] == 711
    assert post["url"] == "https://www.lesswrong.com/posts/uMQ3cqWDPHhjtiesc/agi-ruin-a-list-of-lethalities"
    markdown = post["body_markdown"]
    assert "### **Preamble:**" in markdown or "### Preamble:" in markdown
    assert "\n1. " in markdown or "\n- " in markdown  # its lists survive
    assert "<script" not in post["body_html"]
    assert len(post["body_text"]) > 50_000


@pytest.mark.parametrize("url, site, post_id", [
    ("https://www.lesswrong.com/posts/uMQ3cqWDPHhjtiesc/agi-ruin-a-list-of-lethalities",
     "lesswrong", "uMQ3cqWDPHhjtiesc"),
    ("https://www.lesswrong.com/posts/uMQ3cqWDPHhjtiesc", "lesswrong", "uMQ3cqWDPHhjtiesc"),
    ("https://lesswrong.com/posts/uMQ3cqWDPHhjtiesc/x?commentId=abcdefabcdef12345", "lesswrong",
     "uMQ3cqWDPHhjtiesc"),
    ("https://www.lesswrong.com/s/oBJDcXeSE5xhCG3Ns/p/uMQ3cqWDPHhjtiesc", "lesswrong",
     "uMQ3cqWDPHhjtiesc"),
    ("https://www.alignmentforum.org/posts/uMQ3cqWDPHhjtiesc/agi-ruin#comment-xyz", "lesswrong",
     "uMQ3cqWDPHhjtiesc"),
    ("https://forum.effectivealtruism.org/posts/abcDEF1234567890x/some-post?utm_source=x",
     "eaforum", "abcDEF1234567890x"),
    ("https://www.greaterwrong.com/posts/uMQ3cqWDPHhjtiesc/agi-ruin", "lesswrong",
     "uMQ3cqWDPHhjtiesc"),
    ("https://ea.greaterwrong.com/posts/abcDEF1234567890x/x", "eaforum", "abcDEF1234567890x"),
    ("lesswrong:uMQ3cqWDPHhjtiesc", "lesswrong", "uMQ3cqWDPHhjtiesc"),
    ("alignmentforum:uMQ3cqWDPHhjtiesc", "lesswrong", "uMQ3cqWDPHhjtiesc"),
    ("eaforum:abcDEF1234567890x", "eaforum", "abcDEF1234567890x"),
])
def test_thread_url_forms(url, site, post_id):
    ref = parse_thread_url(url)
    assert (ref.site, ref.thread_id) == (site, post_id)


def test_alignment_forum_url_is_marked_af():
    assert parse_thread_url("https://www.alignmentforum.org/posts/uMQ3cqWDPHhjtiesc/x").extra["af"]


@pytest.mark.parametrize("url", [
    "https://www.lesswrong.com/tags/ai", "https://www.lesswrong.com/",
])
def test_non_post_urls_of_known_hosts_are_usage_errors(url):
    with pytest.raises(UsageError, match="not a post"):
        parse_thread_url(url)


def test_unknown_url_is_usage_error():
    with pytest.raises(UsageError, match="not a thread URL"):
        resolve_thread("https://example.com/whatever")


def test_user_url_forms():
    assert parse_user_url("https://www.lesswrong.com/users/rohinmshah").slug == "rohinmshah"
    ref = parse_user_url("someone", "eaforum")
    assert (ref.site, ref.slug) == ("eaforum", "someone")
    with pytest.raises(UsageError, match="unknown site"):
        parse_user_url("someone", "myspace")
