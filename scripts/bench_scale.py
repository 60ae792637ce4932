"""One big ForumMagnum thread at three sizes: does ingest stay linear, and memory flat?

    python scripts/bench.py --only scale [--quick]

The loopback server runs in its own process (it holds the whole generated thread, which must not
count in archiver's memory or time); the archiver runs in another, which reports its own wall time,
CPU time, peak RSS and the time spent in each analysis hook (topic membership, exchanges,
mentions). Sizes 1k / 10k / 100k comments (1k / 3k / 10k with ``--quick``); the linearity figure
is the last size's time over the middle one's, against the size ratio. Then the batch case: a
10k-comment thread archived once and archived again after 100 / 1,000 / 10,000 new comments
arrived (3k and 30 / 300 / 3,000 with ``--quick``): the analysis of the second run should grow
with the batch, not with the thread.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

POST = "scalepost0000001"
RSS_TARGET_MB = 300  # at 100k comments


def serve(size: int, dump: str | None = None, mixed: bool = False) -> None:
    """Child: serve a thread of ``size`` comments; print the endpoint; stop when stdin closes.
    With ``dump``, the comments are also written there as the API's JSON (a floor's input);
    ``mixed``: bodies like real comments' (fm.mixed_body), not 600 plain characters."""
    import logging

    from pytest_httpserver import HTTPServer

    from tests.fakes import forummagnum as fm

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    forum = fm.FakeForum()
    fm.big_thread(forum, POST, size, body_chars=600, mixed=mixed)
    if dump:
        with open(dump, "w") as out:
            json.dump(forum.comments, out)
    server = HTTPServer(host="127.0.0.1")
    server.expect_request("/graphql").respond_with_handler(forum.handler)
    server.start()
    print(server.url_for("/graphql"), flush=True)
    sys.stdin.read()
    server.stop()


def client(endpoint: str, path: str) -> dict:
    """Child: archive the thread into ``path``; its own figures as one JSON line."""
    started, cpu = time.perf_counter(), time.process_time()
    import archiver.app.ingest as ingest_module
    from archiver.app.forums import archive_thread
    from archiver.kernel.http import Http, HttpSettings
    from archiver.store import open_db

    hooks = _time_hooks(ingest_module)
    db = open_db(path)
    archive_thread(db, Http(HttpSettings(delay=0)), f"lesswrong:{POST}", endpoint=endpoint)
    count = db.execute("SELECT count(*) FROM comments").fetchone()[0]
    return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "comments": count, **hooks}


def _time_hooks(ingest_module) -> dict:
    """Wrap each analysis hook's ``after_fetch`` so its seconds land in the returned dict."""
    import importlib

    timers: dict[str, float] = {}
    for name in ingest_module.ANALYSIS_HOOKS:
        module = importlib.import_module(name)
        key = name.rsplit(".", 1)[-1]
        timers[key] = 0.0
        module.after_fetch = _timed(module.after_fetch, timers, key)
    return timers


def _timed(fn, timers: dict, key: str):
    def wrapped(*args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            timers[key] += time.perf_counter() - started
    return wrapped


class Server:
    """The loopback forum in its own process, for a ``with`` block: ``.endpoint``."""

    def __init__(self, size: int, dump: str | None = None, mixed: bool = False):
        self.command = [sys.executable, __file__, "--serve", str(size), dump or "",
                        *(["--mixed"] if mixed else [])]

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(self.command, cwd=ROOT, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        self.endpoint = self.process.stdout.readline().strip()
        return self

    def __exit__(self, *exc) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def measure(size: int) -> dict:
    with Server(size) as server, tempfile.TemporaryDirectory() as folder:
        result = _client_run(server.endpoint, os.path.join(folder, "scale.db"))
    if result["comments"] != size:
        raise SystemExit(f"scale case {size}: {result['comments']} comments archived")
    return result


def _client_run(endpoint: str, path: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--client", endpoint, path], cwd=ROOT,
                         check=False, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"scale client failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_batches(base: int, batches: list[int]) -> dict[int, dict]:
    """A thread of ``base`` comments archived once; then, on a copy for each batch size, the same
    thread grown by ``batch`` new comments archived again: the analysis hooks of that second run
    should cost in proportion to the batch, not to the thread."""
    import shutil

    results = {}
    with tempfile.TemporaryDirectory() as folder:
        first = os.path.join(folder, "base.db")
        with Server(base) as server:
            _client_run(server.endpoint, first)
        _checkpoint(first)
        for batch in batches:
            copy = os.path.join(folder, f"grown{batch}.db")
            shutil.copy(first, copy)
            with Server(base + batch) as server:
                results[batch] = _client_run(server.endpoint, copy)
            if results[batch]["comments"] != base + batch:
                raise SystemExit(f"batch case {batch}: {results[batch]['comments']} comments")
    return results


def _checkpoint(path: str) -> None:
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def batch_rows(quick: bool) -> list[dict]:
    base, batches = (3000, [30, 300, 3000]) if quick else (10_000, [100, 1000, 10_000])
    rows = []
    for batch, r in measure_batches(base, batches).items():
        rows += [
            _row(f"{batch:,} new comments into a {base:,}-comment thread: whole re-run "
                 f"[{r['cpu']:.1f} s CPU]", batch, r["seconds"], "s"),
            _row("  topic membership / exchanges / mentions of the new batch", batch,
                 r["topics"] + r["exchanges"] + r["mentions"], "s"),
        ]
    return rows


def run(quick: bool = False) -> list[dict]:
    sizes = [1000, 3000, 10_000] if quick else [1000, 10_000, 100_000]
    results = {size: measure(size) for size in sizes}
    rows = []
    for size, r in results.items():
        rows += [
            _row(f"one thread, whole ingest [{r['cpu']:.1f} s CPU]", size, r["seconds"], "s"),
            _row("  topic membership (after_fetch)", size, r["topics"], "s"),
            _row("  exchanges (after_fetch)", size, r["exchanges"], "s"),
            _row("  paper mentions (after_fetch)", size, r["mentions"], "s"),
            _row("  peak RSS of the archiver process", size, r["rss_mb"], "MB",
                 f"≤ {RSS_TARGET_MB}" if size >= 100_000 else ""),
        ]
    middle, last = sizes[1], sizes[2]
    ratio = results[last]["seconds"] / results[middle]["seconds"]
    cpu_ratio = results[last]["cpu"] / results[middle]["cpu"]
    rows.append(_row(f"  time x{last // middle} size: wall ratio (CPU ratio {cpu_ratio:.1f})",
                     last, ratio, "x", f"≤ {1.1 * last / middle:.0f}"))
    return rows + batch_rows(quick)


def _row(what: str, size: int, figure: float, unit: str, target: str = "") -> dict:
    return {"area": "scale", "what": what, "size": size, "figure": round(figure, 3),
            "unit": unit, "target": target}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        dump = sys.argv[3] if sys.argv[3:4] not in ([], [""], ["--mixed"]) else None
        serve(int(sys.argv[2]), dump, mixed="--mixed" in sys.argv)
    elif sys.argv[1:2] == ["--client"]:
        print(json.dumps(client(sys.argv[2], sys.argv[3])))
    else:
        for row in run(quick="--quick" in sys.argv):
            print(json.dumps(row))
