"""Discourse topics and users against a loopback Discourse forum."""

from __future__ import annotations

import json
import re

import pytest

from archiver.app.forums import archive_thread, archive_user
from archiver.kernel.errors import FetchError, NotFound
from archiver.sources import discourse, resolve_thread
from archiver.store import open_db
from tests.fakes.discourse import FakeDiscourse, profile, quote

HOST = "discuss.example.org"
TID = 4242
SITE = f"discourse:{HOST}"
URL = f"https://{HOST}/t/gated-saes-fix-shrinkage/{TID}"


@pytest.fixture
def fake(httpserver) -> FakeDiscourse:
    fake = FakeDiscourse()
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handler)
    return fake


@pytest.fixture
def api(httpserver) -> str:
    return httpserver.url_for("/").rstrip("/")


def debate(fake: FakeDiscourse, replies: int = 0) -> None:
    fake.topic(TID, "Gated SAEs fix shrinkage", "alice", "<p>Gated SAEs reduce shrinkage.</p>")
    fake.post(TID, "bob", "<p>Why does gating help?</p>", reply_to=1, likes=3)
    fake.post(TID, "alice", quote("bob", 2, TID, "Why does gating help?")
              + "<p>It separates detection from magnitude.</p>", reply_to=2)
    fake.post(TID, "carol", "<p>I disagree.</p>", reply_to=3)
    fake.post(TID, "system", "", post_type=3, action_code="closed.enabled")
    for i in range(replies):
        fake.post(TID, f"user{i % 7}", f"<p>Reply {i}</p>", reply_to=2 + i % 3)


def test_topic_with_all_posts_parents_and_exact_quotes(fake, api, http):
    debate(fake, replies=41)  # 46 posts: the first 20 in the topic, the rest by id
    db = open_db(":memory:")
    counts, title = archive_thread(db, http, URL, endpoint=api)
    assert title == "Gated SAEs fix shrinkage"
    assert db["comments"].count == 44  # posts 2..46 minus the "closed the topic" notice
    by_id = [r for r in fake.requests if "/posts.json" in r]
    assert len(by_id) == 2 and all(r.count("post_ids%5B%5D=") <= 20 for r in by_id)
    post = db["posts"].get(f"{SITE}:{TID}")
    assert post["url"] == URL and post["body_text"] == "Gated SAEs reduce shrinkage."
    assert post["comment_count"] == 45 and post["tags"] == '["sae", "interp"]'
    assert db["sites"].get(SITE)["kind"] == "discourse"
    bob = fake.by_number(TID, 2)
    alice = fake.by_number(TID, 3)
    row = db["comments"].get(f"{SITE}:{alice['id']}")
    assert row["parent_id"] == f"{SITE}:{bob['id']}" and row["depth"] == 1
    assert row["url"] == f"{URL}/3"
    assert json.loads(row["extra"])["post_number"] == 3
    assert json.loads(row["extra"])["username"] == "alice"
    # the quote names its source exactly, and survives sanitising
    assert 'data-username="bob"' in row["body_html"] and 'data-post="2"' in row["body_html"]
    assert f'data-topic="{TID}"' in row["body_html"] and "<aside" in row["body_html"]
    assert "> Why does gating help?" in row["body_text"]
    top = db["comments"].get(f"{SITE}:{bob['id']}")
    assert top["parent_id"] is None and top["score"] == 3  # a reply to post 1 is top-level
    user = db["users"].get(top["user_id"])
    assert user["slug"] == "bob" and user["url"] == f"https://{HOST}/u/bob"


def test_rerun_is_idempotent(fake, api, http):
    debate(fake, replies=25)
    db = open_db(":memory:")
    archive_thread(db, http, URL, endpoint=api)
    before = db.conn.total_changes
    counts, _ = archive_thread(db, http, URL, endpoint=api)
    assert counts.new == 0 and counts.updated == 0 and counts.unchanged == 29
    assert db.conn.total_changes - before <= 3


def test_deleted_post_keeps_text_and_vanished_is_flagged(fake, api, http):
    debate(fake)
    db = open_db(":memory:")
    archive_thread(db, http, URL, endpoint=api)
    bob, carol = fake.by_number(TID, 2), fake.by_number(TID, 4)
    bob.update(user_deleted=True, cooked="<p>(post deleted by author)</p>")
    del fake.posts[carol["id"]]  # staff-deleted: gone from the stream
    archive_thread(db, http, URL, endpoint=api)
    row = db["comments"].get(f"{SITE}:{bob['id']}")
    assert row["deleted"] == 1 and row["body_text"] == "Why does gating help?"
    assert db["comments"].get(f"{SITE}:{carol['id']}")["missing"] == 1


def test_edit_is_kept_as_a_version(fake, api, http):
    debate(fake)
    db = open_db(":memory:")
    archive_thread(db, http, URL, endpoint=api)
    carol = fake.by_number(TID, 4)
    carol.update(cooked="<p>I disagree, partly.</p>", version=2, updated_at="2024-06-01T00:00:00.000Z")
    counts, _ = archive_thread(db, http, URL, endpoint=api)
    assert counts.updated == 1
    assert db["comments"].get(f"{SITE}:{carol['id']}")["edited_at"] == "2024-06-01T00:00:00Z"
    [old] = db["item_versions"].rows
    assert old["body_text"] == "I disagree."


