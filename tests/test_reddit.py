"""Reddit threads and users against a loopback Reddit with "more" stubs, depth limits and errors."""

from __future__ import annotations

import re

import pytest

from archiver.app.forums import archive_thread, archive_user
from archiver.kernel.errors import FetchError, NotFound, UsageError
from archiver.sources import reddit, resolve_thread
from archiver.store import open_db
from tests.fakes.reddit import FakeReddit, profile

PID = "1abcd2"


@pytest.fixture
def fake(httpserver) -> FakeReddit:
    fake = FakeReddit()
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handler)
    return fake


@pytest.fixture
def api(httpserver) -> str:
    return httpserver.url_for("/").rstrip("/")


def debate(fake: FakeReddit) -> None:
    fake.post(PID, "Gated SAEs fix shrinkage", "alice", selftext="We propose **gated** SAEs.")
    fake.comment("c1", f"t3_{PID}", "bob", "Why does gating help?")
    fake.comment("c2", "t1_c1", "alice", "> Why does gating help?\n\nIt separates detection.")
    fake.comment("c3", "t1_c2", "carol", "I disagree & so do <others>.")
    fake.comment("c4", f"t3_{PID}", "dave", "Great paper.")


def test_thread_with_nesting_quotes_and_canonical_urls(fake, api, http):
    debate(fake)
    db = open_db(":memory:")
    counts, title = archive_thread(db, http, f"https://old.reddit.com/r/MachineLearning/comments/"
                                   f"{PID}/gated_saes/", endpoint=api)
    assert title == "Gated SAEs fix shrinkage" and counts.new == 5
    post = db["posts"].get(f"reddit:{PID}")
    assert post["url"] == f"https://www.reddit.com/r/MachineLearning/comments/{PID}/gated_saes_fix_shrinkage/"
    assert post["body_text"] == "We propose gated SAEs." and post["score"] == 321
    assert post["tags"] == '["r/MachineLearning"]' and post["comment_count"] == 4
    rows = {r["source_id"]: r for r in db["comments"].rows}
    assert rows["c2"]["parent_id"] == "reddit:c1" and rows["c3"]["depth"] == 2
    assert rows["c4"]["parent_id"] is None
    assert "<blockquote>" in rows["c2"]["body_html"]
    assert "> Why does gating help?" in rows["c2"]["body_text"]
    assert rows["c3"]["body_text"] == "I disagree & so do <others>."  # raw_json: no double escape
    assert rows["c3"]["url"].startswith("https://www.reddit.com/r/MachineLearning/comments/")
    assert db["users"].get("reddit:carol")["url"] == "https://www.reddit.com/user/carol/"
    assert db["sites"].get("reddit")["kind"] == "reddit"
    assert all("raw_json=1" in r for r in fake.requests)


def test_more_stubs_and_continue_this_thread_are_expanded(fake, api, http):
    fake.post(PID, "Big thread", "alice")
    fake.limit_cap = 20
    fake.depth_limit = 4
    fake.more_cap = 60
    parent = "t3_" + PID
    for depth in range(12):  # a deep chain: cut by the depth limit, three times
        fake.comment(f"d{depth:02d}", parent, "deep", f"Depth {depth}")
        parent = f"t1_d{depth:02d}"
    for i in range(250):  # past the first answer's limit: "more" stubs
        fake.comment(f"t{i:03d}", f"t3_{PID}", f"user{i % 9}", f"Top-level {i}")
    db = open_db(":memory:")
    archive_thread(db, http, f"https://www.reddit.com/comments/{PID}/", endpoint=api)
    assert db["comments"].count == 262
    assert max(fake.more_sizes) <= 100  # morechildren takes at most 100 ids per call
    assert any("/_/" in r for r in fake.requests)  # "continue this thread" followed
    deep = db["comments"].get("reddit:d11")
    assert deep["parent_id"] == "reddit:d10" and deep["depth"] == 11
    # a complete fetch: nothing flagged missing, and a re-run changes nothing
    assert db.execute("select count(*) from comments where missing = 1").fetchone()[0] == 0
    counts, _ = archive_thread(db, http, f"reddit:{PID}", endpoint=api)
    assert counts.new == 0 and counts.updated == 0


