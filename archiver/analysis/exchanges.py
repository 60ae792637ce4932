"""Quoted exchanges: who quoted whom, what exactly, and what they answered.

One ``exchanges`` row per quote found in a comment or post (see ``archiver.analysis.quotes``), with
the quoted text, the reply after it, and the resolved source: the comment or post the words came
from, the character span in that source's ``body_text``, its author, and a ``kind``:

- ``parent``, ``ancestor``, ``post``, ``thread`` (another comment of the same thread), ``archive``
  (an item elsewhere in the archive);
- ``external`` (a transcript, a paper, a page outside the archive) and ``unresolved`` (no source
  found, e.g. the quoted comment was deleted before it was archived).

Sources are searched in that order and the first confident match wins: the quote's fragments found
verbatim (after normalisation) in the parent, the ancestors, the post, the rest of the thread; then
fuzzy alignment in the same order; then the archive, verbatim and fuzzy, through the FTS index (so
only a handful of candidates are ever aligned); then the parent, ancestors and post as they read
before an edit (``item_versions``). Sources are matched on their own words (quoted lines left
out), so a reply that re-quotes a passage is not taken for its source. Short quotes ("Why?") are
only taken verbatim from the parent or an ancestor (the post, for a top-level comment). Discourse
quotes name their source (``data-topic``, ``data-post``) and are resolved by it.

Extraction is incremental: ``exchange_scans`` remembers the content hash of every item scanned, and
``after_fetch`` re-extracts only new or changed items, plus the quotes whose source changed and the
unresolved ones in threads that gained items. Large extractions use several processes.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import re
import signal
import sys
import threading
from collections import OrderedDict, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import sqlite_utils

from archiver.analysis import quotes as Q
from archiver.analysis.choices import EXCHANGE_KINDS
from archiver.kernel.errors import NotFound, UsageError
from archiver.kernel.records import now_utc
from archiver.store.derived import EXCHANGE_COLUMNS

KINDS = EXCHANGE_KINDS
# Chosen on tests/data/exchanges_labelled.jsonl (scripts/eval_exchanges.py): genuine quotes with
# small edits score 91-99, the best wrong candidate 79 (a 28-character fragment). Short fragments
# reach high partial scores by chance, so the bar rises for quotes under FUZZY_SHORT characters.
FUZZY_MIN = 88.0
FUZZY_SHORT = 60
# A quote must have this many characters of fragments to be looked up archive-wide.
ARCHIVE_MIN_CHARS = 40
ARCHIVE_CANDIDATES = 50
ARCHIVE_CACHE = 2000
CHUNK = 2000
# Extractions of this many items or more use several processes (start-up costs about a second).
PARALLEL_MIN = 20_000
MAX_WORKERS = 4
THREAD_CACHE = 16

# -- items and threads -------------------------------------------------------------------------

ITEM_SQL = {
    "comments": "SELECT id, post_id, site_id, parent_id, user_id, author, posted_at, edited_at, "
                "body_text, deleted, extra FROM comments",
    "posts": "SELECT id, id, site_id, NULL, user_id, author, posted_at, edited_at, body_text, "
             "deleted, extra FROM posts",
}


@dataclass(eq=False)
class Item:
    id: str
    table: str
    post_id: str
    site_id: str | None
    parent_id: str | None
    user_id: str | None
    author: str | None
    posted_at: str | None
    edited_at: str | None
    body_text: str | None
    deleted: int
    extra: str | None
    _norm: str | None = field(default=None, repr=False)
    _words: set | None = field(default=None, repr=False)
    _map: tuple | None = field(default=None, repr=False)

    @classmethod
    def from_row(cls, table: str, row) -> Item:
        return cls(row[0], table, *row[1:11])

    def norm(self) -> str:
        if self._norm is None:
            self._norm = Q.normalize(Q.own_text(self.body_text))
        return self._norm

    def words(self) -> set:
        if self._words is None:
            self._words = Q.words(self.norm())
        return self._words

    def span(self, match: Q.Match) -> tuple[int | None, int | None]:
        """Map a match in ``norm()`` back to character offsets in ``body_text``."""
        if self._map is None:
            self._map = Q.normalize_map(Q.own_text(self.body_text))
        norm, offsets = self._map
        if norm != self.norm() or not offsets or match.end <= match.start:
            return None, None
        return offsets[match.start], offsets[min(match.end, len(offsets)) - 1] + 1

    def post_number(self) -> int | None:
        """Discourse's number of a post within its topic, kept in ``extra``."""
        try:
            extra = json.loads(self.extra) if self.extra else {}
        except ValueError:
            return None
        value = extra.get("post_number") or (extra.get("discourse") or {}).get("post_number")
        return int(value) if str(value or "").isdigit() else None


