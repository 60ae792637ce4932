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
from archiver.analysis import stance
from archiver.analysis.blas import one_blas_thread
from archiver.analysis.period import period_sql
from archiver.analysis.quotes import own_text, strip_signature
from archiver.kernel.errors import NotFound, UsageError
from archiver.kernel.records import now_utc
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
SAME_SOURCE = 0.7  # MMR: relevance kept by a source's sentences for each one already picked
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


# -- what a sentence says (cues tuned for discussions, not news) --------------------------------
# Results and claims: what a reader of a digest wants.
RESULT = re.compile(
    r"\b(?:we (?:find|found|show|showed|shown|demonstrate\w*|observe\w*|estimate\w*|conclude\w*|"
    r"measure\w*|report\w*)|(?:i|they|this|it|results?|data|evidence|analysis|experiments?) "
    r"(?:find|found|show|shows|showed|suggests?|implies|indicates?|demonstrates?)|"
    r"results? (?:is|are|was|were)|turns out|the (?:key|main|central|core) (?:point|result|"
    r"finding|claim|idea)|in short|overall|therefore|which means|this means|outperform\w*|"
    r"reduc\w*|increas\w*|improv\w*|less than|more than|fewer|faster|slower|cheaper|"
    r"compared (?:to|with)|by a factor|moves? from|from \d+ to \d+|median)\b", re.I)
NUMBER = re.compile(r"\d|\b(?:half|twice|double|triple|tenfold|hundred|thousand|million|"
                    r"billion)\b", re.I)
# Setup and framing: how a post starts, not what it found.
SETUP = re.compile(
    r"^(?:in this (?:post|paper|essay|piece|article|newsletter)|this (?:post|essay|piece) "
    r"(?:is|will|tries|aims|describes|explores)|i (?:want|wanted|will|'ll|am going) to|"
    r"we (?:will|'ll)|let me|let's|here(?:,)? (?:i|we)|i've been (?:thinking|wondering)|"
    r"to (?:understand|see|explain) (?:this|these|that|why|how)|(?:the|a) (?:question|"
    r"motivation|background|goal) (?:is|here)|first,|recently,|as (?:many|some) of you|"
    r"(?:imagine|suppose|consider)\b)", re.I)
BOILERPLATE = re.compile(
    r"\b(?:demo data|fictional|cross-?posted|subscribe|unsubscribe|sign up|click here|"
    r"thanks for reading|all rights reserved|originally (?:published|posted)|epistemic status|"
    r"this (?:newsletter|email|issue) (?:is|was)|read more|view (?:this|in) (?:email|browser)|"
    r"sponsored|share this|follow (?:us|me) on|content warning|tl;?dr|regrets|"
    r"apologies for (?:the|my)|sorry for the (?:delay|late)|out of (?:the )?office|wrote:)\b"
    r"|(?:^|\s)>\s", re.I)  # "> " mid-sentence: quoted text flattened into a line
HEDGE = re.compile(r"^(?:i(?:'m| am) not sure|i don'?t know|maybe|perhaps|possibly|it might be|"
                   r"i guess|not sure|hard to say|who knows)\b", re.I)
# Openings that lean on the sentence before: kept only together with it.
ANAPHOR = re.compile(
    r"^(?:they|them|these|those|this|that|it|its|he|she|his|her|such|both|so|thus|hence|also|"
    r"but|and|or|however|therefore|then|there|here|to understand these|as a result|in turn|"
    r"instead|otherwise|similarly|likewise|moreover|furthermore|still|yet)\b(?![-'])", re.I)
# "This paper shows ..." names its subject: the title is shown beside the sentence.
NAMED = re.compile(r"^(?:this|that|the) (?:paper|post|work|article|study|essay|report|"
                   r"preprint|book|talk|result|model|method)\b", re.I)
RESULT_BONUS, NUMBER_BONUS = 0.5, 0.25
SETUP_PENALTY, QUESTION_PENALTY, HEDGE_PENALTY = 0.35, 0.3, 0.5
PAIR_CHARS = 420  # a dangling sentence and its predecessor, shown together, at most this long


