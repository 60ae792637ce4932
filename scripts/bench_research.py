"""Benchmark: paper-mention detection over many comments (target: 100k comments in <= 10 s).

The archive is synthetic but shaped like forum text: comments of 80-2,000 characters (mean ~600),
a third with typographic quotes (non-ASCII), about 5% with an arXiv link or id, 2% with a DOI,
1% naming one of 2,000 archived paper titles. Timed: ``detect_all`` (read every body, find
identifiers and titles, create stub papers, write the mentions) and the incremental path
(``after_fetch`` for 1,000 changed comments, and for 100 newly archived papers).

    python scripts/bench_research.py [--quick]
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time

from archiver.analysis import mentions
from archiver.kernel.records import Paper
from archiver.store import open_db
from archiver.store.papers import save_papers

WORDS = ("the of and a to in is that model we this for it reward alignment training policy "
         "agent language learning not be are with as interpretability safety data on gradient "
         "evidence argue think claim features sparse circuits probe loss scale compute").split()


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def _titles(rng: random.Random, count: int) -> list[str]:
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9))).title() + f" {n}"
            for n in range(count)]


def _body(rng: random.Random, n: int, titles: list[str]) -> str:
    """One comment; every 100th names one of the 100 titles archived later (see ``run``)."""
    parts = [_sentence(rng, rng.randint(6, 20)) for _ in range(rng.randint(1, 14))]
    if n % 3 == 0:
        parts.insert(0, "“I’d say —” he wrote…")
    if n % 20 == 0:
        arxiv_id = f"{2301 + n % 12:04d}.{n % 99991:05d}"
        parts.append(f"See [the paper](https://arxiv.org/abs/{arxiv_id}v2)")
    if n % 41 == 0:
        old_style = f"hep-th/99{n % 10:02d}{n % 1000:03d}"
        parts.append(f"arXiv:{1801 + n % 12}.{n % 9973:05d} and {old_style}")
    if n % 50 == 0:
        parts.append(f"doi:10.{1000 + n % 9000}/abc.{n}")
    if n % 100 == 7:
        parts.append(f"As “{titles[n % len(titles)]}” shows, yes.")
    if n % 100 == 9:
        parts.append(f"Compare {LATER[n % len(LATER)]}.")
    return " ".join(parts)


LATER = _titles(random.Random(11), 100)  # titles of papers archived after the comments


def _build(path: str, comments: int, papers: int, seed: int = 7):
    rng = random.Random(seed)
    db = open_db(path)
    titles = _titles(rng, papers)
    save_papers(db, [Paper(source="openalex", source_id=f"W{n}", title=t)
                     for n, t in enumerate(titles)])
    with db.conn:
        db.conn.execute("INSERT INTO sites (id, name, url, kind) VALUES ('bench', 'b', 'b', 'x')")
        db.conn.execute("INSERT INTO posts (id, site_id, source_id, title) "
                        "VALUES ('bench:p', 'bench', 'p', 'A thread')")
        db.conn.executemany(
            "INSERT INTO comments (id, site_id, source_id, post_id, body_markdown, body_text) "
            "VALUES (?, 'bench', ?, 'bench:p', ?, ?)",
            ((f"bench:c{n}", f"c{n}", body, body) for n, body in
             ((n, _body(rng, n, titles)) for n in range(comments))))
    return db, titles


def run(quick: bool = False) -> list[dict]:
    """10k comments (quick), or 10k and 100k to show how the cost grows."""
    rows = []
    for comments in ([10_000] if quick else [10_000, 100_000]):
        rows += run_size(comments)
    return rows


def run_size(comments: int) -> list[dict]:
    target = 10.0 * comments / 100_000
    with tempfile.TemporaryDirectory() as folder:
        db, _titles_used = _build(os.path.join(folder, "bench.db"), comments, 2_000)
        chars = db.execute("SELECT SUM(LENGTH(body_markdown)) FROM comments").fetchone()[0]
        started = time.perf_counter()
        found = mentions.detect_all(db)
        full = time.perf_counter() - started

        ids = [r[0] for r in db.execute("SELECT id FROM comments ORDER BY rowid LIMIT 1000")]
        started = time.perf_counter()
        mentions.after_fetch(db, {"comments": ids})
        changed = time.perf_counter() - started

        counts = save_papers(db, [Paper(source="openalex", source_id=f"N{n}", title=t)
                                  for n, t in enumerate(LATER)])
        before = db.execute("SELECT COUNT(*) FROM mentions").fetchone()[0]
        started = time.perf_counter()
        mentions.after_fetch(db, {"papers": counts.changed.get("papers", [])})
        new_papers = time.perf_counter() - started
        later = db.execute("SELECT COUNT(*) FROM mentions").fetchone()[0] - before
        db.close()
    return [
        {"area": "research", "what": f"mention detection, all comments ({found:,} mentions, "
                                     f"{chars / 1e6:.0f} MB of text)",
         "size": comments, "figure": round(full, 2), "unit": "s", "target": round(target, 2)},
        {"area": "research", "what": "mention detection after a fetch, 1,000 changed comments",
         "size": 1000, "figure": round(changed, 3), "unit": "s", "target": 1.0},
        {"area": "research",
         "what": f"title search for 100 newly archived papers (FTS; {later:,} new mentions)",
         "size": comments, "figure": round(new_papers, 3), "unit": "s", "target": 2.0},
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        ok = "ok" if row["figure"] <= row["target"] else "SLOW"
        print(f"{row['what']}: {row['figure']} {row['unit']} (target <= {row['target']}) {ok}")
