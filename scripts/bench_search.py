"""Full-text search latency and database size at 100k and 1M comments.

Builds a synthetic archive (Zipf-distributed vocabulary, forum-length bodies) with the real schema
and FTS triggers, then times 100 searches through ``archiver.store.search.search``.
Run alone: ``python scripts/bench.py --only search`` (``--quick`` stops at 100k).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.bench import checkpointed_size  # noqa: E402

WORDS = ("sparse autoencoder feature shrinkage gated activation dictionary interpretability "
         "circuit superposition neuron probe steering vector residual stream attention head "
         "transformer alignment reward model deception scheming evaluation benchmark scaling law "
         "gradient descent loss landscape grokking memorization generalization mesa optimizer "
         "corrigibility oversight debate amplification elicitation latent knowledge honesty "
         "sycophancy jailbreak refusal fine tuning pretraining tokenizer embedding logit lens "
         "causal tracing ablation patching faithfulness chain thought monitor control").split()


FILLER = ("the of and to a in is that it for on as with be this are not but or have by from at "
          "we an they can if would more so about which their will there what one do all think "
          "some also just like than other these only because how could when then into them "
          "its our may most much even such very does did been any those should where why who "
          "make need way see time well really things thing sure point work case example").split()


def _vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    """Function words first (most frequent), topic words at ranks ~100-170, then a long tail:
    a topic word appears in a few percent of comments, as on a real forum."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    tail = {"".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(size)}
    topic = list(WORDS)
    rng.shuffle(topic)
    return FILLER + topic + sorted(tail)


def build(path: str, comments: int, seed: int = 7) -> float:
    """Write ``comments`` comments (and 1 post per 100) with FTS; returns seconds taken."""
    from archiver.store import open_db

    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    cumulative, total = [], 0.0
    for rank in range(len(vocab)):
        total += 1 / (rank + 1)
        cumulative.append(total)
    db = open_db(path)
    started = time.perf_counter()
    batch = 20_000
    for start in range(0, comments, batch):
        rows = []
        for i in range(start, min(comments, start + batch)):
            words = rng.choices(vocab, cum_weights=cumulative, k=rng.randint(20, 80))
            text = " ".join(words)
            rows.append((f"bench:c{i}", "bench", f"c{i}", f"bench:p{i // 100}", "someone",
                         f"2024-01-01T00:00:{i % 60:02d}Z", text, f"<p>{text}</p>", text,
                         f"{i:012d}", 0, 0, 0))
        with db.conn:
            db.conn.executemany(
                "INSERT INTO comments (id, site_id, source_id, post_id, author, posted_at, "
                "body_text, body_html, body_markdown, path, depth, deleted, missing) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    seconds = time.perf_counter() - started
    db.conn.close()
    return seconds


def time_queries(path: str, n: int = 100, seed: int = 11) -> tuple[float, float]:
    from archiver.store import open_db
    from archiver.store.search import search

    rng = random.Random(seed)
    db = open_db(path)
    queries = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.5:
            queries.append(" ".join(rng.sample(WORDS, 2)))
        elif kind < 0.8:
            queries.append(f'"{" ".join(rng.sample(WORDS, 2))}"')
        else:
            queries.append(rng.choice(WORDS))
    timings = []
    for query in queries:
        started = time.perf_counter()
        search(db, query, limit=20)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(0.95 * len(timings)) - 1]


def run(quick: bool = False) -> list[dict]:
    rows = []
    for size in ([100_000] if quick else [100_000, 1_000_000]):
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "search.db")
            build_seconds = build(path, size)
            median, p95 = time_queries(path)
            kb = checkpointed_size(path) / 1024
            rows += [
                _row("search latency, median of 100 queries", size, median, "ms", ""),
                _row("search latency, p95 of 100 queries", size, p95, "ms",
                     "≤ 50" if size == 1_000_000 else ""),
                _row("bulk write with FTS (comments/s)", size, size / build_seconds, "c/s", ""),
                _row("database size per 1k comments", size, kb / (size / 1000), "KB", ""),
            ]
    return rows


def _row(what, size, figure, unit, target) -> dict:
    return {"area": "search", "what": what, "size": size, "figure": figure, "unit": unit,
            "target": target}


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