class Thread:
    """A post and all its comments, loaded once for every quote in the thread."""

    def __init__(self, db: sqlite_utils.Database, post_id: str):
        self.post_id = post_id
        row = db.execute(ITEM_SQL["posts"] + " WHERE id = ?", [post_id]).fetchone()
        self.post = Item.from_row("posts", row) if row else None
        rows = db.execute(ITEM_SQL["comments"] + " WHERE post_id = ?", [post_id]).fetchall()
        self.comments = {row[0]: Item.from_row("comments", row) for row in rows}
        self.by_date = sorted(self.comments.values(), key=lambda c: (c.posted_at or "", c.id))
        self._index: dict[str, list[int]] | None = None

    def containing(self, frags: list[str]) -> list[Item]:
        """Comments (by date) that may hold the quote: those containing the rarest word (in this
        thread) of each half of the quote. With a word edited in the quote, the other half
        still finds the source; only the comments found are normalised and aligned."""
        if self._index is None:
            index: dict[str, list[int]] = defaultdict(list)
            for position, comment in enumerate(self.by_date):
                for word in set(_PLAIN_WORD.findall((comment.body_text or "").lower())):
                    index[word].append(position)
            self._index = index
        words = _PLAIN_WORD.findall(" ".join(frags))
        if not words:
            return self.by_date
        half = max(1, len(words) // 2)
        hits: set[int] = set()
        for part in (words[:half], words[half:]):
            present = [self._index[w] for w in part if w in self._index]
            if present:
                hits.update(min(present, key=len))
        return [self.by_date[i] for i in sorted(hits)]

    def ancestors(self, item: Item) -> list[Item]:
        """Parent first, then its parent, up to the top-level comment."""
        chain, seen = [], {item.id}
        parent_id = item.parent_id
        while parent_id and parent_id not in seen:
            seen.add(parent_id)
            parent = self.comments.get(parent_id)
            if parent is None:
                break
            chain.append(parent)
            parent_id = parent.parent_id
        return chain

    def participants(self) -> set[str]:
        names = {(c.author or "").lower() for c in self.comments.values()}
        if self.post is not None:
            names.add((self.post.author or "").lower())
        return names - {""}


class _Lazy:
    """A list computed on first iteration (and kept for the next one)."""

    def __init__(self, make):
        self.make = make
        self.items: list | None = None

    def __iter__(self):
        if self.items is None:
            self.items = self.make()
        return iter(self.items)


@dataclass
class Resolution:
    kind: str
    source: Item | None = None
    score: float | None = None
    start: int | None = None
    end: int | None = None
    source_author: str | None = None


# -- resolving one quote -----------------------------------------------------------------------


class Resolver:
    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self.threads: OrderedDict[str, Thread] = OrderedDict()
        # Items found through the FTS index, kept with their normalised text: the same popular
        # posts come up for many quotes.
        self.archive: OrderedDict[tuple[str, str], Item] = OrderedDict()

    def thread(self, post_id: str) -> Thread:
        if post_id in self.threads:
            self.threads.move_to_end(post_id)
            return self.threads[post_id]
        thread = Thread(self.db, post_id)
        self.threads[post_id] = thread
        if len(self.threads) > THREAD_CACHE:
            self.threads.popitem(last=False)
        return thread

    def resolve(self, item: Item, quote: Q.Quote) -> Resolution:
        thread = self.thread(item.post_id)
        if quote.dialogue:
            speakers = list(dict.fromkeys(t.speaker for t in quote.turns))
            return Resolution("post", item, 100.0, None, None, ", ".join(speakers))
        frags = Q.fragments(quote.match_text)
        if not frags:
            return self._unmatched(item, quote, thread, frags)
        if quote.discourse:
            found = self._by_discourse(item, quote, thread, frags)
            if found is not None:
                return found
        if quote.cite:
            found = self._by_cite(item, quote.cite, thread, frags)
            if found is not None:
                return found
        short = Q.is_short(frags)
        stages = self._stages(item, thread, frags, short)
        found = self._search(stages, frags, short, exact=True)
        if found is None and not short:
            found = self._search(stages, frags, short, exact=False)
            if found is None:  # the archive last: verbatim, then fuzzy
                archive = [("archive", self._archive_candidates(item, thread, frags))]
                found = self._search(archive, frags, short, exact=True) \
                    or self._search(archive, frags, short, exact=False)
        return found or self._earlier_version(item, thread, frags, short) \
            or self._unmatched(item, quote, thread, frags)

    def _search(self, stages, frags: list[str], short: bool, exact: bool) -> Resolution | None:
        """The first stage with a match; within a stage the first verbatim or the best fuzzy."""
        cutoff = fuzzy_cutoff(frags)
        frag_words = Q.words(" ".join(frags))
        for kind, candidates in stages:
            best = None
            for candidate in candidates:
                if exact:
                    match = Q.find_exact(frags, candidate.norm(), whole_words=short)
                    if match:
                        return self._resolved(kind, candidate, match)
                    continue
                match = Q.find_fuzzy(frags, candidate.norm(), cutoff, candidate.words(), frag_words)
                if match and (best is None or match.score > best[1].score):
                    best = (candidate, match)
            if best:
                return self._resolved(kind, *best)
        return None

    def _stages(self, item: Item, thread: Thread, frags: list[str], short: bool
                ) -> list[tuple[str, list[Item]]]:
        if item.table == "posts":
            return []
        chain = thread.ancestors(item)
        post = [thread.post] if thread.post is not None and thread.post.body_text else []
        stages = [("parent", chain[:1]), ("ancestor", chain[1:])]
        if short:
            # A short quote in a top-level comment can only mean the post it answers.
            return stages if item.parent_id else [("post", post)]
        near = {c.id for c in chain} | {item.id}
        latest = item.edited_at or item.posted_at

        def rest() -> list[Item]:
            return [c for c in thread.containing(frags) if c.id not in near and c.body_text
                    and not _later(c.posted_at, latest)]

        # The rest of the thread is only gathered if the nearer stages have no match.
        return stages + [("post", post), ("thread", _Lazy(rest))]

    def _archive_candidates(self, item: Item, thread: Thread, frags: list[str]) -> list[Item]:
        if sum(len(f) for f in frags) < ARCHIVE_MIN_CHARS:
            return []
        query = _fts_query(frags)
        if not query:
            return []
        latest = item.edited_at or item.posted_at
        found: list[Item] = []
        for table in ("comments", "posts"):
            # No ORDER BY rank: ranking scores every match, and the words are chosen to match few.
            rowids = [r[0] for r in self.db.execute(
                f"SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH ? LIMIT ?",
                [query, ARCHIVE_CANDIDATES])]
            if not rowids:
                continue
            for candidate in self._archive_items(table, rowids):
                if candidate.post_id == thread.post_id or candidate.id == item.id:
                    continue
                if candidate.body_text and not _later(candidate.posted_at, latest):
                    found.append(candidate)
        found.sort(key=lambda c: (c.posted_at or "", c.id))
        return found

    def _earlier_version(self, item: Item, thread: Thread, frags: list[str], short: bool
                         ) -> Resolution | None:
        """The parent, an ancestor or the post as it read before an edit (``item_versions``)."""
        if item.table != "comments":
            return None
        near = thread.ancestors(item) + ([thread.post] if thread.post is not None else [])
        by_id = {c.id: c for c in near}
        if not by_id:
            return None
        marks = ", ".join("?" for _ in by_id)
        rows = self.db.execute(
            f"SELECT item_id, body_text FROM item_versions WHERE item_id IN ({marks}) "
            "AND body_text IS NOT NULL ORDER BY version DESC", list(by_id)).fetchall()
        for item_id, body in rows:
            norm = Q.normalize(Q.own_text(body))
            match = Q.find_exact(frags, norm, whole_words=short)
            if match is None and not short:
                match = Q.find_fuzzy(frags, norm, fuzzy_cutoff(frags))
            if match:
                source = by_id[item_id]
                # The span would point into the old text, not into the current body_text.
                return Resolution(self._relation(item, source, thread), source,
                                  round(match.score, 1), None, None, source.author)
        return None

    def _archive_items(self, table: str, rowids: list[int]) -> list[Item]:
        missing = [r for r in rowids if (table, r) not in self.archive]
        if missing:
            marks = ", ".join("?" for _ in missing)
            sql = ITEM_SQL[table].replace(" FROM ", ", rowid FROM ", 1)
            for row in self.db.execute(sql + f" WHERE rowid IN ({marks})", missing):
                self.archive[(table, row[11])] = Item.from_row(table, row[:11])
        items = []
        for rowid in rowids:
            item = self.archive.get((table, rowid))
            if item is not None:
                self.archive.move_to_end((table, rowid))
                items.append(item)
        while len(self.archive) > ARCHIVE_CACHE:
            self.archive.popitem(last=False)
        return items

    def _by_discourse(self, item: Item, quote: Q.Quote, thread: Thread, frags: list[str]
                      ) -> Resolution | None:
        """Discourse names the quoted post: ``data-topic`` and its number ``data-post``."""
        hint = quote.discourse or {}
        number = int(hint["post"]) if str(hint.get("post", "")).isdigit() else None
        topic = hint.get("topic")
        target = thread
        if topic and thread.post_id.rsplit(":", 1)[-1] != topic and item.site_id:
            target = self.thread(f"{item.site_id}:{topic}")
        source = None
        if number == 1:
            source = target.post
        elif number is not None:
            source = next((c for c in target.by_date if c.post_number() == number), None)
        if source is None:
            return None
        match = Q.find_exact(frags, source.norm()) or Q.find_fuzzy(frags, source.norm(), 0.0)
        kind = self._relation(item, source, thread)
        if match is None:  # the forum's own markup names the source; the text may be edited
            return Resolution(kind, source, None, None, None, source.author)
        return self._resolved(kind, source, match)

    def _by_cite(self, item: Item, url: str, thread: Thread, frags: list[str]
                 ) -> Resolution | None:
        """A quote naming its source's URL (``<blockquote cite>``, a link introducing it) is
        taken from the archived post or comment at that URL, if the quoted words are in it:
        short quotes and quotes in posts (no thread to search) resolve exactly too."""
        query = _fts_query(frags)
        if not query:
            return None
        short = Q.is_short(frags)
        for table in ("comments", "posts"):
            # The quote's words narrow the rows through the FTS index; the URL picks among them.
            rowids = [r[0] for r in self.db.execute(
                f"SELECT t.rowid FROM {table}_fts JOIN {table} t ON t.rowid = {table}_fts.rowid "
                f"WHERE {table}_fts MATCH ? AND t.url = ? LIMIT 5", [query, url])]
            for source in self._archive_items(table, rowids):
                if source.id == item.id:
                    continue
                match = Q.find_exact(frags, source.norm(), whole_words=short)
                if match is None and not short:
                    match = Q.find_fuzzy(frags, source.norm(), fuzzy_cutoff(frags))
                if match:
                    return self._resolved(self._relation(item, source, thread), source, match)
        return None

    def _relation(self, item: Item, source: Item, thread: Thread) -> str:
        if source.table == "posts" and source.id == item.post_id:
            return "post"
        chain = thread.ancestors(item)
        if chain and source.id == chain[0].id:
            return "parent"
        if any(source.id == c.id for c in chain):
            return "ancestor"
        return "thread" if source.post_id == item.post_id else "archive"

    @staticmethod
    def _resolved(kind: str, source: Item, match: Q.Match) -> Resolution:
        start, end = source.span(match)
        return Resolution(kind, source, round(match.score, 1), start, end, source.author)

    def _unmatched(self, item: Item, quote: Q.Quote, thread: Thread, frags: list[str]
                   ) -> Resolution:
        """No source in the archive: ``external`` when the quote says where it is from (a
        transcript, a link, "From this paper:", a quote of a quote), else ``unresolved``."""
        author = quote.attribution
        if quote.turns and not author:
            author = ", ".join(dict.fromkeys(t.speaker for t in quote.turns))
        if quote.turns or quote.cite or _EXTERNAL_LEAD.search(quote.lead_in or ""):
            return Resolution("external", source_author=author)  # it says where it is from
        if item.table == "comments" and item.parent_id:
            parent = thread.comments.get(item.parent_id)
            if parent is None or not (parent.body_text or "").strip():
                return Resolution("unresolved", source_author=author)  # its parent is gone
        external = (
            (quote.attribution is not None
             and quote.attribution.lower() not in thread.participants())
            or item.table == "posts"
            or self._quotes_a_quote(item, thread, frags)
        )
        return Resolution("external" if external else "unresolved", source_author=author)

    @staticmethod
    def _quotes_a_quote(item: Item, thread: Thread, frags: list[str]) -> bool:
        """The words appear only inside a quote in the parent, an ancestor or the post."""
        if not frags:
            return False
        near = thread.ancestors(item) + ([thread.post] if thread.post is not None else [])
        return any(Q.find_exact(frags, Q.normalize(Q.quoted_text(c.body_text)))
                   for c in near if c.body_text and ">" in c.body_text)


_EXTERNAL_LEAD = re.compile(
    r"\b(?:from|according to|per|says|said|writes|wrote|quote|quoting|excerpt|abstract|paper|"
    r"article|blog|book|essay|transcript|podcast|interview|episode|tweet|tweets|twitter|wikipedia|"
    r"docs|documentation|readme|announcement|report|arxiv|website|page|source|study)\b[^\n]*:\s*$",
    re.I)


def fuzzy_cutoff(frags: list[str]) -> float:
    """FUZZY_MIN for quotes of FUZZY_SHORT characters or more, rising to 96 at 20 characters."""
    length = sum(len(f) for f in frags)
    return FUZZY_MIN + max(0, FUZZY_SHORT - length) * 0.2


def _later(value: str | None, limit: str | None) -> bool:
    return bool(value and limit and value > limit)


def _fts_query(frags: list[str]) -> str:
    """The longest distinct words of the quote, all required (FTS5 syntax, each word quoted).

    Long words are usually rare ones; four of them narrow the archive to a few candidates."""
    tokens = sorted(set(re.findall(r"[^\W_]{3,}", " ".join(frags))), key=lambda w: (-len(w), w))
    return " AND ".join(f'"{t}"' for t in tokens[:4])


_PLAIN_WORD = re.compile(r"[a-z]{4,}")


# -- extraction --------------------------------------------------------------------------------


@dataclass
class Stats:
    scanned: int = 0
    quoting: int = 0
    exchanges: int = 0
    kinds: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"scanned": self.scanned, "quoting": self.quoting, "exchanges": self.exchanges,
                "kinds": dict(sorted(self.kinds.items()))}


