"""The CLI as a user meets it: options anywhere, clear errors, runs rows, search."""

from __future__ import annotations

import json
import socket

import sqlite_utils
from werkzeug.wrappers import Response

from tests.fakes import forummagnum as fm
from tests.test_forummagnum import POST_ID, debate, user_with_comments


def test_thread_with_global_options_after_the_command(forum, endpoint, cli_run, tmp_path):
    debate(forum)
    db_path = tmp_path / "sub" / "dir" / "x.db"
    result = cli_run("thread", f"lesswrong:{POST_ID}", "--endpoint", endpoint, "--delay", "0",
                     "--db", str(db_path))
    assert result.exit_code == 0, result.output
    assert "Gated SAEs fix shrinkage: 5 new, 0 updated, 0 unchanged" in result.output
    assert sqlite_utils.Database(db_path)["comments"].count == 4


def test_global_options_before_the_command_and_quiet(forum, endpoint, cli_run, tmp_path):
    debate(forum)
    db_path = tmp_path / "y.db"
    result = cli_run("--db", str(db_path), "-q", "thread", f"lesswrong:{POST_ID}",
                     "--endpoint", endpoint, "--delay", "0")
    assert result.exit_code == 0 and result.output == ""
    assert sqlite_utils.Database(db_path)["posts"].count == 1


def test_default_database_is_db_archive_db(forum, endpoint, cli_run, tmp_path, monkeypatch):
    monkeypatch.delenv("ARCHIVER_DB")
    debate(forum)
    assert cli_run("thread", f"lesswrong:{POST_ID}", "--endpoint", endpoint, "--delay", "0").exit_code == 0
    assert (tmp_path / "db" / "archive.db").exists()


def test_runs_row_records_the_fetch(forum, endpoint, cli_run, tmp_path):
    debate(forum)
    cli_run("thread", f"lesswrong:{POST_ID}", "--endpoint", endpoint, "--delay", "0")
    cli_run("thread", f"lesswrong:{POST_ID}", "--endpoint", endpoint, "--delay", "0")
    runs = list(sqlite_utils.Database(tmp_path / "archive.db")["runs"].rows)
    assert [(r["command"], r["status"], r["new"], r["unchanged"], r["requests"]) for r in runs] == [
        ("thread", "ok", 5, 0, 2), ("thread", "ok", 0, 5, 2)]
    assert runs[0]["target"] == f"https://www.lesswrong.com/posts/{POST_ID}"
    assert runs[0]["started_at"] <= runs[0]["ended_at"]


def test_bad_url_is_one_line_and_exit_2(cli_run):
    result = cli_run("thread", "https://example.com/not-a-forum")
    assert result.exit_code == 2
    assert result.output.startswith("error: not a thread URL archiver knows")
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_unknown_site_is_a_usage_error(cli_run):
    result = cli_run("user", "someone", "--site", "myspace")
    assert result.exit_code == 2 and "myspace" in result.output


def test_missing_post_exits_1(forum, endpoint, cli_run):
    result = cli_run("thread", f"lesswrong:{POST_ID}", "--endpoint", endpoint, "--delay", "0")
    assert result.exit_code == 1
    assert result.output.strip() == (f"error: no post {POST_ID} on LessWrong and the Alignment "
                                     f"Forum (https://www.lesswrong.com/posts/{POST_ID})")


def test_network_failure_after_retries_exits_1_and_is_recorded(cli_run, tmp_path):
    (tmp_path / "fast.toml").write_text("retries = 0\n")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = cli_run("--config", str(tmp_path / "fast.toml"), "thread", f"lesswrong:{POST_ID}",
                     "--endpoint", f"http://127.0.0.1:{port}/graphql", "--delay", "0")
    assert result.exit_code == 1
    assert "gave up after 1 attempt (connection failed)" in result.output
    assert "Traceback" not in result.output
    [run] = sqlite_utils.Database(tmp_path / "archive.db")["runs"].rows
    assert run["status"] == "failed" and "connection failed" in run["error"]


def test_api_error_body_is_reported(httpserver, cli_run):
    httpserver.expect_request("/graphql").respond_with_json(
        {"errors": [{"message": "Internal server error: boom"}], "data": None})
    result = cli_run("thread", f"lesswrong:{POST_ID}", "--endpoint",
                     httpserver.url_for("/graphql"), "--delay", "0")
    assert result.exit_code == 1
    assert "API error: Internal server error: boom" in result.output


def test_verbose_shows_traceback_and_requests(httpserver, cli_run):
    httpserver.expect_request("/graphql").respond_with_json({"errors": [{"message": "x"}]})
    result = cli_run("-v", "thread", f"lesswrong:{POST_ID}", "--endpoint",
                     httpserver.url_for("/graphql"), "--delay", "0")
    assert "Traceback" in result.output and "POST http://localhost" in result.output


def test_crash_mid_thread_keeps_pages_already_written(forum, httpserver, cli_run, tmp_path):
    """The second comments page fails for good: the post and the first 5,000 comments stay."""
    fm.big_thread(forum, POST_ID, 5_200, body_chars=30)
    calls = []

    def flaky(request):
        calls.append(1)
        if len(calls) >= 3:
            return Response("down", status=500)
        return forum.handler(request)

    httpserver.clear()
    httpserver.expect_request("/graphql").respond_with_handler(flaky)
    (tmp_path / "fast.toml").write_text("retries = 0\n")
    result = cli_run("--config", str(tmp_path / "fast.toml"), "thread", f"lesswrong:{POST_ID}",
                     "--endpoint", httpserver.url_for("/graphql"), "--delay", "0")
    assert result.exit_code == 1 and "HTTP 500" in result.output
    db = sqlite_utils.Database(tmp_path / "archive.db")
    assert db["posts"].count == 1 and db["comments"].count == 5_000
    [run] = db["runs"].rows
    assert run["status"] == "failed" and run["new"] == 5_001
    # Once the API is back, a re-run completes the thread without duplicating anything.
    httpserver.clear()
    httpserver.expect_request("/graphql").respond_with_handler(forum.handler)
    assert cli_run("thread", f"lesswrong:{POST_ID}", "--endpoint", httpserver.url_for("/graphql"),
                   "--delay", "0").exit_code == 0
    assert db["comments"].count == 5_200


