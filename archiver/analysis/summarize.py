"""Extractive, offline summaries of a topic or a thread; every sentence keeps its source.

The method (``METHOD``):

1. Items (posts, comments) of the topic and period are read, best first (topic score, votes), up to
   a cap, so a topic of 100k comments costs the same as one of 2k.
2. Their bodies are split (archiver.analysis.sentences); quoted text, code, headings and fragments
   are dropped: a quote is not its quoter's claim. Exact duplicates (cross-posts) are merged.
3. If there are many sentences, the ones closest to the TF-IDF centroid are kept (linear cost), so
   the quadratic graph step sees at most ``GRAPH_SIZE`` sentences.
4. LexRank: PageRank by power iteration over the graph linking sentences whose TF-IDF cosine is
   above ``LINK``, weighted by a prior that favours the opening sentences of each item (where
   forum writers state their point), sentences that are not fragments, and well-received items.
5. MMR picks sentences by relevance minus redundancy, skipping near-duplicates, within a sentence
   count and a character budget. The picks are returned in reading order.

``--llm MODEL`` adds an abstractive paragraph written by simonw's ``llm`` library from the picked
sentences, citing them as [1], [2], ...; any failure leaves the extractive summary and one warning.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from dataclasses import dataclass, field

import numpy as np
import sqlite_utils

from archiver.analysis import sentences as splitter
from archiver.analysis.period import period_sql
from archiver.errors import NotFound, UsageError
from archiver.records import now_utc
from archiver.store.derived import ensure_summaries

METHOD = "lexrank-mmr"
GRAPH_SIZE = 400  # sentences entering the quadratic LexRank step
ITEM_CAP = 1200  # items read per summary, best first
CHARS_PER_SENTENCE = 250  # the default length budget: sentences x this many characters
HEAD, TAIL = 25, 5  # candidate sentences kept per item: the opening ones and the closing ones
DUPLICATE = 0.6  # cosine above which two sentences say the same thing
LINK = 0.1  # cosine above which two sentences are linked in the LexRank graph
DAMPING = 0.85
LAMBDA = 0.6  # MMR: relevance vs. novelty
# Prior bonus for an item's opening sentences: 1 + WEIGHT * exp(-position / DECAY). Tuned on
# held-apart dev documents (scripts/eval_summaries.py): writers state their point first.
POSITION_WEIGHT = 1.0
POSITION_DECAY = 5.0
SHORT_WORDS = 15  # sentences shorter than this are scaled down by sqrt(words / SHORT_WORDS)
# Courtesies that open many comments and say nothing about the topic.
PLEASANTRY = re.compile(
    r"^(thanks|thank you|great|nice|good|interesting|excellent|awesome|cool|agreed|i agree|"
    r"strong(ly)? upvoted?|upvoted?|\+1|this is (great|good|interesting|a great)|"
    r"well (said|written|put)|edit|update|disclaimer)\b", re.I)


@dataclass
class Unit:
    """One candidate sentence and where it came from."""

    text: str
    source_id: str
    source_url: str | None = None
    author: str | None = None
    posted_at: str | None = None
    position: int = 0  # index among its item's candidate sentences
    weight: float = 1.0  # prior from the item (votes, topic score, post vs comment)
    order: int = 0  # reading order

    def as_dict(self) -> dict:
        return {"text": self.text, "source_id": self.source_id, "source_url": self.source_url,
                "author": self.author, "posted_at": self.posted_at}


@dataclass
class Summary:
    title: str
    sentences: list[Unit]
    method: str = METHOD
    topic: dict | None = None
    post_id: str | None = None
    since: str | None = None
    until: str | None = None
    items: int = 0  # items read
    candidates: int = 0  # sentences considered
    abstract: dict | None = None  # {"model", "text", "citations"} from --llm
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        out = {
            "title": self.title, "method": self.method, "topic": self.topic,
            "post_id": self.post_id, "period": {"since": self.since, "until": self.until},
            "items": self.items, "candidates": self.candidates,
            "summary": [u.as_dict() for u in self.sentences],
        }
        if self.abstract:
            out["abstract"] = self.abstract
        return out


# -- the ranking -------------------------------------------------------------------------------


def rank(units: list[Unit], count: int = 7, max_chars: int | None = 1500,
         graph_size: int = GRAPH_SIZE) -> list[Unit]:
    """Pick up to ``count`` sentences (within ``max_chars``) that best cover ``units``."""
    units = _unique(units)
    if len(units) <= 1:
        return units[:count]
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, dtype=np.float32)
    try:
        matrix = vectorizer.fit_transform([u.text for u in units])
    except ValueError:  # only stop words: nothing to rank on
        return sorted(units[:count], key=lambda u: u.order)
    prior = np.array([_prior(u) for u in units], dtype=np.float64)
    if len(units) > graph_size:
        keep = _preselect(matrix, prior, graph_size)
        units = [units[i] for i in keep]
        matrix, prior = matrix[keep], prior[keep]
    similarity = (matrix @ matrix.T).toarray().astype(np.float64)
    # Erkan & Radev's thresholded graph: weak lexical overlaps are noise, not endorsement.
    relevance = lexrank((similarity > LINK).astype(np.float64)) * prior
    picked = mmr(relevance, similarity, [len(u.text) for u in units], count, max_chars)
    return sorted((units[i] for i in picked), key=lambda u: u.order)


def lexrank(similarity: np.ndarray, damping: float = DAMPING, iterations: int = 200) -> np.ndarray:
    """Stationary distribution of a random walk over the sentence graph (PageRank)."""
    n = similarity.shape[0]
    graph = similarity.copy()
    np.fill_diagonal(graph, 0.0)
    sums = graph.sum(axis=1, keepdims=True)
    # A sentence sharing no word with any other jumps anywhere (a dangling node).
    transition = np.where(sums > 0, graph / np.where(sums > 0, sums, 1.0), 1.0 / n)
    scores = np.full(n, 1.0 / n)
    for _ in range(iterations):
        updated = (1 - damping) / n + damping * (transition.T @ scores)
        if np.abs(updated - scores).sum() < 1e-9:
            scores = updated
            break
        scores = updated
    return scores / scores.max()


def mmr(relevance: np.ndarray, similarity: np.ndarray, lengths: list[int], count: int,
        max_chars: int | None, lam: float | None = None) -> list[int]:
    """Maximal marginal relevance with near-duplicate suppression and a character budget."""
    lam = LAMBDA if lam is None else lam
    chosen: list[int] = []
    used = 0
    available = np.ones(len(relevance), dtype=bool)
    redundancy = np.zeros(len(relevance))
    while len(chosen) < count and available.any():
        scores = np.where(available, lam * relevance - (1 - lam) * redundancy, -np.inf)
        best = int(np.argmax(scores))
        available[best] = False
        if max_chars is not None and chosen and used + lengths[best] > max_chars:
            continue  # too long for what is left of the budget; a shorter one may fit
        chosen.append(best)
        used += lengths[best]
        redundancy = np.maximum(redundancy, similarity[best])
        available &= similarity[best] < DUPLICATE
    return chosen


def _preselect(matrix, prior: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` sentences closest to the centroid (times the prior), in their first order."""
    centroid = np.asarray(matrix.mean(axis=0)).ravel()
    closeness = matrix @ centroid * prior
    keep = np.argsort(-closeness, kind="stable")[:size]
    return np.sort(keep)