def after_fetch(db: sqlite_utils.Database, changed: dict[str, list[str]]) -> Stats:
    """Re-extract the new or changed items and the quotes whose source may have changed."""
    targets = {"comments": set(changed.get("comments") or []),
               "posts": set(changed.get("posts") or [])}
    if not any(targets.values()):
        return Stats()
    _add_dependents(db, targets)
    return _run(db, targets)


def extract(db: sqlite_utils.Database, all: bool = False) -> Stats:  # `all` as in --all
    """Extract exchanges from items not scanned yet or changed since (every item with ``all``)."""
    if all:
        with db.conn:
            db.conn.execute("DELETE FROM exchange_turns")
            db.conn.execute("DELETE FROM exchanges")
            db.conn.execute("DELETE FROM exchange_scans")
    targets: dict[str, set[str]] = {}
    for table in ("comments", "posts"):
        rows = db.execute(
            f"SELECT t.id FROM {table} t LEFT JOIN exchange_scans s ON s.item_id = t.id "
            "WHERE s.item_id IS NULL OR s.content_hash IS NOT t.content_hash").fetchall()
        targets[table] = {r[0] for r in rows}
    if not any(targets.values()):
        return Stats()
    if not all:
        _add_dependents(db, targets)
    return _run(db, targets)


def _add_dependents(db: sqlite_utils.Database, targets: dict[str, set[str]]) -> None:
    """Items quoting a changed source, and unresolved quotes in threads that gained items."""
    changed = sorted(targets["comments"] | targets["posts"])
    threads = set(targets["posts"])
    for chunk in _chunks(sorted(targets["comments"]), 500):
        marks = ", ".join("?" for _ in chunk)
        threads.update(r[0] for r in db.execute(
            f"SELECT DISTINCT post_id FROM comments WHERE id IN ({marks})", chunk))
    queries = [("source_id", changed, "")]
    queries.append(("post_id", sorted(threads),
                    " AND kind IN ('unresolved', 'external', 'archive')"))
    for column, values, extra in queries:
        for chunk in _chunks(values, 500):
            marks = ", ".join("?" for _ in chunk)
            for item_id, table in db.execute(
                    f"SELECT DISTINCT item_id, item_table FROM exchanges "
                    f"WHERE {column} IN ({marks}){extra}", chunk):
                targets.setdefault(table, set()).add(item_id)


