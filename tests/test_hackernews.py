"""Hacker News threads and users against a loopback Algolia + Firebase API."""

from __future__ import annotations

import re

import pytest

from archiver.app.forums import archive_thread, archive_user
from archiver.kernel.errors import NotFound, UsageError
from archiver.sources import hackernews as hn
from archiver.sources import resolve_thread
from archiver.store import open_db
from tests.fakes.hackernews import EPOCH, FakeHN

STORY = 40000000
QUOTING = ("Gating separates detection from magnitude.<p>&gt; Why does gating help at all?"
           "<p>&gt; Isn&#x27;t it just an L1 penalty?<p>No: the gate is trained separately.")


@pytest.fixture
def fake(httpserver) -> FakeHN:
    fake = FakeHN()
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handler)
    return fake


@pytest.fixture
def api(httpserver) -> str:
    return httpserver.url_for("/").rstrip("/")


@pytest.fixture
def firebase(api) -> str:
    """The same fake under another host name: a failing Algolia host must not block Firebase."""
    return api.replace("//localhost:", "//127.0.0.1:") + "/v0"


def debate(fake: FakeHN) -> None:
    fake.story(STORY, "Gated SAEs fix shrinkage", "alice", url="https://arxiv.org/abs/2404.16014")
    fake.comment(STORY + 1, STORY, "bob", "Why does gating help at all?<p>Isn&#x27;t it just an "
                 "L1 penalty?")
    fake.comment(STORY + 2, STORY + 1, "alice", QUOTING)
    fake.comment(STORY + 3, STORY + 2, "carol", "I disagree <i>entirely</i>.")
    fake.comment(STORY + 4, STORY, "dave", "Great paper.")


def test_thread_in_one_request_with_nesting_and_real_quotes(fake, api, http):
    debate(fake)
    db = open_db(":memory:")
    counts, title = archive_thread(db, http, f"https://news.ycombinator.com/item?id={STORY}",
                                   endpoint=api)
    assert title == "Gated SAEs fix shrinkage"
    assert counts.new == 5
    assert len(fake.requests) == 1  # the whole tree in one request
    post = db["posts"].get(f"hackernews:{STORY}")
    assert post["url"] == f"https://news.ycombinator.com/item?id={STORY}"  # canonical
    assert post["kind"] == "link" and post["comment_count"] == 4 and post["score"] == 100
    assert post["posted_at"] == "2024-05-01T12:00:00Z"
    assert '"link_url": "https://arxiv.org/abs/2404.16014"' in post["extra"]
    rows = {r["source_id"]: r for r in db["comments"].rows}
    quoted = rows[str(STORY + 2)]
    assert quoted["parent_id"] == f"hackernews:{STORY + 1}" and quoted["depth"] == 1
    assert quoted["body_html"].count("<blockquote>") == 1  # two quoted paragraphs, one quote
    assert "> Why does gating help at all?\n>\n> Isn't it just an L1 penalty?" in quoted["body_text"]
    assert "\n> Why does gating help at all?" in quoted["body_markdown"]
    assert "text_original" in quoted["extra"]  # HN's own HTML is kept
    assert rows[str(STORY + 3)]["depth"] == 2 and "*entirely*" in rows[str(STORY + 3)]["body_markdown"]
    assert rows[str(STORY + 4)]["parent_id"] is None
    assert db["users"].get("hackernews:carol")["url"] == "https://news.ycombinator.com/user?id=carol"
    assert db["sites"].get("hackernews")["kind"] == "hackernews"


def test_comment_url_archives_the_whole_story(fake, api, http):
    debate(fake)
    db = open_db(":memory:")
    counts, title = archive_thread(db, http, f"https://news.ycombinator.com/item?id={STORY + 3}",
                                   endpoint=api)
    assert title == "Gated SAEs fix shrinkage" and db["comments"].count == 4


def test_firebase_fallback_gives_the_same_rows(fake, api, http, firebase):
    debate(fake)
    fake.comment(STORY + 5, STORY + 4, "erin", "A dead comment.", dead=True)
    db_algolia = open_db(":memory:")
    archive_thread(db_algolia, http, f"hackernews:{STORY + 2}", endpoint=api)
    fake.algolia_down = True
    db_firebase = open_db(":memory:")
    pages = list(hn.fetch_thread(http, hn.parse_thread_url(f"hackernews:{STORY + 2}"),
                                 endpoint=api, fallback=firebase))
    from archiver.store import save_page

    for page in pages:
        save_page(db_firebase, page)
    columns = "id, parent_id, user_id, author, posted_at, body_html, depth, path, url"
    query = f"select {columns} from comments where id != 'hackernews:{STORY + 5}' order by id"
    assert list(db_algolia.query(query)) == list(db_firebase.query(query))
    dead = db_firebase["comments"].get(f"hackernews:{STORY + 5}")
    assert '"dead": true' in dead["extra"]  # Firebase shows dead items; they are flagged
    assert db_firebase["posts"].get(f"hackernews:{STORY}")["title"] == "Gated SAEs fix shrinkage"


