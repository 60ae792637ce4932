"""Two syncs and readers at once: WAL mode, the sync lock (the second sync exits 75 at once), and
readers (a plain sqlite3 connection, and Datasette when installed) that never see "database is
locked" nor a half-written page while a sync ingests a large thread."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from archiver.store import open_db
from tests.fakes import forummagnum as fm

POST = "bigthread0000001"
COMMENTS = 3000


def sync_command(folder: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    return {"args": [sys.executable, "-m", "archiver", "--db", str(folder / "archive.db"),
                     "--config", str(folder / "archiver.toml"), "sync"],
            "cwd": folder, "env": env, "text": True}


@pytest.fixture
def watched(httpserver, tmp_path):
    """A watch list with one large thread, served by a fake whose first request can be held."""
    forum = fm.FakeForum()
    fm.big_thread(forum, POST, COMMENTS, body_chars=300)
    held, release = threading.Event(), threading.Event()

    def handler(request):
        if not held.is_set():
            held.set()
            release.wait(30)  # keep the first sync inside its run (holding the lock)
        return forum.handler(request)

    httpserver.expect_request("/graphql", method="POST").respond_with_handler(handler)
    (tmp_path / "archiver.toml").write_text(
        f'delay = 0\nretries = 0\n[endpoints]\nlesswrong = "{httpserver.url_for("/graphql")}"\n'
        f'[[watch.threads]]\nurl = "lesswrong:{POST}"\n')
    open_db(str(tmp_path / "archive.db")).close()  # the schema exists before the readers start
    yield forum, held, release
    release.set()


class Reader(threading.Thread):
    """Queries the archive in a loop through its own connection, recording what it saw."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path, self.stop = path, threading.Event()
        self.counts: list[int] = []
        self.errors: list[str] = []

    def run(self):
        # No busy timeout at all: under a rollback journal any write would fail these reads.
        conn = sqlite3.connect(self.path, timeout=0)
        try:
            while not self.stop.is_set():
                try:
                    self.counts.append(conn.execute("SELECT COUNT(*) FROM comments").fetchone()[0])
                    conn.execute("SELECT COUNT(*) FROM comments_fts WHERE comments_fts "
                                 "MATCH 'shrinkage'").fetchone()
                    conn.execute("SELECT p.title, COUNT(c.id) FROM posts p LEFT JOIN comments c "
                                 "ON c.post_id = p.id GROUP BY p.id").fetchall()
                    conn.execute("SELECT COUNT(*) FROM exchanges").fetchone()
                except sqlite3.OperationalError as exc:
                    self.errors.append(str(exc))
                time.sleep(0.005)
        finally:
            conn.close()


class DatasetteReader(threading.Thread):
    """Datasette's own test client asking for table pages, a search and SQL, in a loop."""

    PATHS = ["/archive/comments.json?_size=5&_sort_desc=posted_at",
             "/archive/comments.json?_search=shrinkage&_size=5",
             "/archive.json?sql=select+count(*)+from+comments",
             "/archive/posts.json?_size=5"]

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path, self.stop = path, threading.Event()
        self.statuses: list[int] = []
        self.errors: list[str] = []

    def run(self):
        from datasette.app import Datasette

        datasette = Datasette([str(self.path)])

        async def loop():
            await datasette.invoke_startup()
            while not self.stop.is_set():
                for path in self.PATHS:
                    response = await datasette.client.get(path)
                    self.statuses.append(response.status_code)
                    if response.status_code != 200 or "locked" in response.text:
                        self.errors.append(f"{path}: {response.status_code} {response.text[:200]}")
                await asyncio.sleep(0.01)

        asyncio.run(loop())


def test_two_syncs_and_readers_at_once(watched, tmp_path):
    forum, held, release = watched
    db = tmp_path / "archive.db"
    readers = [Reader(db)]
    try:
        import datasette  # noqa: F401

        readers.append(DatasetteReader(db))
    except ImportError:
        pass
    for reader in readers:
        reader.start()
    first = subprocess.Popen(**sync_command(tmp_path), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        assert held.wait(30), "the first sync never asked for anything"
        started = time.monotonic()
        second = subprocess.run(**sync_command(tmp_path), capture_output=True, timeout=30)
        assert second.returncode == 75, second.stderr
        assert "another sync is already running" in second.stderr
        assert time.monotonic() - started < 10  # at once, not after waiting for the lock
        assert len(forum.queries) == 0  # the held request is not answered yet; none other came
        release.set()
        out, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
    finally:
        release.set()
        if first.poll() is None:
            first.kill()
            first.wait(10)
        for reader in readers:
            reader.stop.set()
            reader.join(30)

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*) FROM comments").fetchone()[0] == COMMENTS
    plain = readers[0]
    assert plain.errors == []
    # The reads overlapped the writes, and only ever saw whole pages: no comments, or all of them
    # (the thread's comments arrive in one page, written in one transaction).
    assert plain.counts[0] == 0 and plain.counts[-1] == COMMENTS
    assert set(plain.counts) == {0, COMMENTS}
    for reader in readers[1:]:
        assert reader.errors == [] and len(reader.statuses) >= len(reader.PATHS)


def test_a_long_read_does_not_block_a_sync(watched, tmp_path):
    """Datasette (or anyone) holding a read transaction open while a sync writes: the sync
    finishes, and the reader keeps its consistent snapshot until it ends its transaction."""
    _forum, _held, release = watched
    release.set()
    db = tmp_path / "archive.db"
    reader = sqlite3.connect(db, timeout=0, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT COUNT(*) FROM comments").fetchone() == (0,)
    try:
        sync = subprocess.run(**sync_command(tmp_path), capture_output=True, timeout=60)
        assert sync.returncode == 0, sync.stderr
        assert reader.execute("SELECT COUNT(*) FROM comments").fetchone() == (0,)  # snapshot
        reader.execute("COMMIT")
        assert reader.execute("SELECT COUNT(*) FROM comments").fetchone() == (COMMENTS,)
    finally:
        reader.close()