def _run(db: sqlite_utils.Database, targets: dict[str, set[str]]) -> Stats:
    """Extract from the targets chunk by chunk, writing each chunk in one transaction."""
    stats = Stats()
    ordered = _by_thread(db, targets)
    chunks = list(_chunks(ordered, CHUNK))
    path = _file_path(db)
    workers = min(os.cpu_count() or 1, MAX_WORKERS)
    # Forking is only safe from a single-threaded process (a lock held by another thread, in
    # SQLite or logging, would stay locked in the child).
    single = threading.active_count() == 1
    if path and workers > 1 and len(ordered) >= PARALLEL_MIN and _FORK and single:
        results = _parallel(path, chunks, workers)
    else:
        resolver = Resolver(db)
        results = (_extract_chunk(db, resolver, chunk) for chunk in chunks)
    for chunk, (rows, turns, scans, part) in zip(chunks, results):
        _write(db, chunk, rows, turns, scans)
        stats.scanned += part.scanned
        stats.quoting += part.quoting
        stats.exchanges += part.exchanges
        for kind, count in part.kinds.items():
            stats.kinds[kind] = stats.kinds.get(kind, 0) + count
    return stats


def _extract_chunk(db, resolver: Resolver, chunk: list[tuple[str, str]]):
    """Find and resolve the quotes of a chunk of items: (rows, turns, scans, Stats)."""
    stats = Stats()
    rows, turns, scans = [], [], []
    now = now_utc()
    for table, item_id, thread_id, html, digest, body in _load(db, chunk):
        stats.scanned += 1
        found = Q.find_quotes(html, None, body) if Q.might_quote(html, body) else []
        scans.append((item_id, table, digest, len(found), now))
        if not found:
            continue
        stats.quoting += 1
        thread = resolver.thread(thread_id)
        item = thread.post if table == "posts" else thread.comments.get(item_id)
        if item is None:
            continue
        resolved = [(quote, resolver.resolve(item, quote)) for quote in found]
        for quote, resolution in merge_stacked(resolved):
            rows.append(_row(item, quote, resolution, now))
            turns.append([(t.speaker, _user_id(item, t.user_id), t.text) for t in quote.turns])
            stats.kinds[resolution.kind] = stats.kinds.get(resolution.kind, 0) + 1
    stats.exchanges = len(rows)
    return rows, turns, scans, stats