def cue_weight(text: str) -> float:
    """How much a sentence reads like a finding or claim (>1) or like setup/filler (<1)."""
    if BOILERPLATE.search(text):
        return 0.0
    weight = 1.0
    if RESULT.search(text):
        weight += RESULT_BONUS
    if NUMBER.search(text):
        weight += NUMBER_BONUS
    if SETUP.match(text):
        weight *= SETUP_PENALTY
    if text.rstrip().endswith("?"):
        weight *= QUESTION_PENALTY
    if HEDGE.match(text):
        weight *= HEDGE_PENALTY
    return weight


def dangling(text: str) -> bool:
    """Does the sentence open with a word that needs the sentence before it?"""
    return bool(ANAPHOR.match(text)) and not NAMED.match(text)


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
    title: str | None = None  # the title of the post it came from (or that it comments on)
    is_post: bool = False  # from the post itself, not a comment

    def as_dict(self) -> dict:
        return {"text": self.text, "source_id": self.source_id, "source_url": self.source_url,
                "author": self.author, "posted_at": self.posted_at, "title": self.title,
                "source_kind": "post" if self.is_post else "comment"}


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
    # A thread: {"opening": {...}, "answers": [...], "objections": [...]} (see thread_structure)
    structure: dict | None = None

    def as_dict(self) -> dict:
        out = {
            "title": self.title, "method": self.method, "topic": self.topic,
            "post_id": self.post_id, "period": {"since": self.since, "until": self.until},
            "items": self.items, "candidates": self.candidates,
            "summary": [u.as_dict() for u in self.sentences],
        }
        if self.abstract:
            out["abstract"] = self.abstract
        if self.structure:
            out["structure"] = self.structure
        return out


# -- the ranking -------------------------------------------------------------------------------


@one_blas_thread
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
    picked = mmr(relevance, similarity, [len(u.text) for u in units], count, max_chars,
                 groups=[u.source_id for u in units])
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
        max_chars: int | None, lam: float | None = None,
        groups: list[str] | None = None) -> list[int]:
    """Maximal marginal relevance with near-duplicate suppression and a character budget.

    With ``groups`` (the source of each sentence), each sentence already taken from a source
    scales the relevance of that source's other sentences by SAME_SOURCE, so a digest quotes
    several sources when several have something to say."""
    lam = LAMBDA if lam is None else lam
    chosen: list[int] = []
    used = 0
    available = np.ones(len(relevance), dtype=bool)
    redundancy = np.zeros(len(relevance))
    relevance = relevance.copy()
    while len(chosen) < count and available.any():
        scores = np.where(available, lam * relevance - (1 - lam) * redundancy, -np.inf)
        best = int(np.argmax(scores))
        available[best] = False
        if max_chars is not None and chosen and used + lengths[best] > max_chars:
            continue  # too long for what is left of the budget; a shorter one may fit
        chosen.append(best)
        used += lengths[best]
        if groups is not None:
            relevance *= np.where([g == groups[best] for g in groups], SAME_SOURCE, 1.0)
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
    return unit.weight * position * brevity * cue_weight(unit.text)


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
    """Candidate sentences of one body (quotes, code, signatures, boilerplate and fragments left
    out), each standing alone: a sentence opening with "They", "So", "These" ... is joined to
    the sentence before it in the same paragraph, or left out when it has none."""
    every = splitter.split(strip_signature(text or ""))
    found = [s for s in every if splitter.is_candidate(s)
             and not (s.words < 12 and PLEASANTRY.match(s.text))
             and not BOILERPLATE.search(s.text)]
    texts = _standalone(found, every)
    if len(texts) > HEAD + TAIL:
        texts = texts[:HEAD] + texts[-TAIL:]
    return [Unit(t, source_id, position=i, **meta) for i, t in enumerate(texts)]


def _standalone(found: list[splitter.Sentence], every: list[splitter.Sentence]) -> list[str]:
    """The candidates' texts; a dangling one is prefixed with its predecessor, or dropped."""
    out: list[str] = []
    for sentence in found:
        if not dangling(sentence.text):
            out.append(sentence.text)
            continue
        before = every[sentence.position - 1] if sentence.position > 0 else None
        if before is None or before.block != sentence.block or dangling(before.text):
            continue
        pair = f"{before.text} {sentence.text}"
        if len(pair) <= PAIR_CHARS:
            if out and out[-1] == before.text:
                out.pop()  # shown inside the pair instead
            out.append(pair)
    return out


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
                   since=since, until=until, items=len(items), candidates=len(units),
                   structure=thread_structure(row, items))


