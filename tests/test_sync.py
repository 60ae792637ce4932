"""`archiver sync` against a loopback ForumMagnum: least work, overlap window, dry run, the lock,
a sync really killed with SIGKILL and restarted, exit codes, and request logging without secrets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from werkzeug.wrappers import Response as Response_

from archiver.store import open_db
from tests.fakes import forummagnum as fm

ALICE = fm.user("aliceid000000001", "alice", "Alice")
BOB = fm.user("bobid00000000001", "bob", "Bob")
ROOT = Path(__file__).resolve().parents[1]


def ago(hours: float) -> str:
    when = datetime.now(timezone.utc) - timedelta(hours=hours)
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def add_thread(forum: fm.FakeForum, pid: str, comments: int, hours_ago: float = 5.0,
               score: int = 42) -> None:
    forum.posts[pid] = fm.post(pid, f"Thread {pid}", ALICE, f"<p>About {pid}.</p>",
                               posted=ago(hours_ago + 1), commentCount=comments, baseScore=score)
    for i in range(comments):
        author = BOB if i % 2 else ALICE
        forum.comments.append(fm.comment(f"{pid[:8]}c{i:07d}", pid, author,
                                         f"<p>Comment {i} on {pid}.</p>", ago(hours_ago - i * 0.01)))


def write_config(tmp_path: Path, endpoint: str, body: str, **sync) -> Path:
    settings = "\n".join(f"{k} = {v}" for k, v in sync.items())
    path = tmp_path / "archiver.toml"
    path.write_text(f'delay = 0\nretries = 0\n[endpoints]\nlesswrong = "{endpoint}"\n'
                    f"[sync]\n{settings}\n{body}")
    return path


def threads_body(*pids: str) -> str:
    return "".join(f'[[watch.threads]]\nurl = "lesswrong:{pid}"\n' for pid in pids)


def rows(db_path: Path, sql: str) -> list[tuple]:
    db = open_db(str(db_path))
    try:
        return [tuple(r) for r in db.execute(sql).fetchall()]
    finally:
        db.close()


def test_first_sync_fetches_the_watch_list_and_the_next_does_only_what_is_due(
        forum, endpoint, cli_run, tmp_path):
    add_thread(forum, "threadA000000001", 3, hours_ago=24 * 40)  # quiet for 40 days
    add_thread(forum, "tagpost000000001", 2, score=50)
    add_thread(forum, "tagpost000000002", 1, score=3)  # below min_score: not archived
    forum.users[BOB["_id"]] = fm.profile(BOB["_id"], "bob", "Bob")
    write_config(tmp_path, endpoint, threads_body("threadA000000001") + (
        '[[watch.users]]\nurl = "bob"\ncomments = 10\n'
        '[[watch.tags]]\nslug = "sparse-autoencoders"\nmin_score = 20\n'))
    first = cli_run("sync", "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert report["status"] == "ok" and report["new"] > 0
    by_kind = {(i["kind"], i["status"]) for i in report["items"]}
    assert {("threads", "ok"), ("users", "ok"), ("tags", "ok")} <= by_kind
    db = tmp_path / "archive.db"
    posts = {r[0] for r in rows(db, "select id from posts where stub = 0")}
    assert {"lesswrong:threadA000000001", "lesswrong:tagpost000000001"} <= posts
    assert "lesswrong:tagpost000000002" not in posts
    assert rows(db, "select count(*) from comments where post_id = 'lesswrong:tagpost000000001'"
                ) == [(2,)]
    runs = rows(db, "select command, status from runs order by id")
    assert runs[0] == ("sync", "ok") and ("sync thread", "ok") in runs
    assert ("sync tag", "ok") in runs and ("sync user", "ok") in runs

    forum.queries.clear()
    second = cli_run("sync", "--json")
    report = json.loads(second.output)
    statuses = {i["key"]: (i["status"], i["reason"]) for i in report["items"]}
    assert statuses["lesswrong:threadA000000001"][0] == "skipped"  # quiet thread: not refetched
    assert statuses["lesswrong:bob"][0] == "skipped"  # checked less than a day ago
    # the active tag thread is asked by the change check, and unchanged, not fetched again
    assert statuses["lesswrong:tagpost000000001"][0] == "skipped"
    assert statuses["lesswrong:tagpost000000001"][1].startswith("unchanged since the last check")
    assert statuses["check:forummagnum"][0] == "ok"
    assert report["new"] == 0 and report["updated"] == 0
    # the tag listing (its id is cached) + one batched change check of both threads; nothing else
    assert len(forum.queries) == 2
    assert "tagBySlug" not in forum.queries[0]
    assert "p0: post(" in forum.queries[1] and "p1: post(" in forum.queries[1]


def test_dry_run_says_what_it_would_fetch_and_makes_no_request(forum, endpoint, cli_run,
                                                                tmp_path):
    add_thread(forum, "threadA000000001", 2)
    write_config(tmp_path, endpoint, threads_body("threadA000000001") + (
        '[[watch.tags]]\nslug = "sparse-autoencoders"\nmin_score = 20\n'))
    open_db(str(tmp_path / "archive.db")).close()  # on a missing archive it is an error
    result = cli_run("sync", "--dry-run")
    assert result.exit_code == 0
    assert "never fetched completely: full fetch" in result.output
    assert "tag sparse-autoencoders on lesswrong" in result.output
    assert forum.queries == []
    assert rows(tmp_path / "archive.db", "select count(*) from runs") == [(0,)]
    plan = json.loads(cli_run("sync", "--dry-run", "--json", "--only", "tags").output)
    assert [i["kind"] for i in plan["items"]] == ["tags"] and forum.queries == []


def test_init_then_dry_run_plans_the_first_sync_and_creates_nothing(forum, endpoint, cli_run,
                                                                    tmp_path):
    """The hint `archiver init` prints works before any archive exists."""
    init = cli_run("init")
    assert "archiver sync --dry-run" in init.output
    assert cli_run("sync", "--dry-run").exit_code == 0  # the example config's watch list
    add_thread(forum, "threadA000000001", 2)
    write_config(tmp_path, endpoint, threads_body("threadA000000001"))
    missing = tmp_path / "archive.db"
    result = cli_run("sync", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"no archive at {missing} yet: planning the first sync against an empty archive" in (
        result.stderr)
    assert "never fetched completely: full fetch" in result.stdout
    plan = json.loads(cli_run("sync", "--dry-run", "--json").stdout)
    assert [(i["kind"], i["due"]) for i in plan["items"]] == [("threads", True), ("summaries", True)]
    assert forum.queries == [] and not missing.exists() and not (tmp_path / "db").exists()


def test_overlap_window_picks_up_an_edit_and_a_late_reply(forum, endpoint, cli_run, tmp_path):
    add_thread(forum, "threadA000000001", 2, hours_ago=3)
    write_config(tmp_path, endpoint, threads_body("threadA000000001"), overlap_hours=48)
    assert cli_run("sync").exit_code == 0
    edited = forum.comments[0]
    edited["contents"] = fm.contents("<p>Comment 0, edited after the first sync.</p>")
    edited["lastEditedAt"] = ago(0.5)
    forum.comments.append(fm.comment("latereply0000001", "threadA000000001", BOB,
                                     "<p>A late reply.</p>", ago(0.2), parent=edited["_id"]))
    forum.queries.clear()
    report = json.loads(cli_run("sync", "--json").output)
    check, item, after = report["items"]
    assert after["kind"] == "summaries"
    assert check["key"] == "check:forummagnum" and check["note"] == "1 changed, 0 unchanged"
    assert item["mode"] == "new" and item["updated"] == 1 and item["new"] == 1
    assert any('after: "' in q for q in forum.queries)  # only comments since the cursor
    db = tmp_path / "archive.db"
    assert rows(db, "select item_id, changed from item_versions") == [
        (f"lesswrong:{edited['_id']}", '["body_html", "body_markdown"]')]
    assert rows(db, "select count(*) from comments") == [(3,)]


def test_without_an_overlap_window_an_edit_behind_the_cursor_is_missed(forum, endpoint, cli_run,
                                                                        tmp_path):
    add_thread(forum, "threadA000000001", 1, hours_ago=3)
    write_config(tmp_path, endpoint, threads_body("threadA000000001"), overlap_hours=0)
    cli_run("sync")
    forum.comments[0]["contents"] = fm.contents("<p>Edited.</p>")
    forum.comments.append(fm.comment("latereply0000001", "threadA000000001", BOB,
                                     "<p>A reply: the change check sees it.</p>", ago(0.2)))
    report = json.loads(cli_run("sync", "--json").output)
    assert report["items"][1]["updated"] == 0  # why the default window is 48 hours
    assert rows(tmp_path / "archive.db", "select count(*) from item_versions") == [(0,)]


def test_exit_codes_ok_partial_failed(forum, endpoint, cli_run, tmp_path):
    add_thread(forum, "threadA000000001", 1)
    write_config(tmp_path, endpoint, threads_body("threadA000000001", "missing000000001"))
    result = cli_run("sync")
    assert result.exit_code == 3
    assert "sync partial: " in result.output and ", 1 failed" in result.output
    assert "no post missing000000001" in result.output
    status, error = rows(tmp_path / "archive.db",
                         "select status, error from runs where command = 'sync'")[0]
    assert status == "partial" and "missing000000001" in error

    write_config(tmp_path, endpoint, threads_body("missing000000001"))
    assert cli_run("sync").exit_code == 1
    write_config(tmp_path, endpoint, threads_body("threadA000000001"))
    assert cli_run("sync").exit_code == 0


def test_only_rejects_an_unknown_kind(cli_run, tmp_path):
    result = cli_run("sync", "--only", "podcasts")
    assert result.exit_code == 2 and "--only takes one of" in result.output


def test_verbose_shows_each_request_without_secrets(httpserver, forum, cli_run, tmp_path):
    add_thread(forum, "threadA000000001", 1)
    calls = []

    def flaky(request):
        calls.append(1)
        if len(calls) == 1:
            from werkzeug.wrappers import Response
            return Response("busy", status=503, headers={"Retry-After": "0"})
        return forum.handler(request)

    httpserver.clear()
    httpserver.expect_request("/graphql", method="POST").respond_with_handler(flaky)
    endpoint = httpserver.url_for("/graphql") + "?api_key=SECRETKEY"
    config = write_config(tmp_path, endpoint, threads_body("threadA000000001"))
    config.write_text(config.read_text().replace("retries = 0", 'retries = 2\n'
                      'headers = { "X-Access" = "SECRETHEADER" }'))
    result = cli_run("-v", "sync")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("archiver.kernel.http")]
    base = httpserver.url_for("/graphql")
    assert lines[0].startswith(f"archiver.kernel.http: POST {base} -> 503 (")
    assert lines[0].endswith("attempt 1)")
    assert lines[1].startswith(f"archiver.kernel.http: POST {base} -> 200 (") and "attempt 2" in lines[1]
    assert "SECRET" not in result.output


# -- two processes: the lock, and a sync killed with SIGKILL -------------------------------------


def _archiver(tmp_path: Path, *args: str, **kw) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    return subprocess.Popen(
        [sys.executable, "-m", "archiver", "--db", str(tmp_path / "archive.db"), "--config",
         str(tmp_path / "archiver.toml"), *args],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


HOLD_LOCK = """
import sys, time
from archiver.app.sync import sync_lock
with sync_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_sync_exits_75_and_a_killed_holder_leaves_no_stale_lock(forum, endpoint,
                                                                         cli_run, tmp_path):
    add_thread(forum, "threadA000000001", 1)
    write_config(tmp_path, endpoint, threads_body("threadA000000001"))
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path / "archive.db")],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        blocked = cli_run("sync")
        assert blocked.exit_code == 75
        assert "another sync is already running" in blocked.output
        assert time.monotonic() - started < 5  # at once, not after a wait
        assert forum.queries == []
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (tmp_path / "archive.db.lock").exists()  # the file stays; the kernel dropped the lock
    assert cli_run("sync").exit_code == 0