def merge_stacked(resolved: list[tuple[Q.Quote, Resolution]]
                  ) -> list[tuple[Q.Quote, Resolution]]:
    """Stacked quotes of one passage become one exchange.

    E-mail and Reddit quote a passage paragraph by paragraph or line by line ("> a", blank,
    "> b"), which parses as several quotes answered by one reply. Consecutive quotes with the
    same reply and the same source (the same item, or the same named outside source) are one
    quote: one exchange, its span covering both. Quotes of different sources stay apart."""
    out: list[tuple[Q.Quote, Resolution]] = []
    for quote, res in resolved:
        if out and _same_passage(out[-1], (quote, res)):
            first, first_res = out[-1]
            merged = Q.Quote(text=f"{first.text}\n\n{quote.text}",
                             own_text=f"{first.match_text}\n\n{quote.match_text}",
                             reply=quote.reply, position=first.position,
                             attribution=first.attribution, cite=first.cite,
                             lead_in=first.lead_in, discourse=first.discourse)
            start = first_res.start if first_res.start is not None else res.start
            end = max((e for e in (first_res.end, res.end) if e is not None), default=None)
            scores = [x for x in (first_res.score, res.score) if x is not None]
            out[-1] = (merged, Resolution(first_res.kind, first_res.source,
                                          min(scores) if scores else None, start, end,
                                          first_res.source_author))
            continue
        out.append((quote, res))
    return out