def _prior(unit: Unit) -> float:
    position = 1.0 + POSITION_WEIGHT * math.exp(-unit.position / POSITION_DECAY)
    brevity = min(1.0, len(unit.text.split()) / SHORT_WORDS) ** 0.5
    return unit.weight * position * brevity


def _unique(units: list[Unit]) -> list[Unit]:
    """Drop exact repeats (cross-posts, copied text), keeping the first in reading order."""
    seen, out = set(), []
    for unit in sorted(units, key=lambda u: u.order):
        key = re.sub(r"\W+", " ", unit.text.lower()).strip()
        if key and key not in seen:
            seen.add(key)
            out.append(unit)
    return out


def units_from_text(text: str, source_id: str, **meta) -> list[Unit]:
    """Candidate sentences of one body (quotes, code and fragments left out)."""
    found = [s for s in splitter.candidates(text)
             if not (s.words < 12 and PLEASANTRY.match(s.text))]
    if len(found) > HEAD + TAIL:
        found = found[:HEAD] + found[-TAIL:]
    return [Unit(s.text, source_id, position=i, **meta) for i, s in enumerate(found)]


# -- reading the archive -----------------------------------------------------------------------


def summarize_topic(db: sqlite_utils.Database, topic: str | int, since: str | None = None,
                    until: str | None = None, sentences: int = 7, max_chars: int | None = None,
                    item_cap: int = ITEM_CAP) -> Summary:
    """Extractive summary of one topic (an id, or a name/label) over a period."""
    from archiver.analysis import topics as topics_mod

    row = topics_mod.find_topic(db, topic)
    items = _topic_items(db, row["id"], since, until, item_cap)
    units = _units(items)
    picked = rank(units, sentences, max_chars or CHARS_PER_SENTENCE * sentences)
    return Summary(title=row["name"], sentences=picked, topic=_topic_ref(row), since=since,
                   until=until, items=len(items), candidates=len(units))