def test_rerun_is_idempotent(fake, api, http):
    debate(fake)
    db = open_db(":memory:")
    archive_thread(db, http, f"reddit:{PID}", endpoint=api)
    before = db.conn.total_changes
    counts, _ = archive_thread(db, http, f"reddit:{PID}", endpoint=api)
    assert (counts.new, counts.updated, counts.unchanged) == (0, 0, 5)
    assert db.conn.total_changes - before <= 3


@pytest.mark.parametrize("how", ["[deleted]", "[removed]"])
def test_deleted_or_removed_keeps_earlier_text(fake, api, http, how):
    debate(fake)
    db = open_db(":memory:")
    archive_thread(db, http, f"reddit:{PID}", endpoint=api)
    fake.remove("c1", how)
    del fake.comments["c4"]
    archive_thread(db, http, f"reddit:{PID}", endpoint=api)
    row = db["comments"].get("reddit:c1")
    assert row["deleted"] == 1 and row["body_text"] == "Why does gating help?"
    assert db["comments"].get("reddit:c4")["missing"] == 1
    versions = list(db["item_versions"].rows)
    assert versions and versions[0]["body_text"] == "Why does gating help?"
    assert versions[0]["user_id"] == "reddit:bob"  # who wrote it stays on record


def test_removed_before_first_archive_is_flagged(fake, api, http):
    debate(fake)
    fake.remove("c4", "[removed]")
    db = open_db(":memory:")
    archive_thread(db, http, f"reddit:{PID}", endpoint=api)
    row = db["comments"].get("reddit:c4")
    assert row["deleted"] == 1 and row["user_id"] is None and '"removed": true' in row["extra"]


def test_errors_name_the_reason(fake, api, http):
    with pytest.raises(NotFound, match="Reddit thread zzz.*Not Found"):
        archive_thread(open_db(":memory:"), http, "reddit:zzz", endpoint=api)
    debate(fake)
    fake.private.add(PID)
    with pytest.raises(FetchError, match="private"):
        archive_thread(open_db(":memory:"), http, f"reddit:{PID}", endpoint=api)


def test_escaped_html_without_raw_json_is_unescaped():
    escaped = "&lt;div class=\"md\"&gt;&lt;p&gt;a &amp;amp; b&lt;/p&gt;&lt;/div&gt;"
    assert reddit.unescape_html(escaped) == '<div class="md"><p>a &amp; b</p></div>'
    assert reddit.unescape_html('<div class="md"><p>x</p></div>') == '<div class="md"><p>x</p></div>'


def test_user_profile_posts_and_comments_paged(fake, api, http):
    fake.users["alice"] = profile("alice")
    debate(fake)
    fake.post("2other", "Another post", "bob")
    for i in range(130):
        fake.comment(f"a{i:03d}", "t3_2other", "alice", f"Reply {i}", at=1714600000.0 + i)
    db = open_db(":memory:")
    counts, name = archive_user(db, http, "https://www.reddit.com/user/alice/", endpoint=api)
    user = db["users"].get("reddit:alice")
    assert user["karma"] == 1234 and user["stub"] == 0 and "SAEs" in user["bio_text"]
    assert db["comments"].count == 131  # 130 + c2, over two pages
    assert db["posts"].get(f"reddit:{PID}")["stub"] == 0
    stub = db["posts"].get("reddit:2other")
    assert stub["stub"] == 1 and stub["title"] == "Another post"
    assert any("after=t1_" in r for r in fake.requests)
    db2 = open_db(":memory:")
    archive_user(db2, http, "u/alice", comments=10, posts=0, endpoint=api)
    assert db2["comments"].count == 10


def test_unknown_user_is_not_found(fake, api, http):
    with pytest.raises(NotFound, match="Reddit user 'nobody'"):
        archive_user(open_db(":memory:"), http, "https://www.reddit.com/u/nobody", endpoint=api)


def test_cli_thread(fake, api, cli_run, tmp_path):
    debate(fake)
    result = cli_run("thread", f"https://redd.it/{PID}", "--endpoint", api, "--delay", "0",
                     "--db", str(tmp_path / "a.db"))
    assert result.exit_code == 0, result.output
    assert open_db(str(tmp_path / "a.db"))["comments"].count == 4