def test_errors(fake, api, http):
    with pytest.raises(NotFound, match="not_found"):
        archive_thread(open_db(":memory:"), http, f"https://{HOST}/t/x/1", endpoint=api)
    debate(fake)
    fake.private.add(TID)
    with pytest.raises(FetchError, match="refused .*invalid_access.*not public"):
        archive_thread(open_db(":memory:"), http, URL, endpoint=api)


def test_user_profile_topics_and_replies(fake, api, http):
    debate(fake, replies=40)
    fake.users["user3"] = profile("user3", fake._uid("user3"))
    db = open_db(":memory:")
    counts, name = archive_user(db, http, f"https://{HOST}/u/user3/summary", endpoint=api)
    assert name == "User3"
    user = db["users"].get(f"{SITE}:{fake._uid('user3')}")
    assert user["stub"] == 0 and "sparse autoencoders" in user["bio_text"]
    mine = [p for p in fake.posts.values() if p["username"] == "user3"]
    assert db["comments"].count == len(mine)
    stub = db["posts"].get(f"{SITE}:{TID}")
    assert stub["stub"] == 1 and stub["title"] == "Gated SAEs fix shrinkage"
    # the replies got their real parents, so archiving the topic later changes nothing of them
    archive_thread(db, http, URL, endpoint=api)
    first = {r["id"]: r["parent_id"] for r in db.query(
        "select id, parent_id from comments where user_id = ?", [user["id"]])}
    db2 = open_db(":memory:")
    archive_thread(db2, http, URL, endpoint=api)
    assert first == {r["id"]: r["parent_id"] for r in db2.query(
        "select id, parent_id from comments where user_id = ?", [user["id"]])}


def test_cli_thread(fake, api, cli_run, tmp_path):
    debate(fake)
    result = cli_run("thread", URL, "--endpoint", api, "--delay", "0", "--db", str(tmp_path / "a.db"))
    assert result.exit_code == 0, result.output
    db = open_db(str(tmp_path / "a.db"))
    assert db["comments"].count == 3
    assert db["posts"].get(f"{SITE}:{TID}")["url"] == URL  # canonical, not the loopback


@pytest.mark.parametrize("url, topic, base", [
    (URL, "4242", f"https://{HOST}"),
    (f"https://{HOST}/t/4242", "4242", f"https://{HOST}"),
    (f"https://{HOST}/t/gated-saes/4242/17", "4242", f"https://{HOST}"),
    (f"https://{HOST}/t/gated-saes/4242/17?u=bob", "4242", f"https://{HOST}"),
    ("https://example.com/forum/t/gated-saes/4242", "4242", "https://example.com/forum"),
    (f"discourse:{HOST}:4242", "4242", f"https://{HOST}"),
])
def test_topic_url_forms(url, topic, base):
    module, ref = resolve_thread(url)
    assert module is discourse.SOURCE and ref.thread_id == topic and ref.extra["base"] == base


def test_post_number_is_kept_in_the_ref():
    assert discourse.parse_thread_url(f"{URL}/17").extra["post_number"] == 17
    assert discourse.parse_thread_url(f"https://{HOST}/latest") is None


SAVED = f"""<html><head><meta name="generator" content="Discourse 3.2.0">
<link rel="canonical" href="{URL}"></head><body>
<div id="topic-title"><h1><a class="fancy-title">Gated SAEs fix shrinkage</a></h1></div>
<article id="post_1" data-post-id="1001"><div class="names"><span class="first full-name">Alice</span>
<a data-user-card="alice">alice</a></div><div class="post-date"><span data-time="1714564860000">1h</span></div>
<div class="cooked"><p>Gated SAEs reduce shrinkage.</p></div></article>
<article id="post_2" data-post-id="1002"><a data-user-card="bob">bob</a>
<div class="post-date"><span data-time="1714564920000">1h</span></div>
<div class="cooked"><p>Why does gating help?</p></div></article>
<article id="post_3" data-post-id="1003"><a data-user-card="alice">alice</a>
<a class="reply-to-tab" data-post-number="2">bob</a>
<div class="post-date"><span data-time="1714564980000">1h</span></div>
<div class="cooked">{quote("bob", 2, TID, "Why does gating help?")}<p>It separates.</p></div></article>
</body></html>"""


def test_tags_without_a_usable_slug_keep_their_own_ids():
    topic = {"tags": [{"name": "AI safety", "slug": None}, {"name": "Ethics", "slug": ["x"]},
                      {"name": "Policy", "slug": "policy"}, "plain"]}
    assert [(t.id, t.slug) for t in discourse._tags("forum", topic)] == [
        ("forum:tag:AI safety", "AI safety"), ("forum:tag:Ethics", "Ethics"),
        ("forum:tag:policy", "policy"), ("forum:tag:plain", "plain")]


def test_saved_page_uses_the_api_ids():
    [page] = discourse.parse_saved_html(SAVED, None)
    assert page.posts[0].id == f"{SITE}:{TID}" and page.posts[0].title == "Gated SAEs fix shrinkage"
    ids = [(c.id, c.parent_id) for c in page.comments]
    assert ids == [(f"{SITE}:1002", None), (f"{SITE}:1003", f"{SITE}:1002")]
    assert 'data-post="2"' in page.comments[1].body_html
    assert page.comments[1].posted_at == "2024-05-01T12:03:00Z"
    assert discourse.parse_saved_html("<html><body><p>hi</p></body></html>", URL) is None
