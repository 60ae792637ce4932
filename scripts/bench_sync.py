"""Benchmarks for `archiver demo` and `archiver sync` (run: python scripts/bench_sync.py [--quick]).

- the demo archive, built offline from the shipped samples (target: under 30 s);
- a sync of N watched threads on a loopback ForumMagnum with nothing changed: only the batched
  change check (50 threads per request), no thread downloaded;
- the issue's mixed watch list (5 threads on four sites, a tag, a user) with nothing changed, and
  with every request answered 500 (a failing host is asked once per run).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archiver.app.config import Config  # noqa: E402
from archiver.app.sync import run_sync  # noqa: E402
from archiver.kernel.http import Http, HttpSettings  # noqa: E402
from archiver.store import open_db  # noqa: E402


def bench_demo(folder: str) -> dict:
    from archiver.app.demo import build_demo

    started = time.perf_counter()
    result = build_demo(os.path.join(folder, "demo.db"))
    seconds = time.perf_counter() - started
    size = f"{result.counts.get('posts')} posts, {result.counts.get('comments')} comments"
    return {"area": "demo", "what": "archiver demo: build the offline demo archive + report",
            "size": size, "figure": round(seconds, 2), "unit": "s", "target": "<= 30"}


def bench_no_change(folder: str, threads: int) -> list[dict]:
    """N watched ForumMagnum threads on loopback, synced once; then a sync with nothing changed:
    the batched change check is all it may ask (no thread downloaded)."""
    from pytest_httpserver import HTTPServer

    from tests.fakes import forummagnum as fm

    forum = fm.FakeForum()
    author = fm.user("benchauthor00001", "bench", "Bench")
    ids = [f"quiet{i:011d}" for i in range(threads)]
    for pid in ids:
        forum.posts[pid] = fm.post(pid, f"Thread {pid}", author, "<p>old</p>",
                                   posted="2020-01-01T00:00:00.000Z", tags=[])
    server = HTTPServer(host="127.0.0.1")
    server.expect_request("/graphql").respond_with_handler(forum.handler)
    server.start()
    try:
        path = os.path.join(folder, "quiet.db")
        config = Config(delay=0, summaries_per_run=0,
                        endpoints={"lesswrong": server.url_for("/graphql")},
                        watch={"threads": [{"url": f"lesswrong:{pid}"} for pid in ids]})
        db = open_db(path)
        run_sync(db, path, config, Http(HttpSettings(delay=0, backoff=0)))
        forum.queries.clear()
        started = time.perf_counter()
        report = run_sync(db, path, config, Http(HttpSettings(delay=0, backoff=0)))
        seconds = time.perf_counter() - started
        db.close()
    finally:
        server.stop()
    downloads = sum("postCommentsOld" in q for q in forum.queries)
    size = f"{threads} watched threads, none changed"
    return [
        {"area": "sync", "what": "sync with nothing changed: wall time", "size": size,
         "figure": round(seconds, 3), "unit": "s", "target": "<= 2"},
        {"area": "sync", "what": "sync with nothing changed: requests (batched check)",
         "size": size, "figure": report.requests, "unit": "requests",
         "target": f"<= {-(-threads // 50)}"},
        {"area": "sync", "what": "sync with nothing changed: threads downloaded", "size": size,
         "figure": downloads, "unit": "threads", "target": "0"},
    ]


def bench_mixed(folder: str) -> list[dict]:
    """The issue's scenario: 5 threads on four sites, a tag and a user on loopback fakes; a sync
    with nothing changed, then one with every request answered 500 (retries = 2)."""
    from datetime import timedelta
    from pathlib import Path as P

    from pytest_httpserver import HTTPServer

    from tests.test_watching import DAY0, World, build

    rows = []
    for retries, down in ((0, False), (2, True)):
        server = HTTPServer(host="127.0.0.1")
        server.start()
        sub = P(folder) / f"mixed{retries}"
        sub.mkdir()
        try:
            world = World(server, sub, retries=retries)
            build(world)
            world.sync(DAY0)
            world.down = down
            started = time.perf_counter()
            report = world.sync(DAY0 + timedelta(hours=1 if not down else 48))
            seconds = time.perf_counter() - started
            world.db.close()
        finally:
            server.stop()
        size = "5 threads (LW x2, HN, Reddit, Discourse), 1 tag, 1 user"
        if down:
            rows.append({"area": "sync", "what": "every request answered 500 (retries=2): "
                         "requests", "size": size, "figure": report.requests,
                         "unit": "requests", "target": "<= 3 (one host, asked once)"})
        else:
            rows += [{"area": "sync", "what": "sync with nothing changed: requests", "size": size,
                      "figure": report.requests, "unit": "requests", "target": "<= 6"},
                     {"area": "sync", "what": "sync with nothing changed: wall time",
                      "size": size, "figure": round(seconds, 3), "unit": "s", "target": "<= 2"}]
    return rows


def run(quick: bool = False) -> list[dict]:
    with tempfile.TemporaryDirectory() as folder:
        return [bench_demo(folder), *bench_no_change(folder, 200 if quick else 2000),
                *bench_mixed(folder)]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(f"{row['area']:5} {row['what']:58} {row['size']:34} {row['figure']:>8} "
              f"{row['unit']:9} target {row['target']}")