def summarize_thread(db: sqlite_utils.Database, post: str, since: str | None = None,
                     until: str | None = None, sentences: int = 7, max_chars: int | None = None,
                     item_cap: int = ITEM_CAP * 3) -> Summary:
    """Extractive summary of one thread: the post and its comments."""
    row = find_post(db, post)
    items = _thread_items(db, row["id"], since, until, item_cap)
    units = _units(items)
    picked = rank(units, sentences, max_chars or CHARS_PER_SENTENCE * sentences)
    return Summary(title=row["title"] or row["id"], sentences=picked, post_id=row["id"],
                   since=since, until=until, items=len(items), candidates=len(units))


def summarize_all(db: sqlite_utils.Database, since: str | None = None, until: str | None = None,
                  sentences: int = 7, max_chars: int | None = None, kinds: list[str] | None = None,
                  min_items: int = 3, item_cap: int = ITEM_CAP) -> list[Summary]:
    """A summary for every topic with at least ``min_items`` items in the period."""
    from archiver.analysis import topics as topics_mod

    out = []
    for topic_id in topics_mod.active_topic_ids(db, since, until, kinds, min_items):
        out.append(summarize_topic(db, topic_id, since, until, sentences, max_chars, item_cap))
    return out


def find_post(db: sqlite_utils.Database, post: str) -> dict:
    """A post by id ("lesswrong:abc"), URL, or source id."""
    cursor = db.execute(
        "SELECT id, title, url FROM posts WHERE id = ? OR url = ? OR source_id = ? "
        "ORDER BY (id = ?) DESC LIMIT 2", [post, post.rstrip("/"), post, post])
    rows = [dict(zip(("id", "title", "url"), r)) for r in cursor.fetchall()]
    if not rows:
        raise NotFound(f"no archived post {post!r}; archive it first with `archiver thread URL`")
    return rows[0]


ITEM_COLUMNS = ("table", "id", "url", "author", "posted_at", "votes", "body_text", "post_id",
                "topic_score")


def _topic_items(db, topic_id: int, since, until, cap: int) -> list[dict]:
    pwhere, pparams = period_sql("p.posted_at", since, until)
    cwhere, cparams = period_sql("c.posted_at", since, until)
    sql = f"""
        SELECT * FROM (
          SELECT 'posts' AS kind, p.id AS id, p.url, p.author, p.posted_at, p.score AS votes,
                 p.body_text, p.id, ti.score AS topic_score
          FROM topic_items ti JOIN posts p ON p.id = ti.item_id
          WHERE ti.topic_id = ? AND ti.item_table = 'posts' AND p.stub = 0 {pwhere}
          UNION ALL
          SELECT 'comments', c.id, COALESCE(c.url, p.url), c.author, c.posted_at, c.score,
                 c.body_text, c.post_id, ti.score
          FROM topic_items ti JOIN comments c ON c.id = ti.item_id
          LEFT JOIN posts p ON p.id = c.post_id
          WHERE ti.topic_id = ? AND ti.item_table = 'comments' {cwhere}
                ) ORDER BY topic_score DESC, COALESCE(votes, 0) DESC, kind DESC, id LIMIT ?"""
    rows = db.execute(sql, [topic_id, *pparams, topic_id, *cparams, cap]).fetchall()
    return [dict(zip(ITEM_COLUMNS, r)) for r in rows]


def _thread_items(db, post_id: str, since, until, cap: int) -> list[dict]:
    cwhere, cparams = period_sql("c.posted_at", since, until)
    post = db.execute("SELECT 'posts', id, url, author, posted_at, score, body_text, id, 1.0 "
                      "FROM posts WHERE id = ?", [post_id]).fetchall()
    comments = db.execute(
        f"SELECT 'comments', c.id, COALESCE(c.url, p.url), c.author, c.posted_at, c.score, "
        f"c.body_text, c.post_id, 1.0 FROM comments c LEFT JOIN posts p ON p.id = c.post_id "
        f"WHERE c.post_id = ? {cwhere} ORDER BY COALESCE(c.score, 0) DESC, c.path LIMIT ?",
        [post_id, *cparams, cap]).fetchall()
    return [dict(zip(ITEM_COLUMNS, r)) for r in post + comments]


