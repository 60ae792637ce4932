"""Thread ingest for Hacker News, Reddit, Discourse and GreaterWrong against loopback fakes.

    python scripts/bench.py --only forums [--quick]

Each case fetches and parses one generated thread of N comments (delay 0, so the figure is this
code's cost, not politeness; the fake server's own time is included), archives it into a fresh
database file (storing and the analysis hooks included), then re-runs it unchanged. Reddit serves 500
comments in the first answer and the rest through ``morechildren`` (100 ids a call); Discourse
20 posts in the topic and the rest 20 at a time; GreaterWrong one HTML page.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_2000 = {"fetch": 1.0, "rerun": 1.0}  # at 2,000 comments
BODY = ("Sparse autoencoders find interpretable features, but shrinkage biases the activations "
        "toward zero; gating separates detection from magnitude. ")


def _hackernews(fake, size: int) -> str:
    fake.story(1, "Bench story", "alice", text="A story.")
    for i in range(size):
        parent = 1 if i % 3 == 0 else 2 + (i // 3) * 3
        fake.comment(2 + i, parent if parent < 2 + i else 1, f"user{i % 50}",
                     f"&gt; {BODY[:60]}<p>{BODY} #{i}" if i % 5 == 0 else f"{BODY} #{i}")
    return "hackernews:1"


def _reddit(fake, size: int) -> str:
    fake.post("bench1", "Bench thread", "alice", selftext="A post.")
    ids = []
    for i in range(size):
        parent = "t3_bench1" if i % 3 == 0 or not ids else f"t1_{ids[(i // 3) % len(ids)]}"
        fake.comment(f"c{i:05d}", parent, f"user{i % 50}", f"{BODY} #{i}")
        ids.append(f"c{i:05d}")
    return "reddit:bench1"


def _discourse(fake, size: int) -> str:
    fake.topic(77, "Bench topic", "alice", "<p>A topic.</p>")
    for i in range(size):
        fake.post(77, f"user{i % 50}", f"<p>{BODY} #{i}</p>", reply_to=1 + i // 2)
    return "https://forum.example.org/t/bench-topic/77"


def _greaterwrong(forum, size: int) -> str:
    from tests.fakes import forummagnum as fm

    fm.big_thread(forum, "benchpost0000001", size, body_chars=300)
    return "lesswrong:benchpost0000001"


def _case(name: str, size: int) -> dict:
    from pytest_httpserver import HTTPServer

    from archiver.app.forums import archive_thread
    from archiver.kernel.http import Http, HttpSettings
    from archiver.sources import registry
    from archiver.store import open_db

    server = HTTPServer(host="127.0.0.1")
    server.start()
    root = server.url_for("/").rstrip("/")
    via = "api"
    if name == "hackernews":
        from tests.fakes.hackernews import FakeHN
        fake = FakeHN()
        url = _hackernews(fake, size)
    elif name == "reddit":
        from tests.fakes.reddit import FakeReddit
        fake = FakeReddit()
        url = _reddit(fake, size)
    elif name == "discourse":
        from tests.fakes.discourse import FakeDiscourse
        fake = FakeDiscourse()
        url = _discourse(fake, size)
    else:
        from tests.fakes.forummagnum import FakeForum
        from tests.fakes.greaterwrong import FakeGreaterWrong
        forum = FakeForum()
        url = _greaterwrong(forum, size)
        fake = FakeGreaterWrong(forum)
        via = "greaterwrong"
    server.expect_request(re.compile(".*")).respond_with_handler(fake.handler)
    try:
        module, ref = registry.resolve_thread(url)
        if via == "greaterwrong":
            module = registry.by_name(module.fallback)
        http = Http(HttpSettings(delay=0))
        started = time.perf_counter()
        pages = list(module.fetch_thread(http, ref, endpoint=root))
        fetch = time.perf_counter() - started
        requests = http.requests_made
        comments = sum(len(p.comments) for p in pages)
        with tempfile.TemporaryDirectory() as folder:
            db = open_db(os.path.join(folder, "bench.db"))
            started = time.perf_counter()
            archive_thread(db, http, url, endpoint=root, via=via)
            first = time.perf_counter() - started
            started = time.perf_counter()
            archive_thread(db, http, url, endpoint=root, via=via)
            second = time.perf_counter() - started
    finally:
        server.stop()
    return {"fetch": fetch, "ingest": first, "rerun": second, "requests": requests,
            "comments": comments}


def run(quick: bool = False) -> list[dict]:
    rows = []
    for name in ("hackernews", "reddit", "discourse", "greaterwrong"):
        for size in ([2000] if quick else [2000, 5000]):
            r = _case(name, size)
            target = size == 2000
            rows += [
                _row(f"{name} fetch + parse (loopback, delay 0)", size, r["fetch"], "s",
                     f"≤ {TARGET_2000['fetch']}" if target else ""),
                _row(f"  {name} requests", size, r["requests"], "req", ""),
                _row(f"{name} thread ingest incl. analysis, fresh db", size, r["ingest"], "s", ""),
                _row(f"  {name} comments per second", size, r["comments"] / r["ingest"], "c/s", ""),
                _row(f"{name} unchanged re-run", size, r["rerun"], "s",
                     f"≤ {TARGET_2000['rerun']}" if target else ""),
            ]
    return rows


def _row(what, size, figure, unit, target) -> dict:
    return {"area": "forums", "what": what, "size": size, "figure": figure, "unit": unit,
            "target": target}


if __name__ == "__main__":
    for row in run("--quick" in sys.argv):
        print(f"{row['what']:45} {row['size']:>6} {row['figure']:>10.3f} {row['unit']:4} {row['target']}")
