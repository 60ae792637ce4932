"""Benchmarks for topics and summaries on a synthetic archive of 100k comments (10k with quick).

The archive has 50 themed tags (one per theme, 2% of the posts each) plus one tag on every post,
so one topic holds all the comments. Comments are 3-7 sentences mixing a theme's words with common
words, some quoting their parent. It is written with plain INSERTs in a child process, so building
it is neither timed nor counted in the peak memory.

    python scripts/bench_topics.py [--quick]
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

THEMES = 50
COMMENTS_PER_POST = 50
SYLLABLES = ["ka", "lo", "mi", "ra", "te", "su", "ne", "vo", "zi", "pa", "do", "ge", "fu", "bri",
             "sta", "qua", "ven", "tor", "lin", "mar"]


def _words(rng: random.Random, count: int, size: int) -> list[str]:
    seen: set[str] = set()
    while len(seen) < count:
        seen.add("".join(rng.choice(SYLLABLES) for _ in range(size)))
    return sorted(seen)


def build(path: str, comments: int, seed: int = 0) -> None:
    """Write the synthetic archive (core tables only, then the schema's derived tables)."""
    from archiver.store import open_db

    rng = random.Random(seed)
    common = _words(rng, 3000, 3)
    themes = [_words(random.Random(seed + t + 1), 60, 2) for t in range(THEMES)]
    db = open_db(path)
    posts = max(THEMES, comments // COMMENTS_PER_POST)
    conn = db.conn

    def sentence(theme: list[str]) -> str:
        n = rng.randint(8, 20)
        words = [rng.choice(theme) if rng.random() < 0.3 else common[int(rng.paretovariate(1.2)) % 3000]
                 for _ in range(n)]
        return words[0].capitalize() + " " + " ".join(words[1:]) + "."

    with conn:
        conn.execute("INSERT INTO sites (id, name, url, kind) VALUES ('bench', 'Bench', "
                     "'https://bench.example', 'forummagnum')")
        tags = [("bench:all", "bench", "AI Alignment", "all")] + [
            (f"bench:t{t}", "bench", f"Theme {t}", f"t{t}") for t in range(THEMES)]
        conn.executemany("INSERT INTO tags (id, site_id, name, slug) VALUES (?, ?, ?, ?)", tags)
        post_rows, tag_rows, comment_rows = [], [], []
        for p in range(posts):
            theme = p % THEMES
            day = f"2024-{1 + p * 12 // posts:02d}-{1 + p % 28:02d}"
            body = " ".join(sentence(themes[theme]) for _ in range(12))
            post_rows.append((f"bench:p{p}", "bench", f"p{p}", f"https://bench.example/p{p}",
                              f"Post {p} on theme {theme}", f"user{p % 300}", f"{day}T08:00:00Z",
                              rng.randint(0, 200), body, 0, 0, 0))
            tag_rows += [(f"bench:p{p}", "bench:all"), (f"bench:p{p}", f"bench:t{theme}")]
            previous = body
            for c in range(comments // posts):
                text = " ".join(sentence(themes[theme]) for _ in range(rng.randint(3, 7)))
                if rng.random() < 0.2:  # quote a sentence of the parent
                    text = "> " + previous.split(". ")[0] + ".\n\n" + text
                comment_rows.append((f"bench:p{p}c{c}", "bench", f"p{p}c{c}", f"bench:p{p}",
                                     f"https://bench.example/p{p}#c{c}", f"user{rng.randint(0, 2000)}",
                                     f"{day}T{8 + c * 15 // COMMENTS_PER_POST:02d}:{c % 60:02d}:00Z",
                                     rng.randint(-5, 100), text, f"{c:05d}", 0, 0, 0))
                previous = text
        conn.executemany("INSERT INTO posts (id, site_id, source_id, url, title, author, posted_at,"
                         " score, body_text, stub, deleted, missing) VALUES "
                         "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", post_rows)
        conn.executemany("INSERT INTO post_tags (post_id, tag_id) VALUES (?, ?)", tag_rows)
        conn.executemany("INSERT INTO comments (id, site_id, source_id, post_id, url, author, "
                         "posted_at, score, body_text, path, depth, deleted, missing) VALUES "
                         "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", comment_rows)


def _timed(fn):
    """The result, wall seconds and CPU seconds (wall time suffers when the machine is shared)."""
    started, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, (time.perf_counter() - started, time.process_time() - cpu)


def run(quick: bool = False) -> list[dict]:
    """10k comments (quick), or 10k and 100k to show how the cost grows."""
    rows = []
    for comments in ([10_000] if quick else [10_000, 100_000]):
        rows += run_size(comments)
    return rows


def run_size(comments: int) -> list[dict]:
    from archiver.analysis import report, summarize, topics
    from archiver.store import open_db

    size = comments
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "bench.db")
        subprocess.run([sys.executable, __file__, "--build", path, str(comments)], check=True)
        db = open_db(path)
        _, assign = _timed(lambda: topics.refresh(db))
        summary, one = _timed(lambda: summarize.summarize_topic(db, "AI Alignment"))
        charts = _time_charts(report)
        reports, every = _timed(lambda: report.make_reports(db, all_topics=True)[0])
        chart_seconds, chart_count = charts["seconds"], charts["count"]
        with busy_core():  # the same work again (before discover adds its topics to --all)
            _, busy_every = _timed(lambda: report.make_reports(db, all_topics=True)[0])
        found, discover = _timed(lambda: topics.discover(db, k="auto"))
        with busy_core():
            _, busy_discover = _timed(lambda: topics.discover(db, k="auto"))
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert summary.sentences and len(reports) == THEMES + 1 and found
    rows = [
        ("tag topics + membership (refresh)", assign, None),
        ("summarize one topic drawn from all comments", one, 10 if comments >= 100_000 else None),
        (f"summarize --all ({len(reports)} topics, with reports)", every,
         90 if comments >= 100_000 else None),
        (f"topics discover (k=auto -> {len(found)})", discover, 60 if comments >= 100_000 else None),
        ("summarize --all with a busy process on another core", busy_every, None),
        ("topics discover with a busy process on another core", busy_discover, None),
    ]
    out = [{"area": "topics", "what": f"{what} [{cpu:.1f} s CPU]", "size": size,
            "figure": round(wall, 2), "unit": "s", "target": target}
           for what, (wall, cpu), target in rows]
    out += [
        _ratio("  summarize --all busy / quiet (wall)", size, busy_every[0] / every[0], "≤ 1.5"),
        _ratio("  topics discover busy / quiet (wall)", size, busy_discover[0] / discover[0],
               "≤ 1.5"),
        _ratio(f"  share of summarize --all drawing {chart_count} charts "
               f"({chart_seconds:.2f} s)", size, chart_seconds / every[0], "≤ 0.20"),
    ]
    out.append({"area": "topics", "what": "peak RSS of the above", "size": size,
                "figure": round(peak_mb), "unit": "MB", "target": 1536})
    return out


def _ratio(what: str, size: int, figure: float, target: str) -> dict:
    return {"area": "topics", "what": what, "size": size, "figure": round(figure, 2),
            "unit": "x", "target": target}


def _time_charts(report) -> dict:
    """Count and time ``report.chart`` calls from here on."""
    timers = {"seconds": 0.0, "count": 0}
    original = report.chart

    def chart(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            timers["seconds"] += time.perf_counter() - started
            timers["count"] += 1

    report.chart = chart
    return timers


@contextlib.contextmanager
def busy_core():
    """Another process spinning on a core for the duration (what a second job does to us)."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--build":
        build(sys.argv[2], int(sys.argv[3]))
    else:
        for row in run(quick="--quick" in sys.argv):
            print(json.dumps(row))