def test_user_command_with_counts(forum, endpoint, cli_run, tmp_path):
    user_with_comments(forum, 30)
    result = cli_run("user", "https://www.lesswrong.com/users/rohinmshah", "--comments", "12",
                     "--posts", "all", "--endpoint", endpoint, "--delay", "0")
    assert result.exit_code == 0, result.output
    db = sqlite_utils.Database(tmp_path / "archive.db")
    assert db["comments"].count == 12
    assert "Rohin Shah: " in result.output


def test_user_bad_count_is_usage_error(cli_run):
    result = cli_run("user", "rohinmshah", "--comments", "lots")
    assert result.exit_code == 2 and "--comments takes a number or 'all'" in result.output


def test_search_ranks_and_highlights(forum, endpoint, cli_run):
    debate(forum)
    cli_run("thread", f"lesswrong:{POST_ID}", "--endpoint", endpoint, "--delay", "0")
    result = cli_run("search", "gating help")
    assert result.exit_code == 0
    assert "[gating] [help]" in result.output and "Bob" in result.output
    rows = [json.loads(line) for line in cli_run("search", "shrinkage", "--json").output.splitlines()]
    assert rows[0]["type"] == "post" and rows[0]["title"] == "Gated SAEs fix shrinkage"
    assert {"id", "author", "posted_at", "url", "snippet"} <= set(rows[0])


def test_search_survives_fts_syntax_and_sql_fragments(forum, endpoint, cli_run):
    debate(forum)
    cli_run("thread", f"lesswrong:{POST_ID}", "--endpoint", endpoint, "--delay", "0")
    for query in ['"unbalanced', "gating' OR 1=1; --", "AND OR NOT", "shrink*"]:
        result = cli_run("search", query)
        assert result.exit_code == 0, (query, result.output)
        assert "Traceback" not in result.output


def test_search_ranks_within_the_newest_matches_for_very_common_words(tmp_path, monkeypatch):
    """A word in more comments than the ranking window still returns the best of the newest."""
    from archiver.store import open_db
    from archiver.store import search as search_module
    from archiver.store.search import search

    monkeypatch.setattr(search_module, "RANK_WINDOW", 10)
    db = open_db(str(tmp_path / "s.db"))
    with db.conn:
        for i in range(40):
            text = "shrinkage " * (5 if i == 35 else 1) + f"filler words number {i}"
            db.conn.execute("insert into comments (id, post_id, body_text) values (?, 'p', ?)",
                            [f"c{i}", text])
    rows = search(db, "shrinkage", limit=5)
    assert rows[0]["id"] == "c35"  # the best match among the 10 newest
    assert all(int(r["id"][1:]) >= 30 for r in rows)
    assert [r["id"] for r in search(db, "number", limit=3)]


def test_several_threads_one_missing_the_others_are_archived(forum, endpoint, cli_run, tmp_path):
    debate(forum)
    result = cli_run("thread", "lesswrong:missingpost00001", f"lesswrong:{POST_ID}",
                     "--endpoint", endpoint, "--delay", "0")
    assert result.exit_code == 1
    assert "error: lesswrong:missingpost00001: no post missingpost00001" in result.output
    assert "1 of 2 threads failed" in result.output
    assert sqlite_utils.Database(tmp_path / "archive.db")["comments"].count == 4


def test_a_bad_url_among_several_fetches_nothing(forum, endpoint, cli_run, tmp_path):
    debate(forum)
    result = cli_run("thread", f"lesswrong:{POST_ID}", "https://example.com/x",
                     "--endpoint", endpoint, "--delay", "0")
    assert result.exit_code == 2 and forum.queries == []


def test_mentions_redetect_rebuilds_lost_mentions(forum, endpoint, cli_run, tmp_path):
    debate(forum)
    forum.comments[0]["contents"] = fm.contents("<p>See https://arxiv.org/abs/2404.16014v2 on this.</p>")
    cli_run("thread", f"lesswrong:{POST_ID}", "--endpoint", endpoint, "--delay", "0")
    db = sqlite_utils.Database(tmp_path / "archive.db")
    with db.conn:
        db.execute("delete from mentions")
    assert cli_run("mentions", "--json").output.strip() in ("", "no mentions found")
    result = cli_run("mentions", "--redetect", "--json")
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [(r["paper_id"], r["how"]) for r in rows] == [("arxiv:2404.16014", "arxiv_link")]


def test_progress_bars_only_on_a_terminal_and_never_with_quiet(monkeypatch):
    import click

    from archiver.cli import common

    for quiet, tty, shown in [(False, True, True), (True, True, False), (False, False, False)]:
        with click.Context(click.Command("x"), obj=common.State(quiet=quiet)):
            monkeypatch.setattr(common.sys.stderr, "isatty", lambda tty=tty: tty, raising=False)
            assert common.progress("comments").hidden is (not shown)
