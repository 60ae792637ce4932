"""Bluesky threads and users against a loopback AppView: handles, nesting, truncated branches,
deleted and blocked replies, quote posts as exchanges, facets, author feeds and errors."""

from __future__ import annotations

import json
import re

import pytest

from archiver.app.forums import archive_thread, archive_user
from archiver.kernel.errors import FetchError, NotFound, UsageError
from archiver.sources import bluesky, registry
from archiver.store import open_db
from tests.fakes.bluesky import POST, FakeBluesky


@pytest.fixture
def fake(httpserver) -> FakeBluesky:
    fake = FakeBluesky()
    httpserver.expect_request(re.compile(r"^/xrpc/")).respond_with_handler(fake.handler)
    return fake


@pytest.fixture
def api(httpserver) -> str:
    return httpserver.url_for("/").rstrip("/")


def url(fake: FakeBluesky, uri: str) -> str:
    did, rkey = uri[len("at://"):].split(f"/{POST}/")
    return f"https://bsky.app/profile/{fake.actors[did]['handle']}/post/{rkey}"


def pid(uri: str) -> str:
    return "bluesky:" + uri[len("at://"):].replace(f"/{POST}/", "/")


def debate(fake: FakeBluesky) -> dict[str, str]:
    alice = fake.actor("alice.bsky.social", "Alice")
    bob = fake.actor("bob.bsky.social", "Bob")
    carol = fake.actor("carol.example.org", "Carol")
    root = fake.post(alice, "3kroot", "Gated SAEs fix shrinkage: they separate detection from "
                     "magnitude estimation.")
    why = fake.post(bob, "3kwhy", "Why does gating help?", reply_to=root)
    answer = fake.post(alice, "3kanswer", "Because the gate decides which features fire.",
                       reply_to=why)
    nice = fake.post(carol, "3knice", "Great paper.", reply_to=root)
    return {"alice": alice, "bob": bob, "carol": carol, "root": root, "why": why,
            "answer": answer, "nice": nice}


# -- URLs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, thread_id", [
    ("https://bsky.app/profile/Alice.bsky.social/post/3kroot", "alice.bsky.social/3kroot"),
    ("https://bsky.app/profile/did:plc:abc123/post/3kroot/", "did:plc:abc123/3kroot"),
    ("https://bsky.app/profile/did%3Aplc%3Aabc123/post/3kroot", "did:plc:abc123/3kroot"),
    ("at://did:plc:abc123/app.bsky.feed.post/3kroot", "did:plc:abc123/3kroot"),
])
def test_thread_urls(value, thread_id):
    source, ref = registry.resolve_thread(value)
    assert source is bluesky.SOURCE and ref.thread_id == thread_id


@pytest.mark.parametrize("value, message", [
    ("https://bsky.app/profile/alice.bsky.social", "a Bluesky profile, not a post"),
    ("https://bsky.app/search?q=sae", "not a post"),
])
def test_bluesky_urls_that_are_not_posts_say_so(value, message):
    with pytest.raises(UsageError, match=message):
        bluesky.parse_thread_url(value)


@pytest.mark.parametrize("value", ["https://bsky.app.evil.example/profile/a.b/post/x",
                                   "javascript:alert(1)", "at://did:plc:x/app.bsky.feed.like/x",
                                   "ftp://bsky.app/profile/a.b/post/x"])
def test_foreign_urls_are_not_bluesky(value):
    assert bluesky.parse_thread_url(value) is None


def test_user_urls_and_bare_handles():
    assert registry.resolve_user("https://bsky.app/profile/Alice.bsky.social")[1].slug \
        == "alice.bsky.social"
    assert registry.resolve_user("@alice.bsky.social", "bluesky")[1].slug == "alice.bsky.social"
    assert registry.resolve_user("did:plc:abc123", "bsky")[1].slug == "did:plc:abc123"
    assert bluesky.parse_user_url("alice.bsky.social") is None  # a bare name needs --site