def test_firebase_only_endpoint(fake, api, http):
    debate(fake)
    db = open_db(":memory:")
    archive_thread(db, http, f"hackernews:{STORY}", endpoint=f"{api}/v0")
    assert db["comments"].count == 4
    assert all(r.startswith("/v0/item/") for r in fake.requests)


def test_rerun_is_idempotent(fake, api, http):
    debate(fake)
    db = open_db(":memory:")
    archive_thread(db, http, f"hackernews:{STORY}", endpoint=api)
    before = db.conn.total_changes
    counts, _ = archive_thread(db, http, f"hackernews:{STORY}", endpoint=api)
    assert (counts.new, counts.updated, counts.unchanged) == (0, 0, 5)
    assert db.conn.total_changes - before <= 3  # the runs row and the fetch time only


def test_deleted_keeps_text_and_vanished_is_flagged(fake, api, http):
    debate(fake)
    db = open_db(":memory:")
    archive_thread(db, http, f"hackernews:{STORY}", endpoint=api)
    fake.delete(STORY + 1)
    fake.items[STORY]["kids"].remove(STORY + 4)  # gone from the tree altogether
    archive_thread(db, http, f"hackernews:{STORY}", endpoint=api)
    deleted = db["comments"].get(f"hackernews:{STORY + 1}")
    assert deleted["deleted"] == 1 and deleted["body_text"].startswith("Why does gating help")
    assert db["comments"].get(f"hackernews:{STORY + 4}")["missing"] == 1


def test_unknown_item_is_not_found(fake, api, http, firebase):
    with pytest.raises(NotFound, match="no Hacker News item 123"):
        list(hn.fetch_thread(http, hn.parse_thread_url("hackernews:123"), endpoint=api,
                             fallback=firebase))


