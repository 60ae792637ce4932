"""Benchmark: quote extraction over a synthetic archive.

    python scripts/bench_exchanges.py [--quick]

Builds threads of random sentences in a temporary SQLite file (100k comments, or 10k with quick),
20% of them quoting: their parent, an ancestor, the post, another branch, another thread, or
nothing in the archive, some with an edited word or an ellipsis. Then times a full extraction
and a re-run with nothing new.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta

WORDS = (
    "model training gradient objective overseer reward policy agent goal deception alignment "
    "corrigible feature circuit layer probe activation sparse dictionary latent residual stream "
    "attention head token loss capability evaluation benchmark debate judge honesty belief "
    "representation mechanism interpretability shrinkage penalty optimizer update parameter "
    "inductive bias simplicity generalization distribution shift robustness adversarial "
    "oversight scalable research agenda experiment result argument claim evidence assumption "
    "pretraining finetuning inference compute scaling law dataset frequency interference "
    "circuitry planning ability situational awareness safety case publication lab regulator "
    "the a of to and in that is for it as with be on not this but by are or have from they "
    "which one we can will would there their what so about if more when some could them other"
).split()


START = datetime(2024, 1, 1)
SYLLABLES = "ka lo mi ne ru ta shi vo pe da gri fen tor al is um ex pro con sta bel".split()


def _vocabulary(size: int = 30000) -> tuple[list[str], list[float]]:
    """Real words for the most frequent ranks, made-up ones after; Zipf weights like prose."""
    rng = random.Random(11)
    made = set()
    while len(made) < size - len(WORDS):
        made.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    vocabulary = WORDS[-40:] + WORDS[:-40] + sorted(made)
    weights, total = [], 0.0
    for rank in range(len(vocabulary)):
        total += 1.0 / (rank + 1)
        weights.append(total)
    return vocabulary, weights


VOCABULARY, CUMULATIVE = _vocabulary()


def _sentence(rng: random.Random) -> str:
    words = rng.choices(VOCABULARY, cum_weights=CUMULATIVE, k=rng.randint(8, 20))
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random, low: int = 3, high: int = 8) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(low, high)))


def _quote_of(rng: random.Random, text: str) -> str:
    sentences = [s for s in text.replace("\n", " ").split(". ") if len(s) > 30]
    quote = rng.choice(sentences).rstrip(".") if sentences else text[:80]
    roll = rng.random()
    if roll < 0.15:  # an edited word
        words = quote.split()
        words[rng.randrange(len(words))] = rng.choice(VOCABULARY[:2000])
        quote = " ".join(words)
    elif roll < 0.25 and len(quote) > 60:  # an ellipsis in the middle
        cut = len(quote) // 3
        quote = quote[:cut] + " ... " + quote[2 * cut:]
    return quote


def build(path: str, comments: int, seed: int = 7) -> dict:
    """Write a synthetic archive to ``path``; returns what was built."""
    from archiver.store import open_db

    rng = random.Random(seed)
    db = open_db(path)
    db.conn.execute("INSERT INTO sites (id, name, url, kind) VALUES ('bench', 'Bench', "
                    "'https://bench.example', 'forummagnum')")
    posts, rows, kinds = [], [], {}
    thread_size = 100
    threads = comments // thread_size
    bodies: dict[str, str] = {}
    for t in range(threads):
        post_id = f"bench:p{t}"
        body = "\n\n".join(_paragraph(rng) for _ in range(rng.randint(4, 12)))
        bodies[post_id] = body
        posts.append((post_id, "bench", f"p{t}", f"https://bench.example/posts/p{t}",
                       f"Post {t}", f"bench:u{t % 500}", f"User {t % 500}",
                       (START + timedelta(hours=t)).strftime("%Y-%m-%dT%H:%M:%SZ"), body.replace("\n\n", "</p><p>"), body,
                       _hash(body)))
        thread: list[tuple[str, str | None]] = []
        for c in range(thread_size):
            cid = f"bench:c{t}_{c}"
            parent = rng.choice(thread)[0] if thread and rng.random() < 0.8 else None
            text = _paragraph(rng, 2, 6)
            html = f"<p>{text}</p>"
            if rng.random() < 0.2:
                kind, source = _pick_source(rng, post_id, parent, thread, bodies)
                kinds[kind] = kinds.get(kind, 0) + 1
                quote = _quote_of(rng, bodies[source]) if source else _sentence(rng)
                html = f"<blockquote><p>{quote}</p></blockquote>{html}"
                text = f"> {quote}\n\n{text}"
            bodies[cid] = text
            stamp = (START + timedelta(hours=t, minutes=c)).strftime("%Y-%m-%dT%H:%M:%SZ")
            rows.append((cid, "bench", cid.split(":")[1], post_id, parent,
                         f"bench:u{rng.randrange(500)}", f"User {rng.randrange(500)}",
                         f"https://bench.example/posts/p{t}?commentId={cid}", stamp, c,
                         f"{c:05d}", html, text, _hash(text)))
            thread.append((cid, parent))
    with db.conn:
        db.conn.executemany(
            "INSERT INTO posts (id, site_id, source_id, url, title, user_id, author, posted_at, "
            "body_html, body_text, content_hash, stub, deleted, missing) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0)", posts)
        db.conn.executemany(
            "INSERT INTO comments (id, site_id, source_id, post_id, parent_id, user_id, author, "
            "url, posted_at, depth, path, body_html, body_text, content_hash, deleted, missing) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0)", rows)
    db.conn.close()
    return {"comments": len(rows), "posts": len(posts), "quoting": sum(kinds.values()),
            "kinds": kinds}


def _pick_source(rng, post_id, parent, thread, bodies):
    roll = rng.random()
    if parent and roll < 0.5:
        return "parent", parent
    if roll < 0.65:
        return "post", post_id
    if roll < 0.8 and len(thread) > 1:
        return "thread", rng.choice(thread)[0]
    if roll < 0.9 and len(bodies) > 200:  # an earlier thread
        return "archive", rng.choice(list(bodies)[:len(bodies) - 200])
    return "external", None


def _hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def run(quick: bool = False) -> list[dict]:
    """10k comments (quick), or 10k and 100k to show how the cost grows."""
    rows = []
    for size in ([10_000] if quick else [10_000, 100_000]):
        rows += run_size(size)
    return rows


def run_size(size: int) -> list[dict]:
    from archiver.analysis import exchanges
    from archiver.store import open_db

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "bench.db")
        built = build(path, size)
        db = open_db(path)
        start = time.perf_counter()
        stats = exchanges.extract(db)
        full = time.perf_counter() - start
        start = time.perf_counter()
        again = exchanges.extract(db)
        rerun = time.perf_counter() - start
        db.conn.close()
    assert again.scanned == 0, "a re-run with nothing new scanned items"
    what = f"{built['comments']} comments, {built['quoting']} quoting -> {stats.exchanges} exchanges"
    return [
        {"area": "exchanges", "what": f"extract: {what}", "size": built["comments"],
         "figure": round(full, 2), "unit": "s", "target": round(20.0 * size / 100_000, 1)},
        {"area": "exchanges", "what": "extract again, nothing new", "size": built["comments"],
         "figure": round(rerun, 3), "unit": "s", "target": 1.0},
    ]


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv):
        print(result)