# -- threads -----------------------------------------------------------------------------------


def test_thread_nested_by_did_from_a_handle_url(fake, api, http):
    ids = debate(fake)
    db = open_db(":memory:")
    counts, title = archive_thread(db, http, url(fake, ids["root"]), endpoint=api)
    assert title.startswith("Gated SAEs fix shrinkage")
    post = db["posts"].get(pid(ids["root"]))
    assert post["url"] == "https://bsky.app/profile/alice.bsky.social/post/3kroot"
    assert post["author"] == "Alice" and post["user_id"] == f"bluesky:{ids['alice']}"
    assert post["posted_at"] == "2025-03-01T12:01:00Z" and post["comment_count"] == 2
    rows = {r["id"]: r for r in db["comments"].rows}
    assert set(rows) == {pid(ids[k]) for k in ("why", "answer", "nice")}
    assert rows[pid(ids["why"])]["parent_id"] is None
    assert rows[pid(ids["answer"])]["parent_id"] == pid(ids["why"])
    assert rows[pid(ids["answer"])]["depth"] == 1
    assert db["users"].get(f"bluesky:{ids['bob']}")["slug"] == "bob.bsky.social"
    assert fake.requests[0] == "com.atproto.identity.resolveHandle?handle=alice.bsky.social"
    # The same thread again: nothing new, nothing duplicated.
    again, _ = archive_thread(db, http, url(fake, ids["root"]), endpoint=api)
    assert again.new == 0 and db["comments"].count == 3


def test_a_reply_url_archives_its_whole_thread(fake, api, http):
    ids = debate(fake)
    db = open_db(":memory:")
    archive_thread(db, http, url(fake, ids["answer"]), endpoint=api)
    assert db["posts"].get(pid(ids["root"]))["stub"] == 0
    assert db["comments"].count == 3
    asked = [r for r in fake.requests if r.startswith("app.bsky.feed.getPostThread")]
    assert "3kanswer" in asked[0] and "3kroot" in asked[1] and "depth=1000" in asked[1]


def test_branches_cut_at_the_depth_limit_are_fetched_again(fake, api, http):
    ids = debate(fake)
    parent = ids["answer"]
    for n in range(6):
        parent = fake.post(ids["bob" if n % 2 else "alice"], f"3kdeep{n}", f"Level {n}.",
                           reply_to=parent)
    fake.depth_cap = 2
    db = open_db(":memory:")
    archive_thread(db, http, url(fake, ids["root"]), endpoint=api)
    assert db["comments"].count == 3 + 6
    deepest = db["comments"].get(pid(parent))
    assert deepest["depth"] == 7
    assert sum(r.startswith("app.bsky.feed.getPostThread") for r in fake.requests) == 4


def test_replies_hidden_from_public_view_cost_no_extra_request(fake, api, http):
    ids = debate(fake)
    fake.hide(fake.post(ids["carol"], "3khidden", "Hidden.", reply_to=ids["why"]))
    db = open_db(":memory:")  # "why" counts 2 replies and shows 1
    archive_thread(db, http, url(fake, ids["root"]), endpoint=api)
    assert db["comments"].count == 3
    assert sum(r.startswith("app.bsky.feed.getPostThread") for r in fake.requests) == 1


def test_deleted_and_blocked_replies_are_flagged_and_keep_their_text(fake, api, http):
    ids = debate(fake)
    db = open_db(":memory:")
    archive_thread(db, http, url(fake, ids["root"]), endpoint=api)
    fake.delete(ids["why"])
    fake.block(ids["nice"])
    archive_thread(db, http, url(fake, ids["root"]), endpoint=api)
    why, nice = db["comments"].get(pid(ids["why"])), db["comments"].get(pid(ids["nice"]))
    assert why["deleted"] == 1 and why["body_text"] == "Why does gating help?"
    assert why["author"] == "Bob" and json.loads(why["extra"]) == {"not_found": True}
    assert nice["deleted"] == 1 and nice["body_text"] == "Great paper."
    assert json.loads(nice["extra"]) == {"blocked": True}
    # Replies under a deleted post are out of the tree now: kept, flagged missing.
    assert db["comments"].get(pid(ids["answer"]))["missing"] == 1


