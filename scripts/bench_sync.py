"""Benchmarks for `archiver demo` and `archiver sync` (run: python scripts/bench_sync.py [--quick]).

- the demo archive, built offline from the shipped samples (target: under 30 s);
- a sync whose watch list holds N quiet threads, nothing due: planning from sync_state must be
  quick and make no request at all ("the least work").
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archiver.config import Config  # noqa: E402
from archiver.http import Http, HttpSettings  # noqa: E402
from archiver.records import Page, Post, Site  # noqa: E402
from archiver.store import open_db, save_page  # noqa: E402
from archiver.store.save import set_state  # noqa: E402
from archiver.sync import run_sync  # noqa: E402


def bench_demo(folder: str) -> dict:
    from archiver.demo import build_demo

    started = time.perf_counter()
    result = build_demo(os.path.join(folder, "demo.db"))
    seconds = time.perf_counter() - started
    size = f"{result.counts.get('posts')} posts, {result.counts.get('comments')} comments"
    return {"area": "demo", "what": "archiver demo: build the offline demo archive + report",
            "size": size, "figure": round(seconds, 2), "unit": "s", "target": "<= 30"}


def quiet_archive(path: str, threads: int) -> Config:
    db = open_db(path)
    site = Site("lesswrong", "LessWrong", "https://www.lesswrong.com", "forummagnum")
    posts = [Post(f"lesswrong:quiet{i:011d}", "lesswrong", f"quiet{i:011d}", title=f"Thread {i}",
                  posted_at="2020-01-01T00:00:00Z", body_html="<p>old</p>") for i in range(threads)]
    save_page(db, Page(sites=[site], posts=posts))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    with db.conn:
        for post in posts:
            set_state(db, "thread_fetched", post.id, now, now)
    db.close()
    return Config(watch={"threads": [{"url": p.id} for p in posts]})


def bench_nothing_due(folder: str, threads: int) -> list[dict]:
    path = os.path.join(folder, "quiet.db")
    config = quiet_archive(path, threads)
    db = open_db(path)
    http = Http(HttpSettings(delay=0, backoff=0))
    started = time.perf_counter()
    report = run_sync(db, path, config, http)
    seconds = time.perf_counter() - started
    db.close()
    size = f"{threads} watched threads, all quiet"
    return [
        {"area": "sync", "what": "sync with nothing due: wall time", "size": size,
         "figure": round(seconds, 3), "unit": "s", "target": "<= 2"},
        {"area": "sync", "what": "sync with nothing due: requests made", "size": size,
         "figure": report.requests, "unit": "requests", "target": "0"},
    ]


def run(quick: bool = False) -> list[dict]:
    with tempfile.TemporaryDirectory() as folder:
        return [bench_demo(folder), *bench_nothing_due(folder, 200 if quick else 2000)]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(f"{row['area']:5} {row['what']:58} {row['size']:34} {row['figure']:>8} "
              f"{row['unit']:9} target {row['target']}")