ANSWERS = 5  # replies shown under a thread's question or claim, per side


def thread_structure(post: dict, items: list[dict]) -> dict:
    """Question or claim -> the main answers and objections, each with its speaker and link.

    The opening is the post's title when it asks a question, else the post's best sentence.
    Replies (best received first) are classified by their opening (archiver.analysis.stance):
    disputing ones are objections, the rest answers; each is shown by its best sentence, never a
    quote, a signature, a header or code."""
    body = next((i for i in items if i["table"] == "posts"), None)
    title = post.get("title") or ""
    if title.rstrip().endswith("?"):
        opening = {"kind": "question", "text": title, "author": body and body["author"],
                   "url": body and body["url"]}
    else:
        best = _best_sentence(body)
        opening = best and {"kind": "claim", "text": best, "author": body["author"],
                            "url": body["url"]}
    answers, objections = [], []
    for item in items:
        if item["table"] != "comments" or len(answers) + len(objections) >= 2 * ANSWERS:
            continue
        position = stance.classify(own_text(item["body_text"]))
        best = _question(item) if position == "asks" else _best_sentence(item)
        if not best:
            continue
        entry = {"author": item["author"], "text": best, "url": item["url"],
                 "stance": position, "id": item["id"]}
        side = objections if position == "disputes" else answers
        if len(side) < ANSWERS:
            side.append(entry)
    return {"opening": opening, "answers": answers, "objections": objections}


def _question(item: dict) -> str | None:
    """The question a reply asks (its first sentence ending in "?")."""
    asked = [s.text for s in splitter.candidates(own_text(item["body_text"]))
             if s.text.endswith("?")]
    return asked[0] if asked else _best_sentence(item)


def _best_sentence(item: dict | None) -> str | None:
    if not item:
        return None
    units = units_from_text(item["body_text"] or "", item["id"])
    for i, unit in enumerate(units):
        unit.order = i
    picked = rank(units, 1, max_chars=None)
    return picked[0].text if picked else None


def topics_to_summarize(db: sqlite_utils.Database, since: str | None = None,
                        until: str | None = None, kinds: list[str] | None = None,
                        min_items: int = 3) -> list[dict]:
    """``{"id", "name"}`` of every topic with at least ``min_items`` items in the period, most
    items first: what ``summarize --all`` covers (each is then summarised on its own, so one
    that fails does not stop the others)."""
    from archiver.analysis import topics as topics_mod

    ids = topics_mod.active_topic_ids(db, since, until, kinds, min_items)
    if not ids:
        return []
    names = dict(db.execute(f"SELECT id, name FROM topics WHERE id IN "
                            f"({', '.join('?' for _ in ids)})", ids).fetchall())
    return [{"id": i, "name": names.get(i) or str(i)} for i in ids]


def find_post(db: sqlite_utils.Database, post: str) -> dict:
    """A post by its id ("lesswrong:abc"); other forms (URLs, aliases) are read by
    ``archiver.app.resolve.post_id`` before this."""
    row = db.execute("SELECT id, title, url FROM posts WHERE id = ?", [post]).fetchone()
    if not row:
        raise NotFound(f"no archived post {post!r}; archive it first with `archiver thread URL`")
    return dict(zip(("id", "title", "url"), row))


ITEM_COLUMNS = ("table", "id", "url", "author", "posted_at", "votes", "body_text", "post_id",
                "topic_score", "title", "site_id", "source_id")