def test_a_reply_deleted_before_it_was_archived_is_a_flagged_row(fake, api, http):
    ids = debate(fake)
    fake.delete(ids["nice"])
    db = open_db(":memory:")
    archive_thread(db, http, url(fake, ids["root"]), endpoint=api)
    row = db["comments"].get(pid(ids["nice"]))
    assert row["deleted"] == 1 and row["body_text"] is None and row["user_id"] is None


# -- quote posts -------------------------------------------------------------------------------


def test_a_quote_post_in_the_thread_is_an_exchange_with_its_archived_source(fake, api, http):
    ids = debate(fake)
    dave = fake.actor("dave.bsky.social", "Dave")
    paper = fake.post(dave, "3kpaper", "We train sparse autoencoders on every layer of a small "
                      "model and release all of them.", at=0)
    fake.post(ids["bob"], "3kquote", "This is the baseline they beat.", reply_to=ids["root"],
              quote=paper)
    short = fake.post(dave, "3kshort", "SAEs, all layers.", at=0)  # too short to search for
    fake.post(ids["carol"], "3kquote2", "Finally.", reply_to=ids["root"], quote=short)
    db = open_db(":memory:")
    archive_thread(db, http, url(fake, ids["root"]), endpoint=api)
    source = db["posts"].get(pid(paper))  # archived so the quote resolves: a stub until fetched
    assert source["stub"] == 1 and source["author"] == "Dave"
    quoting = db["comments"].get(pid("at://" + ids["bob"] + f"/{POST}/3kquote"))
    assert 'cite="https://bsky.app/profile/dave.bsky.social/post/3kpaper"' in quoting["body_html"]
    (exchange,) = db.query("SELECT * FROM exchanges WHERE item_id = ?", [quoting["id"]])
    assert exchange["source_id"] == pid(paper) and exchange["kind"] == "archive"
    assert exchange["reply"] == "This is the baseline they beat."
    (exchange,) = db.query("SELECT * FROM exchanges WHERE item_id = ?",
                           [f"bluesky:{ids['carol']}/3kquote2"])
    assert exchange["source_id"] == pid(short) and exchange["kind"] == "archive"


def test_posts_quoting_the_thread_come_through_get_quotes(fake, api, http):
    ids = debate(fake)
    erin = fake.actor("erin.bsky.social", "Erin")
    for n in range(3):  # three quote posts, served one a page
        fake.post(erin, f"3kq{n}", f"Quote post number {n}: worth a read.", quote=ids["root"])
    fake.page_cap = 1
    db = open_db(":memory:")
    archive_thread(db, http, url(fake, ids["root"]), endpoint=api)
    quotes = [db["posts"].get(f"bluesky:{erin}/3kq{n}") for n in range(3)]
    assert all(q["stub"] == 0 and "Gated SAEs fix shrinkage" in q["body_text"] for q in quotes)
    assert sum(r.startswith("app.bsky.feed.getQuotes") for r in fake.requests) == 3
    found = db.execute("SELECT item_id, source_id, kind FROM exchanges ORDER BY item_id").fetchall()
    assert found == [(f"bluesky:{erin}/3kq{n}", pid(ids["root"]), "archive") for n in range(3)]


def test_deleted_quoted_post_is_named_not_invented(fake, api, http):
    ids = debate(fake)
    gone = fake.post(ids["carol"], "3kgone", "Soon deleted.", at=0)
    fake.post(ids["bob"], "3kq", "Hm.", reply_to=ids["root"], quote=gone)
    fake.delete(gone)
    db = open_db(":memory:")
    archive_thread(db, http, url(fake, ids["root"]), endpoint=api)
    row = db["comments"].get(f"bluesky:{ids['bob']}/3kq")
    assert row["body_text"].startswith("[quoted post deleted]")
    assert db["posts"].get(pid(ids["root"]))  # and nothing for the gone post
    assert not db.execute("SELECT 1 FROM posts WHERE id = ?", [pid(gone)]).fetchall()


