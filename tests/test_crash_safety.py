"""Crash safety: `archiver sync` killed with SIGKILL at twenty random points in a row, then one
clean sync, builds the same archive as a single clean sync.

The first test is the slow one of the suite (about 15 s here: twenty-two real subprocesses);
deselect it with ``-m "not slow"``. The second checks the same guarantee in-process, for every
fetching command, by stopping a fetch exactly between saving a page and analysing it.

The kill points are chosen by the sync's progress, never by wall time alone: each run is killed
after the k-th request of that run was answered (k from a seeded RNG, 0 to 3) and before the
(k+1)-th is: the fake server holds request k+1 until the child is dead. Within that window a short
random delay decides the phase (start-up, converting and writing the page, computing exchanges,
mentions and topics, or waiting for the next answer), but not whether the kill lands: every run is
killed, on a fast machine or a loaded one. A thread costs two requests, so a run completes at most
one thread and twenty runs cannot finish the twenty-four.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from archiver.store import open_db
from tests.fakes import forummagnum as fm

THREADS = [f"crash{chr(ord('A') + n)}0000000001" for n in range(24)]  # distinct 6-char prefixes
COMMENTS = {pid: 40 for pid in THREADS} | {THREADS[5]: 600}  # one longer page to write
KILLS = 20
SEED = 20240508

# Columns that legitimately differ between two archives of the same content: when a row was
# seen or computed, and autoincrement ids (compared through their natural keys instead).
VOLATILE = {"first_seen", "last_seen", "profile_fetched_at", "archived_at", "replaced_at",
            "extracted_at", "scanned_at", "assigned_at", "detected_at", "created_at",
            "updated_at"}
TABLES = {  # table -> autoincrement id column left out (None: the primary key is natural)
    "sites": None, "users": None, "posts": None, "comments": None, "tags": None,
    "post_tags": None, "item_versions": "id", "exchanges": "id", "exchange_scans": None,
    "mentions": "id", "papers": None,
}
# Rows keyed by an autoincrement id of another table, joined to that table's natural key.
JOINED = {
    "exchange_turns": "SELECT e.item_id, e.position, t.position, t.speaker, t.speaker_user_id, "
                      "t.text FROM exchange_turns t JOIN exchanges e ON e.id = t.exchange_id",
    "topic_items": "SELECT tp.kind, tp.name, ti.item_table, ti.item_id, ti.score "
                   "FROM topic_items ti JOIN topics tp ON tp.id = ti.topic_id",
    "topics": "SELECT kind, name, label, keywords, match, description FROM topics",
}


class Server:
    """The fake ForumMagnum, counting the requests of the current run; it holds every request
    after the ``hold_after``-th unanswered until :meth:`release`."""

    def __init__(self, forum: fm.FakeForum):
        self.forum = forum
        self.arrived = self.answered = 0
        self.hold_after: int | None = None
        self.holding = 0
        self.started = self.first = 0.0
        self.lock = threading.Condition()

    def handler(self, request):
        with self.lock:
            self.arrived += 1
            if self.arrived == 1:
                self.first = time.monotonic()
            if self.hold_after is not None and self.arrived > self.hold_after:
                self.holding += 1
                self.lock.notify_all()
                while self.hold_after is not None:
                    self.lock.wait()
                self.holding -= 1
                self.lock.notify_all()
        response = self.forum.handler(request)
        with self.lock:
            self.answered += 1
            self.lock.notify_all()
        return response

    def reset(self, hold_after: int | None = None) -> None:
        with self.lock:
            self.arrived = self.answered = 0
            self.hold_after = hold_after
            self.started = time.monotonic()

    def release(self) -> None:
        """Let held requests through (their client is dead) and wait until none is held."""
        with self.lock:
            self.hold_after = None
            self.lock.notify_all()
            self.lock.wait_for(lambda: self.holding == 0, timeout=20)

    @property
    def startup(self) -> float:
        """Seconds from the start of the run to its first request."""
        return self.first - self.started

    def wait_until(self, condition, process: subprocess.Popen, timeout: float = 60) -> bool:
        """True once ``condition()`` holds; False if the process ended first or on timeout."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while not condition():
                if process.poll() is not None or time.monotonic() > deadline:
                    return False
                self.lock.wait(0.01)
        return True