def _same_passage(a: tuple[Q.Quote, Resolution], b: tuple[Q.Quote, Resolution]) -> bool:
    (qa, ra), (qb, rb) = a, b
    if qa.turns or qb.turns or qa.dialogue or qb.dialogue or qa.reply != qb.reply:
        return False
    if ra.source is not None or rb.source is not None:
        return ra.source is not None and rb.source is not None and ra.source.id == rb.source.id
    return ra.kind == rb.kind and ra.source_author == rb.source_author


# -- using more than one core for large extractions --------------------------------------------

_WORKER: dict = {}
# Workers are forked: "spawn" would re-run the caller's main script in each worker. Forked
# workers open their own connection and never touch the parent's. No fork (Windows): one process.
_FORK = "fork" in multiprocessing.get_all_start_methods()


def _parallel(path: str, chunks: list, workers: int):
    """Chunks resolved by worker processes (each with its own read connection), in order; the
    caller writes each result while the workers go on with the next chunks."""
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_start,
                             initargs=(path, os.getpid())) as pool:
        yield from pool.map(_worker_chunk, chunks)


def _worker_start(path: str, parent: int) -> None:
    _die_with_parent(parent)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA busy_timeout = 15000")
    _WORKER["db"] = db
    _WORKER["resolver"] = Resolver(db)
    _WORKER["parent"] = parent


def _worker_chunk(chunk: list[tuple[str, str]]):
    _exit_if_orphaned()
    return _extract_chunk(_WORKER["db"], _WORKER["resolver"], chunk)