# -- text --------------------------------------------------------------------------------------


def facet(text: str, part: str, feature: dict) -> dict:
    start = text.encode().index(part.encode())
    return {"index": {"byteStart": start, "byteEnd": start + len(part.encode())},
            "features": [feature]}


def test_facets_become_links_by_byte_offset_and_only_http():
    text = "🧵 Paper: arxiv.org/abs/2404.16014 by @dave.bsky.social, and click me"
    facets = [
        facet(text, "arxiv.org/abs/2404.16014",
              {"$type": "app.bsky.richtext.facet#link", "uri": "https://arxiv.org/abs/2404.16014"}),
        facet(text, "@dave.bsky.social",
              {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:dave"}),
        facet(text, "click me", {"$type": "app.bsky.richtext.facet#link",
                                 "uri": "javascript:alert(1)"}),
        {"index": {"byteStart": 5, "byteEnd": 9999}, "features": []},  # out of range: ignored
    ]
    html = bluesky.render_text(text + "\n\n<b>x</b>", facets)
    assert '<a href="https://arxiv.org/abs/2404.16014">arxiv.org/abs/2404.16014</a>' in html
    assert '<a href="https://bsky.app/profile/did:plc:dave">@dave.bsky.social</a>' in html
    assert "javascript" not in html and "click me" in html
    assert html.endswith("<p>&lt;b&gt;x&lt;/b&gt;</p>")


def test_odd_fields_are_nulled_not_a_traceback(fake, api, http):
    ids = debate(fake)
    record = fake.posts[ids["nice"]]["record"]
    record["createdAt"] = 12
    record["facets"] = [{"index": "x"}, 5, {"index": {"byteStart": -1, "byteEnd": 2}}]
    fake.posts[ids["root"]]["record"]["text"] = ["not", "text"]
    fake.posts[ids["why"]]["likes"] = "many"
    db = open_db(":memory:")
    archive_thread(db, http, url(fake, ids["root"]), endpoint=api)
    assert db["comments"].get(pid(ids["nice"]))["posted_at"] is None
    assert db["comments"].get(pid(ids["why"]))["score"] is None
    root = db["posts"].get(pid(ids["root"]))
    assert root["title"] is None and root["body_html"] is None


def test_a_quoted_view_of_an_odd_type_is_left_out_not_a_traceback():
    embed = {"$type": "app.bsky.embed.record#view",
             "record": {"$type": ["not", "a", "type"], "uri": f"at://did:plc:abc/{POST}/3kq"}}
    assert bluesky.body_html({"text": "My answer."}, embed) == "<p>My answer.</p>"


# -- users -------------------------------------------------------------------------------------


def test_user_profile_and_feed_paged_without_reposts(fake, api, http):
    ids = debate(fake)
    fake.actors[ids["alice"]]["description"] = "Interpretability.\nhttps://alice.example"
    fake.post(ids["alice"], "3kother", "Another thread of mine.")
    fake.reposts.append((ids["alice"], ids["nice"], "2025-03-02T00:00:00.000Z"))
    fake.page_cap = 2
    db = open_db(":memory:")
    counts, name = archive_user(db, http, "https://bsky.app/profile/alice.bsky.social",
                                endpoint=api)
    assert name == "Alice"
    user = db["users"].get(f"bluesky:{ids['alice']}")
    assert user["stub"] == 0 and user["post_count"] == 3 and user["created_at"] == \
        "2023-05-01T10:00:00Z" and "Interpretability." in user["bio_html"]
    assert {r["id"] for r in db["posts"].rows if not r["stub"]} == {
        pid(ids["root"]), f"bluesky:{ids['alice']}/3kother"}
    reply = db["comments"].get(pid(ids["answer"]))
    assert reply["post_id"] == pid(ids["root"]) and reply["parent_id"] == pid(ids["why"])
    assert db["comments"].get(pid(ids["why"]))["author"] == "Bob"  # its parent, for context
    assert not db.execute("SELECT 1 FROM comments WHERE id = ?", [pid(ids["nice"])]).fetchall()
    assert sum(r.startswith("app.bsky.feed.getAuthorFeed") for r in fake.requests) == 2  # 4 entries, 2 a page


def test_user_since_and_limits(fake, api, http):
    ids = debate(fake)
    fake.post(ids["alice"], "3klater", "A later post.", at=100)
    db = open_db(":memory:")
    archive_user(db, http, "alice.bsky.social", site="bluesky", since="2025-03-01T12:30:00Z",
                 endpoint=api)
    assert {r["id"] for r in db["posts"].rows} == {f"bluesky:{ids['alice']}/3klater"}
    db2 = open_db(":memory:")
    archive_user(db2, http, "alice.bsky.social", site="bluesky", posts=0, endpoint=api)
    assert [r["id"] for r in db2["comments"].rows if r["user_id"] == f"bluesky:{ids['alice']}"] \
        == [pid(ids["answer"])]


# -- errors ------------------------------------------------------------------------------------


def test_errors_are_one_clear_line(fake, api, http, cli_run):
    ids = debate(fake)
    with pytest.raises(NotFound, match="Unable to resolve handle"):
        archive_thread(open_db(":memory:"), http,
                       "https://bsky.app/profile/nobody.bsky.social/post/3kx", endpoint=api)
    with pytest.raises(NotFound, match="Post not found"):
        archive_thread(open_db(":memory:"), http,
                       "https://bsky.app/profile/alice.bsky.social/post/3kmissing", endpoint=api)
    with pytest.raises(NotFound, match="Profile not found"):
        archive_user(open_db(":memory:"), http, "https://bsky.app/profile/nobody.bsky.social",
                     endpoint=api)
    fake.delete(ids["root"])
    with pytest.raises(NotFound, match="Post not found"):
        archive_thread(open_db(":memory:"), http, url(fake, ids["answer"]), endpoint=api)
    result = cli_run("thread", "https://bsky.app/profile/nobody.bsky.social/post/3kx",
                     "--endpoint", api, "--delay", "0")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1].startswith("error: Bluesky handle")


def test_an_answer_that_is_not_an_object_is_a_fetch_error(httpserver, http):
    httpserver.expect_request(re.compile("^/xrpc/")).respond_with_json([1, 2])
    with pytest.raises(FetchError, match="unexpected answer"):
        list(bluesky.fetch_thread(http, bluesky.parse_thread_url(
            "https://bsky.app/profile/did:plc:abc/post/3k"), endpoint=httpserver.url_for("/")))


def test_the_cli_archives_a_thread_and_a_user(fake, api, cli_run):
    ids = debate(fake)
    result = cli_run("thread", url(fake, ids["why"]), "--endpoint", api, "--delay", "0")
    assert result.exit_code == 0, result.output
    assert "Gated SAEs fix shrinkage" in result.output
    result = cli_run("user", "bob.bsky.social", "--site", "bluesky", "--endpoint", api,
                     "--delay", "0")
    assert result.exit_code == 0, result.output
    assert "Bob" in result.output
    result = cli_run("search", "gating")
    assert result.exit_code == 0 and "bob.bsky.social/post/3kwhy" in result.output


def test_link_cards_are_links_only_when_http():
    card = {"$type": "app.bsky.embed.external#view",
            "external": {"uri": "https://example.org/p", "title": "Paper <b>", "description": ""}}
    assert bluesky.body_html({"text": "See"}, card) == \
        '<p>See</p><p><a href="https://example.org/p">Paper &lt;b&gt;</a></p>'
    card["external"]["uri"] = "javascript:alert(1)"
    assert bluesky.body_html({"text": "See"}, card) == "<p>See</p>"