@pytest.mark.parametrize("kill_at", [2, 5])
def test_a_sync_killed_mid_run_resumes_without_loss_or_duplicates(httpserver, forum, cli_run,
                                                                  tmp_path, kill_at):
    pids = ["threadA000000001", "threadB000000001", "threadC000000001"]
    for n, pid in enumerate(pids):
        add_thread(forum, pid, 3 + n)
    reached, release = threading.Event(), threading.Event()

    def gated(request):
        if len(forum.queries) + 1 == kill_at and not release.is_set():
            reached.set()
            release.wait(20)  # hold the request until the client is dead
        return forum.handler(request)

    httpserver.clear()
    httpserver.expect_request("/graphql", method="POST").respond_with_handler(gated)
    write_config(tmp_path, httpserver.url_for("/graphql"), threads_body(*pids))
    process = _archiver(tmp_path, "sync")
    try:
        assert reached.wait(30), process.stderr.read() if process.poll() is not None else ""
        process.send_signal(signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
    # Two requests per thread (the post, then its comments); request `kill_at` never completed.
    done_before = (kill_at - 1) // 2
    db = tmp_path / "archive.db"
    # Opening the archive after the kill finds the run's process gone: interrupted, not running.
    assert rows(db, "select command, status from runs where command = 'sync'") == [
        ("sync", "interrupted")]

    forum.queries.clear()
    restarted = cli_run("sync", "--json")
    assert restarted.exit_code == 0, restarted.output
    report = json.loads(restarted.output)
    assert report["resumed_from"] is not None
    skipped = [i["key"] for i in report["items"]
               if i["status"] == "skipped" and i["kind"] == "threads"]
    assert skipped == [f"lesswrong:{pid}" for pid in pids[:done_before]]
    for pid in pids[:done_before]:  # continued where it stopped: finished threads not re-asked
        # (only the change check after the threads step reads their counters, for next time)
        assert not any(pid in q for q in forum.queries if not q.startswith("{ p0: post("))
    # Nothing lost, nothing duplicated, no spurious history.
    assert rows(db, "select post_id, count(*), count(distinct source_id) from comments "
                    "group by post_id order by post_id") == [
        (f"lesswrong:{pid}", 3 + n, 3 + n) for n, pid in enumerate(pids)]
    assert rows(db, "select count(*) from posts where stub = 0") == [(3,)]
    assert rows(db, "select count(*) from item_versions") == [(0,)]
    assert rows(db, "select status from runs where command = 'sync' order by id") == [
        ("interrupted",), ("ok",)]
    assert rows(db, "select count(*) from runs where status = 'running'") == [(0,)]


def test_topics_are_defined_first_and_due_summaries_made_after_fetching(forum, endpoint, cli_run,
                                                                        tmp_path):
    add_thread(forum, "threadA000000001", 4)
    for item in forum.comments:
        item["contents"]["html"] = ("<p>Sparse autoencoders shrink activations; gating the "
                                    "sparse autoencoder fixes it. " + item["_id"] + "</p>")
    write_config(tmp_path, endpoint, threads_body("threadA000000001") + (
        '[[watch.topics]]\nname = "SAEs"\nmatch = ["sparse autoencoders?"]\n'))
    report = json.loads(cli_run("sync", "--json").output)
    kinds = [(i["kind"], i["status"]) for i in report["items"]]
    # the change check after the threads step records the thread's signature for the next sync
    assert kinds == [("topics", "ok"), ("threads", "ok"), ("check", "ok"), ("summaries", "ok")]
    db = tmp_path / "archive.db"
    # Membership was assigned as the comments arrived (the after-fetch hook), then summarised.
    assert rows(db, "select count(*) from topic_items ti join topics t on t.id = ti.topic_id "
                    "where t.name = 'SAEs' and ti.item_table = 'comments'") == [(4,)]
    # The user topic and the thread's forum tag both had news: both summarised.
    assert rows(db, "select topic_name from summaries order by 1") == [
        ("SAEs",), ("Sparse Autoencoders",)]
    again = json.loads(cli_run("sync", "--json").output)
    steps = {i["kind"]: i for i in again["items"]}
    assert steps["topics"]["reason"] == "definition unchanged"
    assert steps["summaries"]["note"] == "0 topic summaries remade"
    assert rows(db, "select count(*) from summaries") == [(2,)]  # not due again yet


def test_one_failing_topic_summary_does_not_stop_the_summaries_step(forum, endpoint, cli_run,
                                                                    tmp_path, monkeypatch):
    from archiver.analysis import report as R

    add_thread(forum, "threadA000000001", 4)
    for item in forum.comments:
        item["contents"]["html"] = ("<p>Sparse autoencoders shrink activations; gating the "
                                    "sparse autoencoder fixes it. " + item["_id"] + "</p>")
    write_config(tmp_path, endpoint, threads_body("threadA000000001") + (
        '[[watch.topics]]\nname = "SAEs"\nmatch = ["sparse autoencoders?"]\n'))
    real_chart, broken = R.chart, []

    def chart(points, title):
        if not broken:  # the first topic's report fails, whichever comes first
            broken.append(title)
            raise RuntimeError("the chart broke")
        return real_chart(points, title)

    monkeypatch.setattr(R, "chart", chart)
    result = cli_run("sync", "--json")
    steps = {i["kind"]: i for i in json.loads(result.output)["items"]}
    assert steps["threads"]["status"] == "ok" and steps["summaries"]["status"] == "failed"
    assert steps["summaries"]["error"].startswith(
        f"1 topic report(s) failed ({broken[0]}: RuntimeError: the chart broke); the other 1 "
        "were made")
    made = {"SAEs", "Sparse Autoencoders"} - set(broken)
    assert rows(tmp_path / "archive.db", "select topic_name from summaries") == [(*made,)]
    assert result.exit_code == 3  # partial: a failed step, local or not, is reported as such


FEED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Interpretability notes</title>
  <link href="{base}/"/>
  <id>{base}/</id>
  <updated>2024-05-20T08:00:00Z</updated>
  <entry>
    <title>Three questions for evaluating sparse autoencoders</title>
    <link href="{base}/notes/evaluating"/>
    <id>{base}/notes/evaluating</id>
    <updated>2024-05-20T08:00:00Z</updated>
    <author><name>Mira Okafor</name></author>
    <content type="html">{body}</content>
  </entry>
</feed>"""


def test_researchers_and_feeds_sync_on_their_own_period(httpserver, cli_run, tmp_path):
    from xml.sax.saxutils import escape

    from archiver.app.demo import DATA

    sample = json.loads((DATA / "researcher_openalex.json").read_text())
    httpserver.expect_request("/authors/A9000000001").respond_with_json(sample["author"])
    httpserver.expect_request("/works").respond_with_json(sample["works"])
    base = httpserver.url_for("").rstrip("/")
    body = escape("<p>" + "Sparse autoencoders need careful evaluation at matched sparsity. " * 40
                  + "</p>")
    httpserver.expect_request("/feed.xml").respond_with_data(
        FEED.format(base=base, body=body), content_type="application/atom+xml")
    (tmp_path / "archiver.toml").write_text(
        f'delay = 0\nretries = 0\n[endpoints]\nopenalex = "{base}"\n'
        '[[watch.researchers]]\nid = "A9000000001"\nsource = "openalex"\n'
        f'[[watch.feeds]]\nurl = "{base}/feed.xml"\n')
    first = json.loads(cli_run("sync", "--json").output)
    assert first["status"] == "ok", first
    db = tmp_path / "archive.db"
    assert rows(db, "select name from researchers") == [("Mira Okafor",)]
    assert rows(db, "select count(*) from researcher_metrics") == [(1,)]
    assert rows(db, "select count(*) from papers") == [(3,)]
    assert rows(db, "select title from posts") == [
        ("Three questions for evaluating sparse autoencoders",)]

    again = json.loads(cli_run("sync", "--json").output)
    steps = {i["kind"]: i for i in again["items"]}
    assert steps["researchers"]["status"] == "skipped"  # metrics are monthly by default
    assert "next snapshot after 30 day(s)" in steps["researchers"]["reason"]
    assert steps["feeds"]["status"] == "ok" and steps["feeds"]["new"] == 0  # read every sync
    assert rows(db, "select count(*) from researcher_metrics") == [(1,)]


def test_offline_sync_fails_fast_names_the_cause_and_exits_1(cli_run, tmp_path):
    # No loopback server: every name fails to resolve (the suite resolves none, as offline).
    # The public LessWrong and Hacker News hosts, and an EA Forum endpoint under .invalid.
    lesswrong = [f"lesswrong:offline00000000{i}" for i in range(1, 4)]
    eaforum = [f"eaforum:offlineEA0000000{i}" for i in range(1, 3)]
    threads = "".join(f'[[watch.threads]]\nurl = "{url}"\n' for url in lesswrong + eaforum)
    (tmp_path / "archiver.toml").write_text(
        'delay = 0\nretries = 4\n[endpoints]\neaforum = "http://forum.invalid/graphql"\n'
        + threads + '[[watch.threads]]\nurl = "https://news.ycombinator.com/item?id=1"\n'
        '[[watch.topics]]\nname = "SAEs"\nmatch = ["sparse autoencoder"]\n')
    result = cli_run("sync")
    assert result.exit_code == 1, result.output  # the topics step is no success
    lines = result.output.splitlines()
    assert sum("cannot reach www.lesswrong.com: name not resolved; are you offline?" in line
               for line in lines) == 1
    assert sum("cannot reach forum.invalid: name not resolved" in line for line in lines) == 1
    skipped = [line for line in lines if line.startswith("skipped ") and ": host failing: " in line]
    assert len(skipped) == 3  # 2 LW + 1 EA
    assert skipped[0].endswith("host failing: www.lesswrong.com is not asked again in this run "
                               "(name not resolved)")
    assert "cannot reach hacker-news.firebaseio.com" in result.output  # Algolia, then Firebase
    assert "sync failed: 0 ok, 3 failed, 3 skipped (host failing), 0 not due; " \
           "local steps 2 done; " in result.output  # topics and summaries
    assert "; 4 requests in " in result.output  # one per host, no retries
    assert "Traceback" not in result.output
    status, = rows(tmp_path / "archive.db", "select status from runs where command = 'sync'")[0]
    assert status == "failed"


def test_a_host_failing_mid_run_skips_its_other_items_and_the_run_is_partial(
        httpserver, forum, endpoint, cli_run, tmp_path):
    add_thread(forum, "threadA000000001", 1)
    httpserver.expect_request("/down/graphql").respond_with_response(
        Response_("busy", status=503))
    down = httpserver.url_for("/down/graphql").replace("//localhost:", "//127.0.0.1:")
    (tmp_path / "archiver.toml").write_text(
        f'delay = 0\nretries = 1\n[endpoints]\nlesswrong = "{endpoint}"\neaforum = "{down}"\n'
        + threads_body("threadA000000001")
        + "".join(f'[[watch.threads]]\nurl = "eaforum:downEA00000000{i}"\n' for i in (1, 2, 3)))
    result = cli_run("sync", "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 3
    statuses = [(item["key"], item["status"]) for item in report["items"]
                if item["kind"] == "threads"]
    assert statuses == [("lesswrong:threadA000000001", "ok"), ("eaforum:downEA000000001", "failed"),
                        ("eaforum:downEA000000002", "host_failing"),
                        ("eaforum:downEA000000003", "host_failing")]
    # the thread, then 503 twice, then nothing; then one change check recording the thread's
    # signature (lesswrong's endpoint is fine)
    assert report["requests"] == 2 + 2 + 1


def test_archiver_now_moves_the_sync_clock_and_a_bad_value_is_one_line(
        forum, endpoint, cli_run, tmp_path, monkeypatch):
    add_thread(forum, "threadA000000001", 2, hours_ago=3)
    write_config(tmp_path, endpoint, threads_body("threadA000000001"))
    assert cli_run("sync").exit_code == 0
    plan_now = json.loads(cli_run("sync", "--dry-run", "--json").output)["items"][0]
    assert plan_now["due"] and plan_now["mode"] == "check"  # active: checked every sync
    assert "full re-check on " in plan_now["reason"]
    later = (datetime.now(timezone.utc) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    monkeypatch.setenv("ARCHIVER_NOW", later)
    plan_later = json.loads(cli_run("sync", "--dry-run", "--json").output)["items"][0]
    assert plan_later["mode"] == "full" and "full re-check" in plan_later["reason"]
    monkeypatch.setenv("ARCHIVER_NOW", "next tuesday")
    result = cli_run("sync", "--dry-run")
    assert result.exit_code == 2 and "ARCHIVER_NOW='next tuesday' is not an ISO date" in result.output
    assert "Traceback" not in result.output