def _units(items: list[dict]) -> list[Unit]:
    """Candidate sentences of the items, weighted by how well each item was received."""
    top = max((max(i["votes"] or 0, 0) for i in items), default=0)
    units: list[Unit] = []
    # Reading order: by date, then id, so a summary reads like the discussion went.
    for item in sorted(items, key=lambda i: (i["posted_at"] or "", i["id"])):
        weight = (item["topic_score"] or 1.0) * _vote_weight(item["votes"], top)
        if item["table"] == "posts":
            weight *= 1.2  # the post frames the discussion
        meta = {"source_url": item["url"], "author": item["author"],
                "posted_at": item["posted_at"], "weight": weight}
        for unit in units_from_text(item["body_text"] or "", item["id"], **meta):
            unit.order = len(units)
            units.append(unit)
    return units


def _vote_weight(votes: int | None, top: int) -> float:
    if not top or not votes or votes <= 0:
        return 1.0
    return 1.0 + 0.5 * math.log1p(votes) / math.log1p(top)


def _topic_ref(row: dict) -> dict:
    return {"id": row["id"], "kind": row["kind"], "name": row["name"]}


# -- optional abstractive summary with the llm library -----------------------------------------

PROMPT = """Below are sentences extracted from a discussion{about}, numbered, with their authors.
Write a short summary (at most {words} words) of what was said and by whom, using ONLY these
sentences. After each claim, cite the sentence(s) it comes from as [n]. Do not add facts.

{numbered}"""


class LlmUnavailable(Exception):
    """Why the abstractive summary could not be written; shown once as a warning."""


def abstract(summary: Summary, model_name: str, words: int = 150) -> dict:
    """Ask an ``llm`` model for a summary grounded in the extracted sentences; keeps citations."""
    try:
        import llm
    except ImportError as exc:
        raise LlmUnavailable("the llm library is not installed (pip install 'archiver[llm]')") \
            from exc
    try:
        model = llm.get_model(model_name)
    except llm.UnknownModelError as exc:
        raise LlmUnavailable(f"unknown llm model {model_name!r} (see `llm models` for the "
                             "installed ones)") from exc
    numbered = "\n".join(f"[{i}] {u.author or 'anonymous'}: {u.text}"
                         for i, u in enumerate(summary.sentences, 1))
    about = f" about {summary.title!r}" if summary.title else ""
    prompt = PROMPT.format(about=about, words=words, numbered=numbered)
    try:
        text = model.prompt(prompt).text().strip()
    except Exception as exc:  # NeedsKeyException, network and provider errors alike
        raise LlmUnavailable(f"llm model {model_name!r} failed: {exc}") from exc
    cited = sorted({int(n) for n in re.findall(r"\[(\d+)\]", text)
                    if 1 <= int(n) <= len(summary.sentences)})
    return {"model": model_name, "text": text,
            "citations": {str(n): summary.sentences[n - 1].as_dict() for n in cited}}


def add_abstract(summaries: list[Summary], model_name: str | None) -> list[str]:
    """Add ``abstract`` to each summary; on failure stop trying and return ONE warning."""
    if not model_name:
        return []
    for summary in summaries:
        if not summary.sentences:
            continue
        try:
            summary.abstract = abstract(summary, model_name)
        except LlmUnavailable as exc:
            return [f"{exc}; showing the extractive summary only"]
    return []


# -- the summaries table -----------------------------------------------------------------------



def save_summary(db: sqlite_utils.Database, summary: Summary, markdown: str, html: str,
                 data: dict) -> int:
    """Store one report; every run adds a row, so earlier digests stay readable."""
    ensure_summaries(db)
    row = {
        "title": summary.title, "topic_id": (summary.topic or {}).get("id"),
        "topic_name": (summary.topic or {}).get("name"), "post_id": summary.post_id,
        "period_start": summary.since, "period_end": summary.until,
        "method": summary.method + (f"+llm:{summary.abstract['model']}" if summary.abstract else ""),
        "created_at": now_utc(), "sentences": len(summary.sentences), "markdown": markdown,
        "html": html, "json": json.dumps(data, ensure_ascii=False, default=str),
    }
    try:
        with db.conn:
            cursor = db.conn.execute(
                f"INSERT INTO summaries ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                list(row.values()))
    except sqlite3.IntegrityError as exc:  # pragma: no cover - foreign keys are not enforced
        raise UsageError(f"cannot store the summary: {exc}") from exc
    return cursor.lastrowid

