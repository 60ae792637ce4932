"""Odd upstream data never stops archiving: each source's real-shaped responses (from the
loopback fakes) are mutated by hypothesis (wrong types, out-of-range numbers, lone surrogates,
JSON nested 600 deep, a body of 1,000 ``>``), and the thread is either archived, with the odd
field nulled or clamped, or refused with one clear ``ArchiverError`` - never another exception.
"""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Response

from archiver.app.forums import archive_thread
from archiver.kernel.errors import ArchiverError
from archiver.kernel.http import Http, HttpSettings
from archiver.store import open_db
from tests.fakes import forummagnum as fm
from tests.fakes.discourse import FakeDiscourse
from tests.fakes.hackernews import FakeHN
from tests.fakes.reddit import FakeReddit

DEEP = "__deep__"  # replaced by JSON nested 600 deep after encoding (json.dumps would recurse)
ODD = [None, True, False, 0, -1, 2**63, -(2**63) - 1, 10**30, 1e308, -1e308, float("nan"),
       float("inf"), "", " ", "\ud800", "a\udfffb", "not a date", "9" * 40, ">" * 1000,
       "<blockquote>" * 300 + "deep", [], [1, "two"], {}, {"x": {"y": None}}, [[[]]], DEEP]
VALUES = st.one_of(st.sampled_from(ODD), st.integers(), st.text(max_size=20),
                   st.floats(allow_nan=True))
MUTATIONS = st.lists(st.tuples(st.integers(min_value=0, max_value=10_000), VALUES),
                     min_size=1, max_size=4)
ODD_SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                        suppress_health_check=list(HealthCheck))


def _slots(data) -> list[tuple]:
    """Every (container, key) in a JSON document, breadth first, iteratively."""
    slots, queue = [], [data]
    while queue:
        node = queue.pop(0)
        items = node.items() if isinstance(node, dict) else enumerate(node) \
            if isinstance(node, list) else ()
        for key, value in items:
            slots.append((node, key))
            queue.append(value)
    return slots


def mutate(data, mutations):
    for index, value in mutations:
        slots = _slots(data)
        if not slots:
            return value
        node, key = slots[index % len(slots)]
        node[key] = value
    return data


class Mutating:
    """Wraps a fake's handler: its JSON answers come back mutated."""

    def __init__(self, handler):
        self.handler = handler
        self.mutations: list = []

    def __call__(self, request):
        response = self.handler(request)
        if response.mimetype != "application/json":
            return response
        data = mutate(json.loads(response.get_data(as_text=True)), self.mutations)
        body = json.dumps(data).replace(json.dumps(DEEP), "[" * 600 + "]" * 600)
        return Response(body, status=response.status_code, content_type="application/json")


@pytest.fixture(scope="module")
def server():
    server = HTTPServer(host="127.0.0.1")
    server.start()
    yield server
    server.clear()
    server.stop()


def archived_or_clear_error(server, handler: Mutating, mutations, url: str, path: str = "/"):
    handler.mutations = mutations
    server.clear()
    server.expect_request(__import__("re").compile(".*")).respond_with_handler(handler)
    db = open_db(":memory:")
    http = Http(HttpSettings(delay=0, backoff=0, retries=0))
    try:
        archive_thread(db, http, url, endpoint=server.url_for(path).rstrip("/"))
    except ArchiverError as exc:
        assert "\n" not in str(exc) and "is --db an archiver database" not in str(exc)
    finally:
        http.close()
    return db


# -- one property per source -------------------------------------------------------------------


def hn_fake() -> FakeHN:
    fake = FakeHN()
    fake.story(100, "Gated SAEs", "alice", text="<p>Story text", url="https://example.org/a")
    fake.comment(101, 100, "bob", "&gt; Gated SAEs<p>Why?")
    fake.comment(102, 101, "carol", "Because <i>shrinkage</i>.")
    fake.comment(103, 100, "dave", "Nice.")
    return fake