def _topic_items(db, topic_id: int, since, until, cap: int) -> list[dict]:
    pwhere, pparams = period_sql("p.posted_at", since, until)
    cwhere, cparams = period_sql("c.posted_at", since, until)
    sql = f"""
        SELECT * FROM (
          SELECT 'posts' AS kind, p.id AS id, p.url, p.author, p.posted_at, p.score AS votes,
                 p.body_text, p.id, ti.score AS topic_score, p.title, p.site_id, p.source_id
          FROM topic_items ti JOIN posts p ON p.id = ti.item_id
          WHERE ti.topic_id = ? AND ti.item_table = 'posts' AND p.stub = 0 {pwhere}
          UNION ALL
          SELECT 'comments', c.id, COALESCE(c.url, p.url), c.author, c.posted_at, c.score,
                 c.body_text, c.post_id, ti.score, p.title, c.site_id,
                 CASE WHEN c.url IS NULL THEN c.source_id END
          FROM topic_items ti JOIN comments c ON c.id = ti.item_id
          LEFT JOIN posts p ON p.id = c.post_id
          WHERE ti.topic_id = ? AND ti.item_table = 'comments' {cwhere}
                ) ORDER BY topic_score DESC, COALESCE(votes, 0) DESC, kind DESC, id LIMIT ?"""
    rows = db.execute(sql, [topic_id, *pparams, topic_id, *cparams, cap]).fetchall()
    return [_with_permalink(dict(zip(ITEM_COLUMNS, r))) for r in rows]


def _with_permalink(item: dict) -> dict:
    """A Reddit comment archived without its permalink gets one built from its post's URL,
    so a citation opens the comment, not the whole thread."""
    if item["table"] == "comments" and item["source_id"]:
        item["url"] = permalink(item["site_id"], item["url"], item["source_id"])
    return item


def permalink(site_id: str | None, post_url: str | None, comment_source_id: str) -> str | None:
    """``post_url`` made into the comment's own link where the site has a known form."""
    if site_id != "reddit" or not post_url:
        return post_url
    match = re.match(r"^(https://(?:www|old)\.reddit\.com(?:/r/\w+)?/comments/\w+)(/[^/?#]+)?",
                     post_url)
    if not match:
        return post_url
    return f"{match.group(1)}{match.group(2) or '/_'}/{comment_source_id}/"


def _thread_items(db, post_id: str, since, until, cap: int) -> list[dict]:
    cwhere, cparams = period_sql("c.posted_at", since, until)
    post = db.execute("SELECT 'posts', id, url, author, posted_at, score, body_text, id, 1.0, "
                      "title, site_id, source_id FROM posts WHERE id = ?", [post_id]).fetchall()
    comments = db.execute(
        f"SELECT 'comments', c.id, COALESCE(c.url, p.url), c.author, c.posted_at, c.score, "
        f"c.body_text, c.post_id, 1.0, p.title, c.site_id, "
        f"CASE WHEN c.url IS NULL THEN c.source_id END FROM comments c "
        f"LEFT JOIN posts p ON p.id = c.post_id "
        f"WHERE c.post_id = ? {cwhere} ORDER BY COALESCE(c.score, 0) DESC, c.path LIMIT ?",
        [post_id, *cparams, cap]).fetchall()
    return [_with_permalink(dict(zip(ITEM_COLUMNS, r))) for r in post + comments]


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
                "posted_at": item["posted_at"], "weight": weight, "title": item["title"],
                "is_post": item["table"] == "posts"}
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
    """Store one report: a new row per topic (or thread) and period; a digest of the same topic
    and period replaces its row, so "the latest summary per topic" is never a throwaway run."""
    ensure_summaries(db)
    row = {
        "title": summary.title, "topic_id": (summary.topic or {}).get("id"),
        "topic_name": (summary.topic or {}).get("name"), "post_id": summary.post_id,
        "period_start": summary.since, "period_end": summary.until,
        "method": summary.method + (f"+llm:{summary.abstract['model']}" if summary.abstract else ""),
        "created_at": now_utc(), "sentences": len(summary.sentences), "markdown": markdown,
        "html": html, "json": json.dumps(data, ensure_ascii=False, default=str),
    }
    same = db.execute(
        "SELECT id FROM summaries WHERE topic_id IS ? AND post_id IS ? AND period_start IS ? "
        "AND period_end IS ? ORDER BY id DESC LIMIT 1",
        [row["topic_id"], row["post_id"], row["period_start"], row["period_end"]]).fetchone()
    try:
        with db.conn:
            if same:
                db.conn.execute(f"UPDATE summaries SET {', '.join(f'{k} = ?' for k in row)} "
                                "WHERE id = ?", [*row.values(), same[0]])
                return same[0]
            cursor = db.conn.execute(
                f"INSERT INTO summaries ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                list(row.values()))
    except sqlite3.IntegrityError as exc:  # pragma: no cover - foreign keys are not enforced
        raise UsageError(f"cannot store the summary: {exc}") from exc
    return cursor.lastrowid