@pytest.mark.parametrize("url, post_id, comment", [
    ("https://www.reddit.com/r/MachineLearning/comments/1abcd2/gated_saes/", "1abcd2", None),
    ("https://old.reddit.com/r/MachineLearning/comments/1abcd2/gated_saes/kx9y8z7/", "1abcd2",
     "kx9y8z7"),
    ("https://np.reddit.com/r/ml/comments/1abcd2", "1abcd2", None),
    ("https://new.reddit.com/r/ml/comments/1ABCD2/x/?context=3", "1abcd2", None),
    ("https://reddit.com/comments/1abcd2", "1abcd2", None),
    ("https://redd.it/1abcd2", "1abcd2", None),
    ("reddit:t3_1abcd2", "1abcd2", None),
])
def test_thread_url_forms(url, post_id, comment):
    module, ref = resolve_thread(url)
    assert module is reddit.SOURCE and ref.thread_id == post_id and ref.extra["comment"] == comment


@pytest.mark.parametrize("url, message", [
    ("https://www.reddit.com/r/MachineLearning/", "not a thread"),
    ("https://www.reddit.com/r/MachineLearning/s/AbCdEf", "share link"),
])
def test_non_thread_urls_are_usage_errors(url, message):
    with pytest.raises(UsageError, match=message):
        reddit.parse_thread_url(url)


OLD_REDDIT = """<html><body>
<div class="thing id-t3_1abcd2 link self" data-fullname="t3_1abcd2" data-author="alice"
 data-subreddit="MachineLearning" data-timestamp="1714564800000" data-score="321"
 data-comments-count="2" data-permalink="/r/MachineLearning/comments/1abcd2/gated_saes_fix_shrinkage/">
 <a class="title" href="/r/MachineLearning/comments/1abcd2/gated_saes_fix_shrinkage/">Gated SAEs fix shrinkage</a>
 <div class="expando"><form class="usertext"><div class="usertext-body"><div class="md"><p>We propose gated SAEs.</p></div></div></form></div>
</div>
<div class="commentarea"><div class="sitetable nestedlisting">
 <div class="thing id-t1_c1 comment" data-fullname="t1_c1" data-author="bob"
  data-permalink="/r/MachineLearning/comments/1abcd2/gated_saes_fix_shrinkage/c1/">
  <div class="entry"><p class="tagline"><a class="author">bob</a>
   <span class="score unvoted" title="7">7 points</span>
   <time datetime="2024-05-01T12:00:01+00:00">1 hour ago</time></p>
   <form class="usertext"><div class="usertext-body"><div class="md"><p>Why does gating help?</p></div></div></form></div>
  <div class="child"><div class="sitetable listing">
   <div class="thing id-t1_c2 comment" data-fullname="t1_c2" data-author="alice"
    data-permalink="/r/MachineLearning/comments/1abcd2/gated_saes_fix_shrinkage/c2/">
    <div class="entry"><p class="tagline"><a class="author">alice</a>
     <time datetime="2024-05-01T12:00:02+00:00">1 hour ago</time></p>
     <form class="usertext"><div class="usertext-body"><div class="md"><blockquote><p>Why does gating help?</p></blockquote><p>It separates detection.</p></div></div></form></div>
   </div>
  </div></div>
 </div>
</div></div></body></html>"""


def test_saved_old_reddit_page():
    [page] = reddit.parse_saved_html(OLD_REDDIT, None)
    assert page.posts[0].id == "reddit:1abcd2" and page.posts[0].title == "Gated SAEs fix shrinkage"
    assert page.posts[0].posted_at == "2024-05-01T12:00:00Z"
    c1, c2 = page.comments
    assert (c1.id, c1.parent_id, c1.author, c1.score) == ("reddit:c1", None, "bob", 7)
    assert (c2.parent_id, c2.posted_at) == ("reddit:c1", "2024-05-01T12:00:02Z")
    assert "<blockquote>" in c2.body_html
    assert page.complete_post_ids == []
    assert reddit.parse_saved_html("<html><body>nothing</body></html>") is None