def sync_command(folder: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    return {"args": [sys.executable, "-m", "archiver", "--db", str(folder / "archive.db"),
                     "--config", str(folder / "archiver.toml"), "sync"],
            "cwd": folder, "env": env, "text": True}


def clean_sync(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(**sync_command(folder), capture_output=True, timeout=60)


def make_folder(folder: Path, endpoint: str) -> Path:
    folder.mkdir()
    watch = "".join(f'[[watch.threads]]\nurl = "lesswrong:{pid}"\n' for pid in THREADS)
    (folder / "archiver.toml").write_text(
        f'delay = 0\nretries = 0\n[endpoints]\nlesswrong = "{endpoint}"\n{watch}')
    return folder


def snapshot(db_path: Path) -> dict[str, list[tuple]]:
    """Every archived row, without the columns that only say *when* it was written."""
    db = open_db(str(db_path))
    try:
        out = {}
        for table, skip in TABLES.items():
            if not db[table].exists():
                continue
            columns = [c for c in db[table].columns_dict if c not in VOLATILE and c != skip]
            names = ", ".join(f"[{c}]" for c in columns)
            out[table] = [tuple(r) for r in db.execute(
                f"SELECT {names} FROM [{table}] ORDER BY {names}").fetchall()]
        for name, sql in JOINED.items():
            if db[name].exists():
                out[name] = sorted((tuple(r) for r in db.execute(sql).fetchall()), key=repr)
        return out
    finally:
        db.close()


def count(db_path: Path, sql: str) -> int:
    if not db_path.exists():
        return 0
    db = open_db(str(db_path))
    try:
        return db.execute(sql).fetchone()[0]
    finally:
        db.close()


def kill_somewhere(server: Server, folder: Path, rng: random.Random,
                   startup: float) -> int | None:
    """Start a sync and SIGKILL it between its k-th and (k+1)-th answer; its exit code (None if
    killed, as it always should be)."""
    after = rng.randint(0, 3)
    delay = rng.uniform(0.2, 1.0) * startup if after == 0 else rng.uniform(0.0, 0.04)
    server.reset(hold_after=after)
    process = subprocess.Popen(**sync_command(folder), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        server.wait_until(lambda: server.answered >= after, process)
        # The phase: a short delay, cut short when request k+1 arrives (and is held there).
        server.wait_until(lambda: server.holding > 0, process, timeout=delay)
        process.send_signal(signal.SIGKILL)
        code = process.wait(20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        server.release()
    return None if code == -signal.SIGKILL else code


@pytest.mark.slow
def test_twenty_sigkills_then_one_clean_sync_equal_a_single_clean_sync(httpserver, tmp_path):
    forum = fm.FakeForum()
    for pid in THREADS:
        fm.big_thread(forum, pid, COMMENTS[pid], body_chars=300)
    server = Server(forum)
    httpserver.expect_request("/graphql", method="POST").respond_with_handler(server.handler)
    endpoint = httpserver.url_for("/graphql")

    clean = make_folder(tmp_path / "clean", endpoint)
    server.reset()
    reference = clean_sync(clean)
    startup = server.startup
    assert reference.returncode == 0, reference.stderr
    # a post, then its comments (see the docstring), then one batched change check recording
    # every thread's signature for the next sync
    assert server.answered == 2 * len(THREADS) + 1
    expected = snapshot(clean / "archive.db")
    assert len(expected["comments"]) == sum(COMMENTS.values())
    assert expected["exchanges"], "the fake threads quote their parents"

    crashed = make_folder(tmp_path / "crashed", endpoint)
    db = crashed / "archive.db"
    rng = random.Random(SEED)
    killed, archived = 0, []
    for _ in range(KILLS):
        code = kill_somewhere(server, crashed, rng, startup)
        if code is None:
            killed += 1
        else:
            assert code == 0, f"a sync that finished before its kill exited {code}"
        archived.append(count(db, "SELECT COUNT(*) FROM comments"))
        # Nothing already archived is ever lost, whatever the kill interrupted.
        assert archived == sorted(archived)
    assert killed == KILLS, "every run should have been killed before it could finish"
    assert 0 < archived[len(archived) // 2] and archived[0] < sum(COMMENTS.values()), \
        f"the kills should land while the archive fills up: {archived}"

    final = clean_sync(crashed)
    assert final.returncode == 0, final.stderr
    # Every killed run is recorded as such; none is left looking as if it were still running.
    assert count(db, "SELECT COUNT(*) FROM runs WHERE status = 'running'") == 0
    assert count(db, "SELECT COUNT(*) FROM runs WHERE command = 'sync' "
                     "AND status = 'interrupted'") >= KILLS // 2
    got = snapshot(db)
    assert set(got) == set(expected)
    differences = [difference(t, got[t], expected[t]) for t in expected if got[t] != expected[t]]
    assert not differences, f"after {killed} kills: " + "; ".join(differences)


def difference(table: str, got: list[tuple], expected: list[tuple]) -> str:
    have, want = set(got), set(expected)
    missing = [r for r in expected if r not in have]
    extra = [r for r in got if r not in want]
    return (f"{table}: {len(missing)} rows missing, {len(extra)} unexpected; "
            f"first missing {[r[:3] for r in missing[:3]]}; first unexpected "
            f"{[r[:3] for r in extra[:3]]}")


def test_items_saved_by_a_run_killed_before_analysis_are_analysed_by_the_next(forum, endpoint,
                                                                              http):
    """The window the kills above exposed: pages committed, then the process dies before the
    after-fetch analysis. The re-fetch finds every row unchanged, yet the analysis happens."""
    from archiver.app.forums import archive_thread
    from archiver.sources import resolve_thread
    from archiver.store import save_page

    fm.big_thread(forum, "queuedthread0001", 30, body_chars=200)
    db = open_db(":memory:")
    module, ref = resolve_thread("lesswrong:queuedthread0001")
    for page in module.fetch_thread(http, ref, endpoint=endpoint):
        save_page(db, page)  # saved, and then "killed": no analysis ran
    assert db.execute("SELECT COUNT(*) FROM exchanges").fetchone() == (0,)
    assert db.execute("SELECT COUNT(*) FROM sync_state WHERE kind = 'analysis_pending'"
                      ).fetchone() == (31,)

    counts, _title = archive_thread(db, http, "lesswrong:queuedthread0001", endpoint=endpoint)
    assert counts.new == counts.updated == 0  # nothing changed upstream ...
    assert db.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0] > 0  # ... yet analysed
    assert db.execute("SELECT COUNT(*) FROM topic_items").fetchone()[0] == 31
    assert db.execute("SELECT COUNT(*) FROM sync_state WHERE kind = 'analysis_pending'"
                      ).fetchone() == (0,)
