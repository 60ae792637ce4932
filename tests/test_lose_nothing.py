"""The archive cannot be lost: killed commands are recorded as such, a killed import leaves its
rows queued for analysis, extraction workers die with their parent, and read commands never
create an archive where there is none."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.cli import cli
from archiver.store import open_db, runs

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return CliRunner().invoke(cli, list(args))


def python(code: str, *args: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, cwd=ROOT, **kwargs)


# -- runs of killed processes ------------------------------------------------------------------


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def add_run(db, pid, host, process) -> int:
    with db.conn:
        return db.conn.execute(
            "INSERT INTO runs (started_at, command, target, status, pid, host, process) "
            "VALUES ('2026-01-01T00:00:00Z', 'thread', 'x', 'running', ?, ?, ?)",
            [pid, host, process]).lastrowid


@pytest.mark.skipif(runs.process_identity(os.getpid()) is None, reason="needs Linux /proc")
def test_runs_of_dead_processes_are_marked_interrupted_on_open(tmp_path):
    path = str(tmp_path / "a.db")
    db = open_db(path)
    me, here = os.getpid(), socket.gethostname()
    gone = dead_pid()
    alive = add_run(db, me, here, runs.process_identity(me))
    boot, namespace, started = runs.process_identity(me).split(":")
    killed = add_run(db, gone, here, f"{boot}:{namespace}:12345")
    # Our pid, but another process's identity: the pid was reused after the writer died.
    reused = add_run(db, me, here, f"{boot}:{namespace}:1")
    rebooted = add_run(db, me, here, f"another-boot:{namespace}:{started}")
    # Rows this process cannot judge: another machine, another container, an older archiver.
    elsewhere = add_run(db, gone, "another-machine", "x:y:1")
    container = add_run(db, gone, here, f"{boot}:4026500000:{started}")
    legacy = add_run(db, None, None, None)
    db.close()

    db = open_db(path)
    status = dict(db.execute("SELECT id, status FROM runs").fetchall())
    assert status == {alive: "running", killed: "interrupted", reused: "interrupted",
                      rebooted: "interrupted", elsewhere: "running", container: "running",
                      legacy: "running"}
    row = db.execute("SELECT ended_at, error FROM runs WHERE id = ?", [killed]).fetchone()
    assert row[0] and row[1] == runs.KILLED
    assert runs.process_alive(me, runs.process_identity(me))
    assert not runs.process_alive(gone, None)


def test_a_run_row_records_its_process(tmp_path):
    db = open_db(str(tmp_path / "a.db"))
    run_id = runs.start_run(db, "thread", "x")
    pid, host, process = db.execute("SELECT pid, host, process FROM runs WHERE id = ?",
                                    [run_id]).fetchone()
    assert (pid, host) == (os.getpid(), socket.gethostname())
    assert process == runs.process_identity(os.getpid())


# -- a killed import ---------------------------------------------------------------------------

THREAD = "lesswrong:killedimport01"
SENTENCES = ["Sparse autoencoders split features across layers in surprising ways number {n}.",
             "Dictionary size matters more than the sparsity penalty for comment {n} here."]


def thread_lines(comments: int = 40) -> list[str]:
    """A hand-written thread where every reply quotes its parent (one exchange each)."""
    lines = [{"type": "site", "id": "lesswrong", "name": "LessWrong", "kind": "forummagnum"},
             {"type": "post", "id": THREAD, "site_id": "lesswrong", "title": "Killed import",
              "body_html": "<p>" + SENTENCES[0].format(n="post") + "</p>",
              "posted_at": "2024-05-01T10:00:00Z"}]
    for n in range(comments):
        own = SENTENCES[n % 2].format(n=n)
        body = f"<p>{own}</p>"
        parent = f"lesswrong:c{n - 1:03d}" if n else None
        if parent:
            body = f"<blockquote><p>{SENTENCES[(n - 1) % 2].format(n=n - 1)}</p></blockquote>" + body
        lines.append({"type": "comment", "id": f"lesswrong:c{n:03d}", "site_id": "lesswrong",
                      "post_id": THREAD, "parent_id": parent, "author": f"user{n % 3}",
                      "posted_at": f"2024-05-01T11:{n:02d}:00Z", "body_html": body})
    return [json.dumps(line) for line in lines]


KILLED_IMPORT = """
import os, signal, sys
import archiver.app.ingest as ingest, archiver.app.transfer as pages
from archiver.cli import main
pages.ROWS_PER_PAGE = 10
real, written = ingest.save_page, []
def save_then_die(db, page):
    counts = real(db, page)
    written.append(page)
    if len(written) == 2:  # two pages committed, then killed before any analysis
        os.kill(os.getpid(), signal.SIGKILL)
    return counts