@ODD_SETTINGS
@given(MUTATIONS)
def test_hacker_news_archives_odd_responses_or_says_why(server, mutations):
    archived_or_clear_error(server, Mutating(hn_fake().handler), mutations,
                            "hackernews:100").conn.close()


def forum_fake() -> fm.FakeForum:
    forum = fm.FakeForum()
    alice, bob = fm.user("u1aaaaaaaa", "alice", "Alice"), fm.user("u2bbbbbbbb", "bob", "Bob")
    forum.posts["p1aaaaaaaaaaaaaaa"] = fm.post("p1aaaaaaaaaaaaaaa", "Gated SAEs", alice,
                                               "<p>Post body</p>")
    forum.comments += [
        fm.comment("c1aaaaaaaaaaaaaaa", "p1aaaaaaaaaaaaaaa", bob,
                   "<blockquote>Post body</blockquote><p>Why?</p>", fm.stamp(1)),
        fm.comment("c2aaaaaaaaaaaaaaa", "p1aaaaaaaaaaaaaaa", alice, "<p>Because.</p>",
                   fm.stamp(2), parent="c1aaaaaaaaaaaaaaa")]
    return forum


@ODD_SETTINGS
@given(MUTATIONS)
def test_forummagnum_archives_odd_responses_or_says_why(server, mutations):
    archived_or_clear_error(server, Mutating(forum_fake().handler), mutations,
                            "lesswrong:p1aaaaaaaaaaaaaaa", "/graphql").conn.close()


def reddit_fake() -> FakeReddit:
    fake = FakeReddit()
    fake.post("1abcd2", "Gated SAEs fix shrinkage", "alice", selftext="We propose **gated** SAEs.")
    fake.comment("c1", "t3_1abcd2", "bob", "Why does gating help?")
    fake.comment("c2", "t1_c1", "alice", "> Why does gating help?\n\nIt separates detection.")
    return fake


@ODD_SETTINGS
@given(MUTATIONS)
def test_reddit_archives_odd_responses_or_says_why(server, mutations):
    archived_or_clear_error(server, Mutating(reddit_fake().handler), mutations,
                            "https://www.reddit.com/r/ml/comments/1abcd2/gated/").conn.close()


def discourse_fake() -> FakeDiscourse:
    fake = FakeDiscourse()
    fake.topic(4242, "Gated SAEs fix shrinkage", "alice", "<p>Gated SAEs reduce shrinkage.</p>")
    fake.post(4242, "bob", "<p>Why?</p>", reply_to=1)
    return fake


@ODD_SETTINGS
@given(MUTATIONS)
def test_discourse_archives_odd_responses_or_says_why(server, mutations):
    fake = discourse_fake()
    archived_or_clear_error(server, Mutating(fake.handler), mutations,
                            "https://discuss.example.org/t/gated-saes/4242").conn.close()


# -- the named cases, one by one ----------------------------------------------------------------


def test_a_hacker_news_reply_chain_500_deep_is_archived_whole(server):
    """~1,000 levels of JSON: decoded past Python's recursion limit, walked iteratively, and
    every comment stored with its depth. (The answer is built as text: json.dumps would hit the
    recursion limit in the fake too.)"""
    def node(item_id: int, text: str) -> str:
        return (f'{{"id": {item_id}, "type": "comment", "author": "user{item_id % 7}", '
                f'"text": "{text}", "created_at_i": {1714564800 + item_id}, "children": [')

    story = ('{"id": 100, "type": "story", "author": "alice", "title": "Deep", '
             '"created_at_i": 1714564800, "children": [')
    chain = "".join(node(1000 + n, f"&gt; the level above<p>reply {n}") for n in range(500))
    body = story + chain + "]}" * 501

    def handler(request):
        return Response(body, content_type="application/json")

    server.clear()
    server.expect_request("/items/100").respond_with_handler(handler)
    db = open_db(":memory:")
    http = Http(HttpSettings(delay=0, backoff=0, retries=0))
    archive_thread(db, http, "hackernews:100", endpoint=server.url_for("/").rstrip("/"))
    http.close()
    depths = dict(db.execute("SELECT source_id, depth FROM comments").fetchall())
    assert len(depths) == 500 and depths["1499"] == 499
    text = db.execute("SELECT body_text FROM comments WHERE source_id = '1499'").fetchone()[0]
    assert "> the level above" in text and "reply 499" in text