def test_user_profile_stories_and_comments_paged_past_1000(fake, api, http):
    fake.users["alice"] = {"id": "alice", "num": 7, "created": 1300000000, "karma": 4242,
                           "about": "I work on <i>interpretability</i>.", "submitted": [],
                           "submission_count": 1, "comment_count": 1500}
    fake.story(STORY, "Gated SAEs", "alice")
    for i in range(1500):
        fake.comment(STORY + 1 + i, STORY, "alice", f"Comment {i}", at=EPOCH + 10 + i // 2)
    db = open_db(":memory:")
    counts, name = archive_user(db, http, "https://news.ycombinator.com/user?id=alice",
                                endpoint=api)
    assert name == "alice"
    profile = db["users"].get("hackernews:alice")
    assert profile["karma"] == 4242 and profile["stub"] == 0 and "interpretability" in profile["bio_text"]
    assert db["comments"].count == 1500  # two date-paged queries, same-second ties kept
    assert db["posts"].get(f"hackernews:{STORY}")["stub"] == 0
    searches = [r for r in fake.requests if r.startswith("/search_by_date")]
    assert any("created_at_i%3C%3D" in r for r in searches)


def test_user_limit_and_since(fake, api, http):
    fake.users["bob"] = {"id": "bob", "num": 8, "created": 1300000000, "karma": 1}
    fake.story(STORY, "Gated SAEs", "alice")
    for i in range(30):
        fake.comment(STORY + 1 + i, STORY, "bob", f"Comment {i}", at=EPOCH + 100 * i)
    db = open_db(":memory:")
    archive_user(db, http, "https://news.ycombinator.com/user?id=bob", comments=5, endpoint=api)
    assert db["comments"].count == 5
    stub = db["posts"].get(f"hackernews:{STORY}")
    assert stub["stub"] == 1 and stub["title"] == "Gated SAEs"
    db2 = open_db(":memory:")
    archive_user(db2, http, "https://news.ycombinator.com/user?id=bob",
                 since="2024-05-01T12:40:00Z", endpoint=api)
    assert db2["comments"].count == 6  # at +2400 s .. +2900 s


def test_user_falls_back_to_firebase_and_unknown_user(fake, api, http, firebase):
    fake.users["carol"] = {"id": "carol", "num": 9, "created": 1300000000, "karma": 5}
    fake.algolia_down = True
    ref = hn.parse_user_url("https://news.ycombinator.com/user?id=carol")
    [page] = list(hn.fetch_user(http, ref, posts=0, comments=0, endpoint=api, fallback=firebase))
    assert page.users[0].karma == 5 and page.users[0].created_at == "2011-03-13T07:06:40Z"
    with pytest.raises(NotFound, match="no Hacker News user 'nobody'"):
        list(hn.fetch_user(http, hn.parse_user_url("https://news.ycombinator.com/user?id=nobody"),
                           endpoint=api, fallback=firebase))


def test_cli_thread(fake, api, cli_run, tmp_path):
    debate(fake)
    result = cli_run("thread", f"https://news.ycombinator.com/item?id={STORY}", "--endpoint", api,
                     "--delay", "0", "--db", str(tmp_path / "a.db"))
    assert result.exit_code == 0, result.output
    db = open_db(str(tmp_path / "a.db"))
    assert db["comments"].count == 4


@pytest.mark.parametrize("text, expected", [
    ("Plain.", "<p>Plain.</p>"),
    ("a<p>&gt; b<p>&gt;c<p>d", "<p>a</p><blockquote><p>b</p><p>c</p></blockquote><p>d</p>"),
    ("<i>&gt; quoted in italics</i><p>reply",
     "<blockquote><p><i>quoted in italics</i></p></blockquote><p>reply</p>"),
    ("code:<p><pre><code>  &gt; not a quote\n</code></pre>",
     "<p>code:</p><pre><code>  &gt; not a quote\n</code></pre>"),
    ("&gt;", "<p>&gt;</p>"),
])
def test_quotes_to_blockquotes(text, expected):
    assert hn.quotes_to_blockquotes(text)[0] == expected


@pytest.mark.parametrize("url, item", [
    ("https://news.ycombinator.com/item?id=40000000", "40000000"),
    ("https://news.ycombinator.com/item?id=40000001#40000002", "40000001"),
    ("http://news.ycombinator.com/item?id=1&p=2", "1"),
    ("hackernews:123", "123"),
    ("hn:123", "123"),
])
def test_thread_url_forms(url, item):
    module, ref = resolve_thread(url)
    assert module is hn.SOURCE and (ref.site, ref.thread_id) == ("hackernews", item)


def test_non_item_url_is_usage_error():
    with pytest.raises(UsageError, match="not an item"):
        hn.parse_thread_url("https://news.ycombinator.com/news")


SAVED = """<html><body><table class="fatitem">
<tr class="athing submission" id="40000000"><td class="title"><span class="titleline">
<a href="https://arxiv.org/abs/2404.16014">Gated SAEs fix shrinkage</a></span></td></tr>
<tr><td colspan="2"></td><td class="subtext"><span class="subline">
<span class="score" id="score_40000000">100 points</span> by <a href="user?id=alice" class="hnuser">alice</a>
<span class="age" title="2024-05-01T12:00:00 1714564800"><a href="item?id=40000000">1 hour ago</a></span>
| <a href="item?id=40000000">2&nbsp;comments</a></span></td></tr></table>
<table class="comment-tree">
<tr class="athing comtr" id="40000001"><td><table><tr><td class="ind" indent="0"></td>
<td class="default"><span class="comhead"><a href="user?id=bob" class="hnuser">bob</a>
<span class="age" title="2024-05-01T12:00:01 1714564801"><a href="item?id=40000001">1 hour ago</a></span></span>
<div class="comment"><div class="commtext c00">Why does gating help?</div><div class="reply"><p>reply</p></div></div></td></tr></table></td></tr>
<tr class="athing comtr" id="40000002"><td><table><tr><td class="ind" indent="1"></td>
<td class="default"><span class="comhead"><a href="user?id=alice" class="hnuser">alice</a>
<span class="age" title="2024-05-01T12:00:02 1714564802"><a href="item?id=40000002">1 hour ago</a></span></span>
<div class="comment"><div class="commtext c00">&gt; Why does gating help?<p>It separates detection.</p></div></div></td></tr></table></td></tr>
</table></body></html>"""


def test_saved_page_matches_api_rows(fake, api, http):
    fake.story(STORY, "Gated SAEs fix shrinkage", "alice", url="https://arxiv.org/abs/2404.16014")
    fake.comment(STORY + 1, STORY, "bob", "Why does gating help?")
    fake.comment(STORY + 2, STORY + 1, "alice", "&gt; Why does gating help?<p>It separates detection.")
    [page] = hn.parse_saved_html(SAVED, f"https://news.ycombinator.com/item?id={STORY}")
    api_pages = list(hn.fetch_thread(http, hn.parse_thread_url(f"hackernews:{STORY}"), endpoint=api))
    api_comments = [c for p in api_pages for c in p.comments]
    assert [(c.id, c.parent_id, c.author, c.posted_at, c.body_html) for c in page.comments] == \
        [(c.id, c.parent_id, c.author, c.posted_at, c.body_html) for c in api_comments]
    assert page.posts[0].title == "Gated SAEs fix shrinkage" and page.posts[0].comment_count == 2
    assert page.complete_post_ids == []  # a snapshot never flags comments as vanished
    assert hn.parse_saved_html("<html><p>hello</p></html>", None) is None


def test_a_saved_comment_with_an_odd_indent_is_kept_at_the_top():
    [page] = hn.parse_saved_html(SAVED.replace('indent="1"', 'indent="one"'), None)
    assert [(c.source_id, c.parent_id) for c in page.comments] == [
        (str(STORY + 1), None), (str(STORY + 2), None)]


def test_cli_user(fake, api, cli_run, tmp_path):
    fake.users["alice"] = {"id": "alice", "num": 7, "created": 1300000000, "karma": 42}
    debate(fake)
    result = cli_run("user", "https://news.ycombinator.com/user?id=alice", "--endpoint", api,
                     "--delay", "0", "--db", str(tmp_path / "a.db"))
    assert result.exit_code == 0, result.output
    db = open_db(str(tmp_path / "a.db"))
    assert db["users"].get("hackernews:alice")["karma"] == 42
    assert db["comments"].count == 1 and db["posts"].count == 1
