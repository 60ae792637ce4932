"""One resolver: every form the CLI documents names the same post, user or topic in every command
that takes one (exchanges --post/--author, summarize --thread/TOPIC, export --thread/--user/
--topic, researcher --forum-user)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from archiver.analysis import exchanges as exchanges_analysis
from archiver.analysis import quotes
from archiver.app import resolve
from archiver.app.config import parse_config
from archiver.app.ingest import ingest
from archiver.kernel import parse
from archiver.kernel.errors import ArchiverError, FetchError, NotFound, UsageError
from archiver.kernel.paperids import normalise_title
from archiver.kernel.records import Comment, Page, Post, Site, Tag, User
from archiver.kernel.text import fold
from archiver.sources import openalex, saved, semanticscholar, webapi
from archiver.store import open_db, problems

PID = "uMQ3cqWDPHhjtiesc"  # a ForumMagnum-shaped id
POST = f"lesswrong:{PID}"
ALICE = "lesswrong:aliceUserId000001"
CLAIM = "Sparse autoencoders recover every true feature of the residual stream activations."
LW = Site(id="lesswrong", name="LessWrong", url="https://www.lesswrong.com", kind="forummagnum")
HN = Site(id="hackernews", name="Hacker News", url="https://news.ycombinator.com",
          kind="hackernews")
TAG = Tag(id="lesswrong:tag-interp", site_id="lesswrong", name="Interpretability (ML & AI)")

POST_FORMS = [
    f"https://www.lesswrong.com/posts/{PID}/a-bold-claim",
    f"https://www.lesswrong.com/posts/{PID}",
    f"https://www.lesswrong.com/posts/{PID}/a-bold-claim/",  # the stored URL with a slash
    f"https://www.alignmentforum.org/posts/{PID}/a-bold-claim",
    f"https://www.greaterwrong.com/posts/{PID}/a-bold-claim",
    f"https://www.lesswrong.com/s/someSequence/p/{PID}#comment-reply",
    f"lesswrong:{PID}",
    f"alignmentforum:{PID}",
    f"lw:{PID}",
    f"af:{PID}",
    PID,  # the bare id upstream gave it
    f"  {POST} ",
]
USER_FORMS = [
    ALICE,
    "alice",
    "Alice",  # slugs compare case-insensitively
    "alignmentforum:alice",
    "lesswrong:alice",
    "https://www.lesswrong.com/users/alice",
    "https://www.alignmentforum.org/users/alice",
    "https://www.greaterwrong.com/users/alice",
]


def _build(db) -> None:
    users = [User(id=ALICE, site_id="lesswrong", source_id="aliceUserId000001", slug="alice",
                  name="Alice A.", url="https://www.lesswrong.com/users/alice"),
             User(id="lesswrong:bobUserId00000001", site_id="lesswrong",
                  source_id="bobUserId00000001", slug="bob", name="Bob B.",
                  url="https://www.lesswrong.com/users/bob")]
    post = Post(id=POST, site_id="lesswrong", source_id=PID, author="Alice A.", user_id=ALICE,
                url=f"https://www.lesswrong.com/posts/{PID}/a-bold-claim", title="A bold claim",
                posted_at="2024-01-20T00:00:00Z", score=90, tags=[TAG],
                body_html=f"<p>{CLAIM} Dictionary learning is therefore solved.</p>")
    reply = Comment(id="lesswrong:reply", site_id="lesswrong", source_id="reply", post_id=POST,
                    user_id="lesswrong:bobUserId00000001", author="Bob B.",
                    posted_at="2024-01-21T00:00:00Z", score=40,
                    url=f"https://www.lesswrong.com/posts/{PID}/a-bold-claim?commentId=reply",
                    body_html=f"<blockquote><p>{CLAIM}</p></blockquote><p>Rare features are "
                              "missed, so dictionary learning is far from solved.</p>")
    ingest(db, [Page(sites=[LW], users=users, posts=[post], comments=[reply])], "test", "x")
    # Another site's "bob" and a post whose bare id is also used elsewhere.
    hn_bob = User(id="hackernews:bob", site_id="hackernews", source_id="bob", slug="bob",
                  name="bob", url="https://news.ycombinator.com/user?id=bob")
    ingest(db, [Page(sites=[HN], users=[hn_bob], posts=[
        Post(id="hackernews:42", site_id="hackernews", source_id="42", title="HN story",
             url="https://news.ycombinator.com/item?id=42", posted_at="2024-02-01T00:00:00Z"),
        Post(id="lesswrong:42", site_id="lesswrong", source_id="42", title="LW 42",
             url="https://www.lesswrong.com/posts/42", posted_at="2024-02-01T00:00:00Z")])],
           "test", "y")


@pytest.fixture
def db(tmp_path):
    database = open_db(str(tmp_path / "archive.db"))
    _build(database)
    return database


@pytest.fixture
def cli(cli_run, tmp_path):
    database = open_db(str(tmp_path / "archive.db"))
    _build(database)
    database.close()
    return cli_run


@pytest.mark.parametrize("form", POST_FORMS)
def test_every_post_form_resolves_to_the_archived_post(db, form):
    assert resolve.post_id(db, form) == POST


def test_a_bare_id_on_two_sites_is_ambiguous_and_a_missing_post_is_not_found(db):
    with pytest.raises(UsageError, match="several sites .*hackernews:42, lesswrong:42"):
        resolve.post_id(db, "42")
    assert resolve.post_id(db, "hn:42") == "hackernews:42"
    with pytest.raises(NotFound, match="no archived post 'lw:zzzzzzzzzzzzzzzzz'"):
        resolve.post_id(db, "lw:zzzzzzzzzzzzzzzzz")


def _out(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def test_every_post_form_works_the_same_in_every_command(cli):
    expected = {
        "exchanges": _out(cli("exchanges", "--post", POST, "--json")),
        "summarize": _out(cli("summarize", "--thread", POST, "--format", "json")),
        "export": _out(cli("export", "--thread", POST)),
    }
    assert json.loads(expected["exchanges"].splitlines()[0])["post_id"] == POST
    assert json.loads(expected["summarize"])["post_id"] == POST
    assert f'"id": "{POST}"' in expected["export"]
    for form in POST_FORMS:
        assert _out(cli("exchanges", "--post", form, "--json")) == expected["exchanges"], form
        summary = json.loads(_out(cli("summarize", "--thread", form, "--format", "json")))
        assert summary["post_id"] == POST, form
        assert _out(cli("export", "--thread", form)) == expected["export"], form


@pytest.mark.parametrize("args", [("exchanges", "--post"), ("summarize", "--thread"),
                                  ("export", "--thread")])
def test_a_missing_post_is_one_clear_line_in_every_command(cli, args):
    result = cli(*args, "af:zzzzzzzzzzzzzzzzz")
    assert result.exit_code == 1
    assert result.output.startswith("error: no archived ") and "'af:zzzzzzzzzzzzzzzzz'" in \
        result.output and "Traceback" not in result.output


@pytest.mark.parametrize("form", USER_FORMS)
def test_every_user_form_resolves_to_the_archived_user(db, form):
    assert resolve.user_ids(db, form) == [ALICE]
    assert resolve.user_id(db, form, "--forum-user") == ALICE


def test_a_slug_on_two_sites_names_both_and_a_site_picks_one(db):
    assert resolve.user_ids(db, "bob") == ["hackernews:bob", "lesswrong:bobUserId00000001"]
    with pytest.raises(UsageError, match="several sites .* to --forum-user"):
        resolve.user_id(db, "bob", "--forum-user")
    assert resolve.user_id(db, "hackernews:bob", "--forum-user") == "hackernews:bob"
    assert resolve.user_id(db, "https://news.ycombinator.com/user?id=bob", "x") == "hackernews:bob"
    assert resolve.user_ids(db, "https://www.lesswrong.com/users/bob") == [
        "lesswrong:bobUserId00000001"]
    with pytest.raises(NotFound, match="no archived user 'lesswrong:carol'"):
        resolve.user_ids(db, "lesswrong:carol")


def test_every_user_form_works_the_same_in_exchanges_and_export(cli):
    quoted = _out(cli("exchanges", "--author", "alice", "--json"))
    quoting = _out(cli("exchanges", "--replier", "bob", "--json"))
    exported = _out(cli("export", "--user", ALICE))
    assert json.loads(quoted.splitlines()[0])["source_slug"] == "alice"
    assert quoting == quoted  # the one exchange: Bob quoting Alice
    for form in USER_FORMS:
        assert _out(cli("exchanges", "--author", form, "--json")) == quoted, form
        assert _out(cli("exchanges", "--between", form, "lesswrong:bob", "--json")) == quoted, form
        assert _out(cli("export", "--user", form)) == exported, form
    # A display name still matches people (also authors without a users row).
    assert _out(cli("exchanges", "--author", "alice a.", "--json")) == quoted


def test_every_topic_form_works_the_same_in_summarize_and_export(cli, db):
    topic_id = resolve.topic(db, "Interpretability (ML & AI)")["id"]
    forms = [str(topic_id), "Interpretability (ML & AI)", "interpretability (ml & ai)"]
    exported = _out(cli("export", "--topic", forms[0]))
    assert '"type": "topic"' in exported
    for form in forms:
        assert resolve.topic(db, form)["id"] == topic_id
        assert _out(cli("export", "--topic", form)) == exported, form
        data = json.loads(_out(cli("summarize", form, "--format", "json")))
        assert data["topic"]["id"] == topic_id, form


# -- one parser for dates and limits ------------------------------------------------------------


@pytest.mark.parametrize("value, date, stamp", [
    ("2024-05-01", "2024-05-01", "2024-05-01T00:00:00Z"),
    (" 2024-05-01 ", "2024-05-01", "2024-05-01T00:00:00Z"),
    ("2024-05-01 10:30", "2024-05-01T10:30:00Z", "2024-05-01T10:30:00Z"),
    ("2024-05-01T10:30:15.25Z", "2024-05-01T10:30:15Z", "2024-05-01T10:30:15Z"),
    (None, None, None), ("", None, None),
])
def test_one_date_parser(value, date, stamp):
    assert parse.parse_date(value, "--until") == date  # a bare date stays a whole day
    assert parse.parse_since(value) == stamp


@pytest.mark.parametrize("bad", ["2024-02-30", "2024-13-01", "2024-05-01T1", "yesterday",
                                 "2024-5-1", "2024-05-01T10:00+02:00"])
def test_a_bad_date_is_refused_the_same_way_by_every_command_and_the_config(cli, tmp_path, bad):
    with pytest.raises(UsageError, match="--until takes a date like 2024-05-01"):
        parse.parse_date(bad, "--until")
    (tmp_path / "page.html").write_text("<html><body><p>Saved.</p></body></html>")
    for args in (("exchanges", "--since", bad), ("summarize", "--thread", POST, "--since", bad),
                 ("summarize", "--all", "--until", bad), ("topics", "discover", "--since", bad),
                 ("user", "alice", "--since", bad), ("import", "page.html", "--captured", bad)):
        result = cli(*args)
        option = next(a for a in args if a in ("--since", "--until", "--captured"))
        assert result.exit_code == 2, (args, result.output)
        assert result.output == f"error: {option} takes a date like 2024-05-01, not {bad!r}\n"
    problem = f'[[watch.users]]\nurl = "lesswrong:x"\nsince = "{bad}"\n'
    with pytest.raises(UsageError, match="since must be a date like 2024-05-01"):
        parse_config(problem)


@pytest.mark.parametrize("value, count", [("all", None), ("ALL", None), (None, None), ("12", 12),
                                          (0, 0), (7, 7)])
def test_one_limit_parser(value, count):
    assert parse.parse_count(value, "--posts") == count


@pytest.mark.parametrize("bad", ["-1", "ten", "1.5", -1])
def test_a_bad_limit_is_refused_by_the_cli_and_the_config(cli, bad):
    with pytest.raises(UsageError, match="--posts takes a number or 'all'"):
        parse.parse_count(bad, "--posts")
    if isinstance(bad, str):
        result = cli("user", "alice", "--posts", bad)
        assert result.exit_code == 2
        assert result.output == f"error: --posts takes a number or 'all', not {bad!r}\n"
    with pytest.raises(UsageError, match="posts must be a number or \"all\""):
        parse_config(f'[[watch.users]]\nurl = "lesswrong:x"\nposts = {json.dumps(bad)}\n')


# -- one fold -----------------------------------------------------------------------------------


@pytest.mark.parametrize("a, b", [("Die Straße", "DIE STRASSE"), ("Crème Brûlée", "creme brulee"),
                                  ("ﬁnal ＡＢＣ", "final abc"), ("Ünïcödé", "unicode")])
def test_quotes_titles_and_slugs_fold_the_same_way(a, b):
    assert fold(a) == fold(b)
    assert quotes.normalize(a) == quotes.normalize(b) == fold(b)  # a quote matches its source
    assert normalise_title(a) == normalise_title(b)  # one paper across sources
    assert saved._slug(a) == saved._slug(b)  # one user across saved files


def test_the_quote_fold_keeps_its_offsets_when_a_character_becomes_two():
    folded, offsets = quotes.normalize_map("Maß “x”")
    assert folded == 'mass "x"' and len(offsets) == len(folded)
    assert offsets[2:4] == [2, 2]  # both letters of "ss" point at the ß


# -- one HTTP error translation -----------------------------------------------------------------


@pytest.mark.parametrize("status, error, words", [
    (404, NotFound, r"item 7 not found \({where}: HTTP 404: gone away\); check the"),
    (410, NotFound, r"item 7 not found \({where}: HTTP 410: gone away\); check the"),
    (403, FetchError, r"item 7 refused \({where}: HTTP 403: gone away\); "),
    (401, FetchError, r"item 7 refused \({where}: HTTP 401: gone away\); "),
    (400, FetchError, r"{where}: gone away \(HTTP 400, item 7\)"),
])
def test_one_http_error_translation_for_every_source(http, httpserver, monkeypatch, status,
                                                    error, words):
    monkeypatch.delenv("OPENALEX_API_KEY", raising=False)
    monkeypatch.delenv("SEMANTIC_SCHOLAR_API_KEY", raising=False)
    httpserver.expect_request("/item").respond_with_json({"message": "gone away"}, status=status)
    url = httpserver.url_for("/item")
    calls = {  # the JSON sources (Reddit, Discourse, Hacker News) and the two researcher APIs
        "localhost:[0-9]+/item": lambda: webapi.get_json(http, url, what="item 7"),
        "OpenAlex": lambda: openalex._get(http, url, "item 7"),
        "Semantic Scholar": lambda: semanticscholar._get(http, url, "item 7", 0),
    }
    for where, call in calls.items():
        with pytest.raises(error, match=words.format(where=where)):
            call()


# -- SQLite's errors in one place ---------------------------------------------------------------


@pytest.mark.parametrize("error, line", [
    (sqlite3.OperationalError("database is locked"), "the database is locked by another process"),
    (sqlite3.OperationalError("attempt to write a readonly database"),
     "the database is read-only; check the file's permissions or pass --db"),
    (sqlite3.OperationalError("database or disk is full"), "the disk is full"),
    (sqlite3.DatabaseError("file is not a database"), "not an SQLite database or corrupted"),
    (sqlite3.OperationalError("unable to open database file"), "cannot open the database"),
    (sqlite3.IntegrityError("UNIQUE constraint failed: x.id"),
     "database error: UNIQUE constraint failed: x.id; is --db an archiver database?"),
])
def test_one_wording_for_sqlite_errors_in_the_cli_and_when_opening(cli, monkeypatch, error, line):
    assert problems.explain(error).startswith(line)
    assert problems.explain(error, "a.db") == "a.db: " + problems.explain(error)

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(exchanges_analysis, "list_exchanges", fail)
    result = cli("exchanges")
    assert result.exit_code == 1
    assert result.output == f"error: {problems.explain(error)}\n"


def test_a_file_that_is_not_an_archive_reads_the_same_from_open_and_the_cli(cli, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all, just text" * 100)
    with pytest.raises(ArchiverError) as opened:
        open_db(str(junk))
    result = cli("--db", str(junk), "search", "x")
    assert result.exit_code == 1 and result.output == f"error: {opened.value}\n"
    assert str(opened.value).startswith(f"{junk}: not an SQLite database or corrupted")


def test_a_users_first_sync_reads_its_since_like_the_cli(cli, tmp_path):
    (tmp_path / "archiver.toml").write_text(
        '[[watch.users]]\nurl = "bob"\nsince = "2024-05-01 10:00"\n')
    plan = json.loads(_out(cli("sync", "--dry-run", "--json")))
    assert [i["since"] for i in plan["items"] if i["kind"] == "users"] == ["2024-05-01T10:00:00Z"]