def test_odd_values_are_nulled_or_clamped_and_the_rest_is_kept(server, caplog):
    fake = reddit_fake()
    comment = fake.comments["c1"]
    comment.update(score=10**30, created_utc="not a date", author={"name": "x"},
                   body="lone \ud800 surrogate", body_html="<p>lone \ud800 surrogate</p>")
    fake.comments["c2"].update(body="> " * 1000 + "deep", edited=1e300,
                               body_html="<blockquote>" * 1000 + "deep" + "</blockquote>" * 1000)
    with caplog.at_level(logging.WARNING, "archiver.data"):
        db = archived_or_clear_error(server, Mutating(fake.handler), [],
                                     "https://www.reddit.com/r/ml/comments/1abcd2/gated/")
    row = db.execute("SELECT score, posted_at, author, body_text FROM comments "
                     "WHERE source_id = 'c1'").fetchone()
    assert row[0] == 2**63 - 1 and row[1] is None and row[2] is None
    assert row[3] == "lone \ufffd surrogate"
    assert "deep" in db.execute("SELECT body_text FROM comments WHERE source_id = 'c2'"
                                ).fetchone()[0]
    assert any("clamped" in r.getMessage() for r in caplog.records)
    assert any("not a date" in r.getMessage() for r in caplog.records)


def test_json_deeper_than_the_limit_is_one_clear_error(server):
    from archiver.kernel import coerce

    with pytest.raises(ArchiverError, match="nested deeper than"):
        coerce.loads("[" * (coerce.DEEP_JSON_LIMIT + 10) + "]" * (coerce.DEEP_JSON_LIMIT + 10),
                     "https://example.org/x")


def test_clean_record_keeps_well_typed_values_and_still_fixes_the_odd_ones():
    """Coercion skips values already of their declared type; the edges of that shortcut (a bool
    is an int in Python, an int past SQLite's range, text that is not ASCII) still go through
    the full check."""
    from archiver.kernel.coerce import clean_record
    from archiver.kernel.records import Comment

    body = "<p>plain</p>"
    comment = Comment(id="s:1", site_id="s", source_id="1", post_id="s:p", author="Zoë \ud800",
                      body_html=body, url="café", score=True, vote_count=2**63, af=1,
                      answer=None, edited_at=7, extra={"k": "\udfff"})
    cleaned = clean_record(comment)
    assert cleaned.body_html is body and cleaned.id == "s:1"
    assert cleaned.author == "Zoë \ufffd" and cleaned.url == "café"
    assert cleaned.score is None and cleaned.vote_count == 2**63 - 1
    assert cleaned.af is True and cleaned.answer is False and cleaned.edited_at == "7"
    assert cleaned.extra == {"k": "\ufffd"}
    assert clean_record(Comment(id=None, site_id="s", source_id="1", post_id="s:p")) is None
    assert clean_record(Comment(id=b"x", site_id="s", source_id="1", post_id="s:p")) is None


def test_utc_timestamps_take_the_short_way_and_bad_dates_are_still_nulled():
    from archiver.kernel.coerce import as_time

    assert as_time("2024-01-31T23:59:59.999Z") == "2024-01-31T23:59:59Z"  # cut, not rounded
    assert as_time("2024-01-31T23:59:59Z") == "2024-01-31T23:59:59Z"
    assert as_time("2024-01-01T10:00:00.5+02:00") == "2024-01-01T08:00:00Z"
    assert as_time("2024-13-01T00:00:00.500Z") is None
    assert as_time("2024-01-01T25:00:00.500Z") is None