# A worker must not outlive the command: a parent killed outright (SIGKILL, OOM killer) cannot
# shut its pool down, and the workers would wait on their task queue for ever, holding the
# database open. On Linux the kernel kills them with the parent (PR_SET_PDEATHSIG; the pool
# forks from the thread that runs the extraction, which lives as long as the process); elsewhere
# a worker checks that its parent is still there before each chunk.
PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # no prctl: the check before each chunk remains
    _exit_if_orphaned(parent)  # the parent may have died before prctl took effect


def _exit_if_orphaned(parent: int | None = None) -> None:
    if os.getppid() != (parent or _WORKER.get("parent") or os.getppid()):
        os._exit(1)


def _file_path(db: sqlite_utils.Database) -> str | None:
    """The database file, or None for an in-memory or temporary database."""
    for _seq, name, file in db.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return file or None
    return None


def _by_thread(db, targets: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Target items ordered by thread so each thread is loaded once."""
    keyed = []
    for table in ("comments", "posts"):
        column = "post_id" if table == "comments" else "id"
        for chunk in _chunks(sorted(targets.get(table) or ()), 500):
            marks = ", ".join("?" for _ in chunk)
            for item_id, thread, posted in db.execute(
                    f"SELECT id, {column}, posted_at FROM {table} WHERE id IN ({marks})", chunk):
                keyed.append((thread or "", posted or "", table, item_id))
    keyed.sort()
    return [(table, item_id) for _t, _p, table, item_id in keyed]


def _load(db, chunk: list[tuple[str, str]]):
    """(table, id, thread id, html, content_hash, body_text) for the chunk's items, in order.

    The HTML only when the text misses something in it (see quotes.find_quotes); full items are
    taken from the thread, loaded only when an item quotes something.
    """
    found = {}
    html = (f"CASE WHEN body_html IS NULL OR body_html = '' THEN NULL "
            f"WHEN {Q.RICH_HTML_SQL.format('body_html')} THEN body_html ELSE '' END")
    for table in ("comments", "posts"):
        ids = [item_id for t, item_id in chunk if t == table]
        thread = "post_id" if table == "comments" else "id"
        for part in _chunks(ids, 500):
            marks = ", ".join("?" for _ in part)
            for row in db.execute(f"SELECT id, {thread}, {html}, content_hash, body_text "
                                  f"FROM {table} WHERE id IN ({marks})", part):
                found[(table, row[0])] = (table, *row)
    return [found[key] for key in chunk if key in found]


def _user_id(item: Item, source_user: str | None) -> str | None:
    if not source_user:
        return None
    return f"{item.site_id}:{source_user}" if item.site_id else source_user


def _row(item: Item, quote: Q.Quote, res: Resolution, now: str) -> dict:
    source = res.source
    return {
        "item_id": item.id, "item_table": item.table, "post_id": item.post_id,
        "quoter_user_id": item.user_id, "quoter_author": item.author, "posted_at": item.posted_at,
        "quote": quote.text, "reply": quote.reply, "attribution": quote.attribution,
        "source_id": source.id if source else None,
        "source_table": source.table if source else None,
        "source_user_id": source.user_id if source and not quote.dialogue else None,
        "source_author": res.source_author, "source_start": res.start, "source_end": res.end,
        "kind": res.kind, "score": res.score, "position": quote.position, "extracted_at": now,
    }


def _write(db, chunk, rows: list[dict], turns: list[list], scans: list[tuple]) -> None:
    ids = [item_id for _table, item_id in chunk]
    columns = [c for c in EXCHANGE_COLUMNS if c != "id"]
    insert = (f"INSERT INTO exchanges ({', '.join(columns)}) "
              f"VALUES ({', '.join('?' for _ in columns)})")
    with db.conn:
        for part in _chunks(ids, 500):
            marks = ", ".join("?" for _ in part)
            db.conn.execute("DELETE FROM exchange_turns WHERE exchange_id IN "
                            f"(SELECT id FROM exchanges WHERE item_id IN ({marks}))", part)
            db.conn.execute(f"DELETE FROM exchanges WHERE item_id IN ({marks})", part)
        plain = [[row[c] for c in columns] for row, row_turns in zip(rows, turns) if not row_turns]
        db.conn.executemany(insert, plain)
        for row, row_turns in zip(rows, turns):
            if not row_turns:
                continue
            cursor = db.conn.execute(insert, [row[c] for c in columns])
            db.conn.executemany(
                "INSERT INTO exchange_turns (exchange_id, position, speaker, speaker_user_id, "
                "text) VALUES (?, ?, ?, ?, ?)",
                [(cursor.lastrowid, i, *turn) for i, turn in enumerate(row_turns)])
        db.conn.executemany(
            "INSERT OR REPLACE INTO exchange_scans (item_id, item_table, content_hash, quotes, "
            "scanned_at) VALUES (?, ?, ?, ?, ?)", scans)


def _chunks(values, size: int):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


# -- queries for the CLI -----------------------------------------------------------------------


# (user id, slug, name) columns of exchanges_view for the two people of an exchange.
QUOTER = ("quoter_user_id", "quoter_slug", "quoter")
SOURCE = ("source_user_id", "source_slug", "source_author")


def _person(columns: tuple[str, str, str], value: str, params: list) -> str:
    """Match a person by user id, bare site id, slug, display name or the name on the item."""
    user_id, slug, name = columns
    params.extend([value, value, value, value])
    # The bare id after "site:" is compared exactly (a LIKE would treat % and _ as wildcards).
    return (f"(v.{user_id} = ? OR substr(v.{user_id}, instr(v.{user_id}, ':') + 1) = ? "
            f"OR v.{slug} = ? COLLATE NOCASE OR lower(v.{name}) = lower(?))")


def list_exchanges(db: sqlite_utils.Database, post: str | None = None, author: str | None = None,
                   replier: str | None = None, between: tuple[str, str] | None = None,
                   since: str | None = None, kind: str | None = None,
                   limit: int | None = None) -> list[dict]:
    """Exchanges from ``exchanges_view``, oldest first.

    ``author``: the quoted source's author; ``replier``: who quoted; ``between``: either way
    round; ``since``: the quoting item's date (ISO); ``post``: a post id
    (``archiver.app.resolve.post_id`` finds it from a URL).
    """
    if kind and kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    where, params = [], []
    if post:
        where.append("v.post_id = ?")
        params.append(post)
    if author:
        where.append(_person(SOURCE, author, params))
    if replier:
        where.append(_person(QUOTER, replier, params))
    if between:
        a, b = between
        first = f"{_person(QUOTER, a, params)} AND {_person(SOURCE, b, params)}"
        second = f"{_person(QUOTER, b, params)} AND {_person(SOURCE, a, params)}"
        where.append(f"(({first}) OR ({second}))")
    if since:
        where.append("v.posted_at >= ?")
        params.append(since)
    if kind:
        where.append("v.kind = ?")
        params.append(kind)
    sql = "SELECT v.* FROM exchanges_view v"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY v.posted_at, v.item_id, v.position"
    if limit:
        sql += f" LIMIT {int(limit)}"
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    _attach_turns(db, rows)
    return rows


def _attach_turns(db, rows: list[dict]) -> None:
    ids = [r["id"] for r in rows]
    turns: dict[int, list] = defaultdict(list)
    for chunk in _chunks(ids, 500):
        marks = ", ".join("?" for _ in chunk)
        for exchange_id, speaker, text in db.execute(
                f"SELECT exchange_id, speaker, text FROM exchange_turns "
                f"WHERE exchange_id IN ({marks}) ORDER BY exchange_id, position", chunk):
            turns[exchange_id].append({"speaker": speaker, "text": text})
    for row in rows:
        row["turns"] = turns.get(row["id"], [])


def hot_passages(db: sqlite_utils.Database, post_id: str, limit: int | None = None) -> list[dict]:
    """The post's sentences by how many replies quoted them (most first, then in text order)."""
    row = db.execute("SELECT body_text FROM posts WHERE id = ?", [post_id]).fetchone()
    if row is None:
        raise NotFound(f"no archived post {post_id!r}")
    body = row[0] or ""
    quoted = db.execute(
        "SELECT e.source_start, e.source_end, e.item_id, COALESCE(u.name, e.quoter_author) "
        "FROM exchanges e LEFT JOIN users u ON u.id = e.quoter_user_id "
        "WHERE e.source_table = 'posts' AND e.source_id = ? AND e.source_start IS NOT NULL",
        [post_id]).fetchall()
    passages = []
    for start, end in Q.sentences(body):
        items, people = set(), []
        for q_start, q_end, item_id, who in quoted:
            if q_start < end and q_end > start and item_id not in items:
                items.add(item_id)
                if who and who not in people:
                    people.append(who)
        if items:
            passages.append({"sentence": body[start:end], "start": start, "end": end,
                             "quotes": len(items), "quoted_by": people})
    passages.sort(key=lambda p: (-p["quotes"], p["start"]))
    return passages[:limit] if limit else passages