ingest.save_page = save_then_die
sys.argv = ["archiver", "import", sys.argv[1], "--db", sys.argv[2]]
main()
"""


def test_a_killed_import_is_recorded_and_its_rows_are_analysed_later(tmp_path):
    source = tmp_path / "thread.jsonl"
    source.write_text("\n".join(thread_lines()) + "\n", encoding="utf-8")
    clean = str(tmp_path / "clean.db")
    assert run("import", str(source), "--db", clean).exit_code == 0
    expected = open_db(clean).execute("SELECT item_id, source_id, kind FROM exchanges "
                                      "ORDER BY item_id").fetchall()
    assert len(expected) == 39 and {k for _i, _s, k in expected} == {"parent"}

    killed = str(tmp_path / "killed.db")
    child = python(KILLED_IMPORT, str(source), killed)
    assert child.wait(timeout=120) == -signal.SIGKILL
    db = open_db(killed)
    assert db.execute("SELECT COUNT(*) FROM comments").fetchone()[0] == 18  # 2 pages of 10 rows
    assert db.execute("SELECT COUNT(*) FROM exchanges").fetchone() == (0,)
    db.close()

    # The next command, whatever it is, shows the killed run as interrupted, not running.
    stats = json.loads(run("stats", "--json", "--db", killed).output)
    assert [(r["command"], r["status"]) for r in stats["runs"]] == [("import", "interrupted")]
    assert stats["runs"][0]["error"] == runs.KILLED

    # Re-importing finds the 18 rows unchanged, yet they are analysed: they were queued.
    assert run("import", str(source), "--db", killed).exit_code == 0
    got = open_db(killed).execute("SELECT item_id, source_id, kind FROM exchanges "
                                  "ORDER BY item_id").fetchall()
    assert got == expected
    assert open_db(killed).execute("SELECT COUNT(*) FROM sync_state WHERE kind = "
                                   "'analysis_pending'").fetchone() == (0,)


# -- extraction workers ------------------------------------------------------------------------


def children(pid: int) -> set[int]:
    """Live (non-zombie) processes whose parent is ``pid``."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.add(int(entry))
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] not in ("Z", "X")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2,
                    reason="needs Linux /proc and two cores (extraction uses one process else)")
def test_extraction_workers_die_with_a_killed_parent(tmp_path):
    from archiver.analysis import exchanges
    from scripts.bench_exchanges import build

    path = str(tmp_path / "big.db")
    built = build(path, exchanges.PARALLEL_MIN)  # just big enough to use worker processes
    assert built["comments"] >= exchanges.PARALLEL_MIN
    parent = python("from archiver.cli import main; main()", "exchanges", "extract", "--db",
                    path, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and parent.poll() is None and time.monotonic() < deadline:
            workers = children(parent.pid)
            time.sleep(0.005)
        assert len(workers) >= 2, "the extraction should have started its worker processes"
        parent.send_signal(signal.SIGKILL)
        assert parent.wait(timeout=30) == -signal.SIGKILL
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not [pid for pid in workers if alive(pid)], "workers outlived their parent"
    finally:  # nothing outlives the test, even when it fails
        for pid in workers | children(parent.pid):
            if alive(pid) and path in cmdline(pid):  # ours, not a process reusing the pid
                os.kill(pid, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
        parent.wait()


# -- read commands on a missing archive --------------------------------------------------------


@pytest.mark.parametrize("command", [
    ["search", "anything"], ["exchanges"], ["exchanges", "extract"], ["export", "--all"],
    ["stats"], ["summarize", "--all"], ["topics"], ["topics", "discover"],
    ["papers"], ["mentions"],
])
def test_read_commands_on_a_missing_archive_create_nothing(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ARCHIVER_DB", raising=False)
    missing = tmp_path / "nowhere" / "archive.db"
    result = run(*command, "--db", str(missing))
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert lines == [f"error: no archive at {missing}; archive something first (`archiver "
                     "thread URL`, `archiver import FILE`), try `archiver demo`, or pass --db"]
    assert list(tmp_path.iterdir()) == []  # no file, no folder


def test_content_hashes_are_those_archives_already_hold():
    """A re-run compares these hashes with the stored ones: any change in how they are computed
    would rewrite (and version) every row of every archive on its next run."""
    from archiver.kernel.records import Comment, Post, Tag
    from archiver.store.save import _comment_hash, _post_hash

    comment = Comment(id="s:c1", site_id="s", source_id="c1", post_id="s:p1", parent_id="s:c0",
                      user_id="s:u1", author="Zoë", url="https://example.org/p1?commentId=c1",
                      posted_at="2024-01-02T03:04:05Z", score=-3, vote_count=7, af=True,
                      body_html="<p>hi</p>", extra={"k": ["v", 1, None]})
    post = Post(id="s:p1", site_id="s", source_id="p1", url="https://example.org/p1", title="T",
                score=5, tags=[Tag(id="s:t1", site_id="s", name="AI", slug="ai")],
                body_html="<p>x</p>")
    assert _comment_hash(comment) == "d768a0932d87aa2a303d55dd2f1e2c25c45dbd2a"
    assert _post_hash(post) == "d92664a4ef636544dde600372a392766488766b5"


def test_an_unchanged_profile_is_not_converted_again(tmp_path, monkeypatch):
    """The profile's hash is compared before its bio is sanitised and converted: an unchanged
    profile costs no conversion, and a changed one is still written."""
    from archiver.kernel import text
    from archiver.kernel.records import Page, User
    from archiver.store.save import save_page

    def profile(bio: str) -> User:
        return User(id="s:u1", site_id="s", source_id="u1", slug="u", name="U",
                    bio_html=f"<p>{bio}</p>", stub=False)

    db = open_db(tmp_path / "a.db")
    save_page(db, Page(users=[profile("first")]))
    convert = text.convert
    calls = []
    monkeypatch.setattr(text, "convert", lambda *a: calls.append(a) or convert(*a))
    counts = save_page(db, Page(users=[profile("first")]))
    assert calls == [] and counts.as_dict() == {"new": 0, "updated": 0, "unchanged": 0}
    save_page(db, Page(users=[profile("second")]))
    assert len(calls) == 1
    assert db.execute("SELECT bio_text FROM users WHERE id = 's:u1'").fetchone()[0] == "second"
