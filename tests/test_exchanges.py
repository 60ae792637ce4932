"""Quoted exchanges in the archive: resolution, incremental extraction, queries and the CLI."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from archiver.analysis import exchanges as X
from archiver.app.ingest import ingest
from archiver.cli import cli
from archiver.kernel.records import Comment, Page, Post, Site, User
from archiver.store import open_db, save_page
from tests.conftest import shared_file

SITE = Site(id="lesswrong", name="LessWrong", url="https://www.lesswrong.com", kind="forummagnum")
POST_ID = "corrigibilityPost1"
POST = f"lesswrong:{POST_ID}"
POST_URL = f"https://www.lesswrong.com/posts/{POST_ID}/on-corrigibility"
PEOPLE = {name.split()[0].lower(): name for name in
          ("Alice Adams", "Bob Brown", "Carol Chen", "Dan Diaz", "Erin Evans")}
POST_HTML = (
    "<p>Corrigibility is the property of an agent that lets its overseers correct it. I think it "
    "is anti-natural for consequentialist reasoners.</p><p>Why? Because a goal-directed agent "
    "wants to keep its goal, and being corrected threatens that goal.</p><p>So we should look "
    "for training setups where correction is itself part of the goal.</p>")


def user(slug: str) -> User:
    return User(id=f"lesswrong:{slug}", site_id="lesswrong", source_id=slug, slug=slug,
                name=PEOPLE[slug])


def post(html: str = POST_HTML, pid: str = POST, title: str = "On corrigibility",
         when: str = "2024-01-01T00:00:00Z", stub: bool = False) -> Post:
    source = pid.split(":", 1)[1]
    return Post(id=pid, site_id="lesswrong", source_id=source, title=title,
                url=f"https://www.lesswrong.com/posts/{source}/x", user_id="lesswrong:alice",
                author="Alice Adams", posted_at=when, body_html=None if stub else html, stub=stub)


def comment(cid: str, who: str, html: str | None, parent: str | None = None, day: int = 2,
            pid: str = POST, **kw) -> Comment:
    return Comment(id=f"lesswrong:{cid}", site_id="lesswrong", source_id=cid, post_id=pid,
                   parent_id=f"lesswrong:{parent}" if parent else None,
                   user_id=f"lesswrong:{who}" if who else None, author=PEOPLE.get(who),
                   url=f"https://www.lesswrong.com/posts/{pid.split(':')[1]}/x?commentId={cid}",
                   posted_at=f"2024-01-{day:02d}T00:00:00Z", body_html=html, **kw)


def q(quoted: str, reply: str) -> str:
    return f"<blockquote><p>{quoted}</p></blockquote><p>{reply}</p>"


DEBATE = [
    comment("c1", "bob", q("I think it\u2019s anti-natural for consequentialist reasoners.",
                          "I disagree: humans are consequentialists and accept correction."), day=2),
    comment("c2", "carol", q("humans are consequentialists and <em>accept</em> correction",
                             "Only sometimes, and only from people they trust.")
            + q("Why?", "Because they model the corrector."), "c1", day=3),
    comment("c3", "bob", q("Only sometimes, and only from people they trust.",
                          "Trust is learnable over repeated interactions.")
            + q("I disagree: humans are consequentialists", "I stand by this."), "c2", day=4),
    comment("c4", "dan", q("so we should look for training setups where correction is itself part "
                           "of the goal", "That is what CIRL tries."), day=5),
    comment("c5", "erin", q("Trust is learnable over repeated interactions.", "Learnable by whom?")
            + q("Why?", "short quotes never jump across branches"), "c4", day=6),
]


def archive(db, comments=DEBATE, posts=None) -> None:
    page = Page(sites=[SITE], users=[user(s) for s in PEOPLE], posts=posts or [post()],
                comments=list(comments))
    ingest(db, [page], "test", "test")


def by_item(db) -> dict:
    rows = db.execute("SELECT item_id, position, source_id, kind, quote, reply, source_start, "
                      "source_end, source_author, score FROM exchanges").fetchall()
    return {(r[0].split(":")[1], r[1]): r[2:] for r in rows}


# -- resolution --------------------------------------------------------------------------------


def test_fetch_extracts_exchanges_with_sources_spans_and_replies():
    db = open_db(":memory:")
    archive(db)  # ingest runs the analysis hook: no explicit extract needed
    found = by_item(db)
    assert {key: (src, kind) for key, (src, kind, *_rest) in found.items()} == {
        ("c1", 0): (POST, "post"),
        ("c2", 0): ("lesswrong:c1", "parent"),
        ("c2", 1): (None, "unresolved"),  # "Why?" is short: only the parent or an ancestor
        ("c3", 0): ("lesswrong:c2", "parent"),
        ("c3", 1): ("lesswrong:c1", "ancestor"),
        ("c4", 0): (POST, "post"),
        ("c5", 0): ("lesswrong:c3", "thread"),
        ("c5", 1): (None, "unresolved"),
    }
    source_text = {r[0]: r[1] for r in db.execute("SELECT id, body_text FROM comments")}
    _src, _kind, quote, reply, start, end, author, score = found[("c2", 0)]
    assert source_text["lesswrong:c1"][start:end] == \
        "humans are consequentialists and accept correction"
    assert reply == "Only sometimes, and only from people they trust."
    assert author == "Bob Brown" and score == 100
    post_text = db["posts"].get(POST)["body_text"]
    *_x, start, end, author, score = found[("c1", 0)]
    assert "anti-natural for consequentialist reasoners" in post_text[start:end]
    assert author == "Alice Adams" and 88 <= score < 100  # "it's" for "it is": fuzzy


def test_short_quote_resolves_from_the_parent():
    db = open_db(":memory:")
    archive(db, [comment("c1", "bob", "<p>Why? Nobody knows.</p>"),
                 comment("c2", "carol", q("Why?", "Because."), "c1", day=3)])
    assert by_item(db)[("c2", 0)][:2] == ("lesswrong:c1", "parent")


def test_reply_quoting_a_quote_is_credited_to_the_original_writer():
    db = open_db(":memory:")
    archive(db, [comment("c1", "bob", q("it is anti-natural for consequentialist reasoners",
                                        "No.")),
                 comment("c2", "carol", q("it is anti-natural for consequentialist reasoners",
                                          "Agreed with Alice."), "c1", day=3)])
    assert by_item(db)[("c2", 0)][:2] == (POST, "post")  # Bob only quoted it


def test_deleted_sources_archived_or_not():
    db = open_db(":memory:")
    gone_text = "Publishing safety cases creates an incentive to write them for the public."
    archive(db, [
        comment("c1", "bob", f"<p>{gone_text}</p>"),
        comment("c2", "carol", q(gone_text, "Model cards say otherwise."), "c1", day=3),
        comment("c3", None, None, deleted=True),
        comment("c4", "dan", q("Redactions will cover exactly the weakest parts of the argument.",
                               "Testable."), "c3", day=4),
    ])
    save_page(db, Page(comments=[comment("c1", "bob", None, deleted=True)]))  # deleted upstream
    X.extract(db, all=True)
    found = by_item(db)
    assert found[("c2", 0)][:2] == ("lesswrong:c1", "parent")  # the archived text still counts
    assert found[("c4", 0)][:2] == (None, "unresolved")


def test_quote_of_a_parent_that_was_edited_afterwards():
    db = open_db(":memory:")
    said = "Regulators will read published safety cases as binding commitments."
    archive(db, [comment("c1", "bob", f"<p>{said}</p>"),
                 comment("c2", "carol", q(said, "Or as marketing."), "c1", day=3)])
    archive(db, [comment("c1", "bob", "<p>Retracted.</p>", edited_at="2024-02-01T00:00:00Z")])
    row = by_item(db)[("c2", 0)]
    assert row[:2] == ("lesswrong:c1", "parent") and row[4] is None  # no span in the new text


def test_archive_wide_and_external_quotes():
    db = open_db(":memory:")
    other = "lesswrong:otherPost123"
    archive(db, [
        comment("c1", "bob", q("a goal-directed agent wants to keep its goal, and being corrected "
                               "threatens that goal", "Relevant here."), day=9, pid=other),
        comment("c2", "carol", "<p>From the paper:</p>" + q(
            "We show that the generalizing circuit is learned gradually throughout training.",
            "Timing matters."), day=9, pid=other),
        comment("c3", "dan", q("Nadia Brooks: Is it random?</p><p>Owen Tailor: Mostly.",
                               "Surprising."), day=9, pid=other),
    ], posts=[post(), post("<p>Unrelated body text.</p>", other, "Other", "2024-01-08T00:00:00Z")])
    found = by_item(db)
    assert found[("c1", 0)][:2] == (POST, "archive")
    assert found[("c2", 0)][:2] == (None, "external")
    assert found[("c3", 0)][:2] == (None, "external")
    assert found[("c3", 0)][6] == "Nadia Brooks, Owen Tailor"
    turns = db.execute("SELECT speaker, text FROM exchange_turns ORDER BY position").fetchall()
    assert turns == [("Nadia Brooks", "Is it random?"), ("Owen Tailor", "Mostly.")]


def test_discourse_quotes_resolve_by_their_post_number(httpserver, http):
    from archiver.app.forums import archive_thread
    from tests.fakes.discourse import FakeDiscourse, quote

    fake = FakeDiscourse()
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handler)
    fake.topic(77, "Shared eval harness", "alice", "<p>Every lab keeps its own harness.</p>")
    fake.post(77, "bob", "<p>I'd support it if it is versioned.</p>", reply_to=1)
    fake.post(77, "carol", "<p>Unrelated aside.</p>", reply_to=1)
    fake.post(77, "alice", quote("bob", 2, 77, "if it is versioned") + "<p>Agreed.</p>",
              reply_to=3)
    fake.post(77, "dave", quote("alice", 1, 77, "Every lab keeps its own harness") + "<p>Yes.</p>")
    db = open_db(":memory:")
    archive_thread(db, http, "https://discuss.example.org/t/shared-eval-harness/77",
                   endpoint=httpserver.url_for("/").rstrip("/"))
    rows = db.execute("SELECT e.kind, e.source_author, c.author FROM exchanges e "
                      "JOIN comments c ON c.id = e.source_id ORDER BY e.posted_at").fetchall()
    assert rows == [("thread", "Bob", "Bob")]  # display names
    assert db.execute("SELECT kind, source_id FROM exchanges WHERE source_table = 'posts'"
                      ).fetchall() == [("post", "discourse:discuss.example.org:77")]


def test_dialogue_post_is_one_exchange_with_its_turns():
    db = open_db(":memory:")
    html = "".join(
        f'<section class="dialogue-message" user-id="{uid}" display-name="{name}"><p>{said}</p></section>'
        for uid, name, said in [("alice", "Alice Adams", "Does SGD plan?"),
                                ("bob", "Bob Brown", "Not in pretraining.")])
    archive(db, [], posts=[post(html)])
    [row] = db.execute("SELECT kind, source_id, source_author FROM exchanges").fetchall()
    assert row == ("post", POST, "Alice Adams, Bob Brown")
    assert db.execute("SELECT speaker, speaker_user_id FROM exchange_turns ORDER BY position"
                      ).fetchall() == [("Alice Adams", "lesswrong:alice"), ("Bob Brown", "lesswrong:bob")]


def test_real_post_quoted_with_edited_typography_resolves_with_exact_spans():
    data = json.loads(shared_file("realworld", "lw_graphql_post_agi_ruin.json").read_text())
    real = data["data"]["post"]["result"]
    db = open_db(":memory:")
    archive(db, [], posts=[post(real["htmlBody"], f"lesswrong:{real['_id']}", real["title"])])
    body = db["posts"].get(f"lesswrong:{real['_id']}")["body_text"]
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", body)
                 if 80 < len(s) < 400 and "\n" not in s][5:45:4]
    quoted = []
    for i, sentence in enumerate(sentences):
        text = sentence.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
        if i % 3 == 1:  # leave out the middle
            third = len(text) // 3
            text = f"{text[:third]} [...] {text[2 * third:]}"
        quoted.append(comment(f"r{i}", "bob", q(text, "Reply."), day=3,
                              pid=f"lesswrong:{real['_id']}"))
    archive(db, quoted, posts=[post(real["htmlBody"], f"lesswrong:{real['_id']}", real["title"])])
    rows = db.execute("SELECT source_id, kind, source_start, source_end, item_id FROM exchanges "
                      "WHERE item_table = 'comments'").fetchall()
    assert len(rows) == len(sentences) >= 8
    for source_id, kind, start, end, item_id in rows:
        index = int(item_id.rsplit("r", 1)[1])
        assert (source_id, kind) == (f"lesswrong:{real['_id']}", "post")
        # The span is the whole sentence, give or take punctuation at its edges.
        sentence = sentences[index].strip()
        assert body[start:end] in sentence and len(body[start:end]) >= len(sentence) - 3


# -- incremental extraction --------------------------------------------------------------------


def test_rerun_with_nothing_new_scans_nothing_and_edits_replace_rows():
    db = open_db(":memory:")
    archive(db)
    before = db["exchanges"].count
    assert X.extract(db).scanned == 0
    # c2 is edited: its rows are replaced, not duplicated; c3 quoted c2, so it is re-resolved.
    edited = comment("c2", "carol", q("humans are consequentialists", "Rarely."), "c1", day=3)
    archive(db, [edited])
    assert db["exchanges"].count == before - 1
    rows = db.execute("SELECT reply FROM exchanges WHERE item_id = 'lesswrong:c2'").fetchall()
    assert rows == [("Rarely.",)]
    # c3 quoted words c2 no longer has: still c2, found in its earlier version (no span).
    assert by_item(db)[("c3", 0)][:2] == ("lesswrong:c2", "parent")
    assert by_item(db)[("c3", 0)][4] is None
    assert X.extract(db, all=True).exchanges == db["exchanges"].count


def test_quote_archived_before_its_thread_resolves_when_the_thread_arrives():
    db = open_db(":memory:")
    early = comment("c1", "bob", q("a goal-directed agent wants to keep its goal", "Why?"))
    ingest(db, [Page(sites=[SITE], users=[user("bob")], posts=[post(stub=True)],
                     comments=[early])], "user", "bob")  # from Bob's comment list: a stub post
    assert by_item(db)[("c1", 0)][:2] == (None, "unresolved")
    archive(db, [early])  # the thread itself
    assert by_item(db)[("c1", 0)][:2] == (POST, "post")


def test_parallel_extraction_gives_the_same_rows(tmp_path, monkeypatch):
    path = str(tmp_path / "a.db")
    db = open_db(path)
    archive(db)
    expected = by_item(db)
    monkeypatch.setattr(X, "PARALLEL_MIN", 1)
    monkeypatch.setattr(X, "MAX_WORKERS", 2)
    monkeypatch.setattr(X, "CHUNK", 2)
    X.extract(db, all=True)
    assert by_item(db) == expected


# -- queries -----------------------------------------------------------------------------------


def test_filters_by_author_replier_between_since_kind_and_post():
    db = open_db(":memory:")
    archive(db)

    def items(**filters):
        return [(r["item_id"].split(":")[1], r["position"]) for r in X.list_exchanges(db, **filters)]

    assert items(author="alice") == [("c1", 0), ("c4", 0)]
    assert items(author="Bob Brown") == [("c2", 0), ("c3", 1), ("c5", 0)]
    assert items(replier="lesswrong:carol") == [("c2", 0), ("c2", 1)]
    assert items(between=("bob", "carol")) == [("c2", 0), ("c3", 0)]
    assert items(since="2024-01-05T00:00:00Z") == [("c4", 0), ("c5", 0), ("c5", 1)]
    assert items(kind="thread") == [("c5", 0)]
    assert items(post="lesswrong:none") == []
    with pytest.raises(Exception, match="unknown kind"):
        X.list_exchanges(db, kind="sideways")


def test_view_and_fts_for_datasette():
    db = open_db(":memory:")
    archive(db)
    row = db.execute("SELECT quoter, source_author, post_title, item_url, source_url FROM "
                     "exchanges_view WHERE item_id = 'lesswrong:c1'").fetchone()
    assert row[:3] == ("Bob Brown", "Alice Adams", "On corrigibility")
    assert row[3].endswith("commentId=c1") and row[4] == f"https://www.lesswrong.com/posts/{POST_ID}/x"
    hits = db.execute("SELECT quote FROM exchanges_fts WHERE exchanges_fts MATCH 'learnable'"
                      ).fetchall()
    assert len(hits) == 2
    fks = {(fk.column, fk.other_table) for fk in db["exchanges"].foreign_keys}
    assert {("post_id", "posts"), ("quoter_user_id", "users"), ("source_user_id", "users")} <= fks
    assert ("exchange_id", "exchanges") in {(fk.column, fk.other_table)
                                            for fk in db["exchange_turns"].foreign_keys}


def test_hot_passages_rank_the_posts_sentences_by_quoting_replies():
    db = open_db(":memory:")
    extra = [comment(f"h{i}", who, q("so we should look for training setups where correction is "
                                     "itself part of the goal", "Hm."), day=7 + i)
             for i, who in enumerate(["bob", "carol"])]
    archive(db, DEBATE + extra)
    hot = X.hot_passages(db, POST)
    assert hot[0]["sentence"].startswith("So we should look for training setups")
    assert hot[0]["quotes"] == 3 and hot[0]["quoted_by"] == ["Dan Diaz", "Bob Brown", "Carol Chen"]
    assert [h["quotes"] for h in hot] == [3, 1]


# -- the CLI -----------------------------------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path):
    path = str(tmp_path / "a.db")
    archive(open_db(path))

    def run(*args):
        return CliRunner().invoke(cli, ["--db", path, "exchanges", *args])

    return run


def test_cli_lists_exchanges_of_a_post_given_by_url(cli_db):
    result = cli_db("--post", POST_URL.replace(f"/posts/{POST_ID}/x", f"/posts/{POST_ID}"))
    assert result.exit_code == 0, result.output
    assert "Bob Brown quoted Alice Adams (post, 9" in result.output
    assert "«I think it\u2019s anti-natural for consequentialist reasoners.»" in result.output
    assert "→ I disagree: humans are consequentialists" in result.output
    assert "https://www.lesswrong.com/posts/corrigibilityPost1/x?commentId=c1" in result.output


def test_cli_json_has_one_object_per_exchange(cli_db):
    result = cli_db("--author", "alice", "--format", "json")
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["comment_id"] for r in rows] == ["lesswrong:c1", "lesswrong:c4"]
    assert {"comment_id", "source_id", "kind", "quote", "reply", "score"} <= set(rows[0])
    assert rows[1]["quote"].startswith("so we should look")


def test_cli_markdown_between_and_hot(cli_db):
    markdown = cli_db("--between", "bob", "carol", "--format", "markdown").output
    assert "**[Carol Chen](https://www.lesswrong.com/posts/corrigibilityPost1/x?commentId=c2)** " \
           "quoted **[Bob Brown]" in markdown
    assert "> humans are consequentialists and accept correction" in markdown
    hot = cli_db("--post", POST, "--hot")
    assert hot.exit_code == 0 and "«I think it is anti-natural" in hot.output


def test_cli_extract_and_errors(cli_db):
    result = cli_db("extract", "--all")
    assert result.exit_code == 0 and "8 exchanges" in result.output
    missing = cli_db("--post", "lesswrong:doesNotExist1")
    assert missing.exit_code == 1 and "error: no archived post" in missing.output
    assert cli_db("--hot").exit_code == 2
    assert "kind" in cli_db("--kind", "sideways").output


# -- quality on the labelled set ---------------------------------------------------------------


def test_labelled_set_meets_precision_and_recall_targets():
    from scripts.eval_exchanges import TARGETS, evaluate

    result = evaluate()
    assert result["quotes"] >= 60 and set(result["kinds"]) >= {
        "parent", "ancestor", "post", "thread", "archive", "external", "unresolved"}
    assert result["precision"] >= TARGETS["precision"], result["mistakes"]
    assert result["recall"] >= TARGETS["recall"], result["mistakes"]


# -- e-mail style: a passage quoted line by line is one exchange --------------------------------


def test_a_passage_quoted_paragraph_by_paragraph_is_one_exchange():
    """E-mail and Reddit quote each paragraph (or line) with its own "> ": one quote, one row;
    a quote of another source stacked on it stays apart."""
    db = open_db(":memory:")
    stacked = ("<blockquote><p>Corrigibility is the property of an agent that lets its overseers "
               "correct it.</p></blockquote><blockquote><p>Because a goal-directed agent wants "
               "to keep its goal, and being corrected threatens that goal.</p></blockquote>"
               "<blockquote><p>Trust is learnable over repeated interactions.</p></blockquote>"
               "<p>Neither holds for a myopic agent.</p>")
    archive(db, comments=DEBATE[:3] + [comment("c9", "dan", stacked, day=9)])
    rows = db.execute("SELECT quote, source_id, reply, source_start, source_end FROM exchanges "
                      "WHERE item_id = 'lesswrong:c9' ORDER BY position").fetchall()
    assert [r[1] for r in rows] == [POST, "lesswrong:c3"]
    quote, _source, reply, start, end = rows[0]
    assert quote.count("\n\n") == 1 and reply == "Neither holds for a myopic agent."
    post_text = db["posts"].get(POST)["body_text"]
    assert post_text[start:end].startswith("Corrigibility is") and \
        post_text[start:end].endswith("threatens that goal")
