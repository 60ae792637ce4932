"""Paper mentions: which posts and comments reference which papers, and how.

One pass per body finds:

- arXiv ids, new style (``2404.16014``, ``2404.16014v2``) and old style (``hep-th/9901001``,
  ``math.AG/0309136v1``), bare, after ``arXiv:``, or in arxiv.org/ar5iv ``abs|pdf|html`` links
  (and alphaxiv.org and huggingface.co/papers pages, which are keyed by arXiv id).
  A bare id must have the real shape: a plausible year-month (new ids began in 2007-04, with five
  digits from 2015-01), nothing word-like glued to it (so ``1.2404.1234``, ``v2404.16014``,
  ``3.1415.9265`` and a date such as ``2023.1231`` do not count);
- DOIs (bare, ``doi:``, doi.org links; an arXiv DOI counts as that arXiv paper);
- OpenReview links (``forum?id=``, ``pdf?id=``);
- titles of papers already in the archive: the body and the titles are normalised alike (lower
  case, accents folded, punctuation removed) and matched as whole-word phrases with an
  Aho-Corasick automaton (pyahocorasick: one C pass per body whatever the number of titles).
  Only titles of at least ``TITLE_MIN_WORDS`` words and ``TITLE_MIN_CHARS`` characters are
  matched, and a title inside a longer matched title does not count on its own.

Unknown arXiv ids, DOIs and OpenReview ids become stub papers (``archiver papers --fill`` fetches
them). Spans are character offsets into the scanned field (``body_markdown``, else
``body_text``; ``title`` for post titles), recorded in ``mentions.field``.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import ahocorasick
import sqlite_utils

from archiver.kernel import paperids
from archiver.kernel.records import now_utc
from archiver.store import bodies
from archiver.store import papers as store

# The kinds of mention this module writes; rows with another ``how`` (e.g. a review a source
# recorded itself) are never deleted by re-detection.
DETECTED = ("arxiv_id", "arxiv_link", "doi", "openreview", "title")
_DETECTED_SQL = "how IN ('arxiv_id', 'arxiv_link', 'doi', 'openreview', 'title')"
TITLE_MIN_WORDS = 4
TITLE_MIN_CHARS = 20
# More new titles than this: one pass over every body beats one FTS query per title.
FTS_TITLE_LIMIT = 300
READ_CHUNK = 2000

_ID_NEW = r"\d{4}\.\d{4,5}(?:v\d+)?"
_ID_OLD = rf"(?:{paperids.OLD_ARCHIVE_RE})(?:\.[A-Za-z][A-Za-z-]+)?/\d{{7}}(?:v\d+)?"
_ID = rf"{_ID_NEW}|{_ID_OLD}"
# One regex per kind of reference, each run only on bodies that contain its cheap trigger (a
# substring test or a regex with a literal first character, both scanned at C speed): a single
# big alternation tried at every position of every body is ~20x slower.
ARXIV = re.compile(
    rf"(?P<link>(?:https?://)?(?:www\.|export\.)?(?:(?:arxiv\.org|ar5iv(?:\.labs\.arxiv)?\.org)"
    rf"/(?:abs|pdf|html|format)|alphaxiv\.org/(?:abs|overview)|huggingface\.co/papers)"
    rf"/(?P<link_id>{_ID}))"
    rf"|(?P<prefixed>arxiv:\s?(?P<prefixed_id>{_ID}))",
    re.IGNORECASE,
)
OPENREVIEW = re.compile(
    r"(?:https?://)?(?:www\.)?openreview\.net/(?:forum|pdf|attachment)\?"
    r"(?:[^\s#)\]]*?&(?:amp;)?)?id=(?P<id>[A-Za-z0-9_-]{5,})",
    re.IGNORECASE,
)
DOI = re.compile(r"10\.\d{4,9}/[^\s\"'<>\[\]{}|\\^`]+")
DOI_PREFIX = re.compile(r"(?:(?:https?://)?(?:dx\.)?doi\.org/|doi:\s?)$", re.IGNORECASE)
BARE_NEW_TRIGGER = re.compile(r"\.\d{4}")
BARE_NEW = re.compile(rf"(?<![\w./-]){_ID_NEW}(?![\w/-]|\.\d)")
BARE_OLD_TRIGGER = re.compile(r"/\d{7}")
BARE_OLD = re.compile(rf"(?<![\w./-]){_ID_OLD}(?![\w/-])")
_OLD_YYMM = re.compile(r"/(\d{2})(\d{2})\d{3}")
_WORD = re.compile(r"[^\W_]+")
# Lower case + every ASCII non-alphanumeric as a space, for bytes.translate (C speed).
_ASCII_FOLD = bytes(
    (c + 32 if 65 <= c <= 90 else c) if chr(c).isalnum() else 32 for c in range(128)
) + bytes(range(128, 256))
# Typographic punctuation common in forum text, turned into spaces so most bodies stay ASCII
# (a regex substitution: str.translate with a dict is ~8x slower on non-ASCII text).
_PUNCT = re.compile("[\u00a0\u00ad\u2010-\u2015\u2018-\u201f\u2022\u2026\u2032\u2033"
                    "\u2212\u00ab\u00bb\u00b7\u200b]")


@dataclass
class Reference:
    key: str  # "arxiv:2404.16014", "doi:10.…", "openreview:…", or a paper id for titles
    how: str  # arxiv_id | arxiv_link | doi | openreview | title
    start: int
    end: int
    text: str


# -- identifiers -----------------------------------------------------------------------------------


def find_identifiers(text: str) -> list[Reference]:
    """arXiv ids and links, DOIs and OpenReview links in ``text``, in order; where two overlap
    (``arXiv:2404.16014`` is also a bare id) the earlier, longer one wins."""
    found: list[Reference] = []
    if ("rxiv" in text or "rXiv" in text or "RXIV" in text or "RXiv" in text or "r5iv" in text
            or "ace.co/papers/" in text or "alphaxiv" in text):
        for match in ARXIV.finditer(text):
            group = match.lastgroup
            arxiv = _arxiv(match[f"{group}_id"])
            if arxiv:
                how = "arxiv_link" if group == "link" else "arxiv_id"
                found.append(Reference(f"arxiv:{arxiv}", how, match.start(), match.end(),
                                       match[0]))
    if "penreview" in text or "penReview" in text or "PENREVIEW" in text:
        for match in OPENREVIEW.finditer(text):
            found.append(Reference(f"openreview:{match['id']}", "openreview", match.start(),
                                   match.end(), match[0]))
    if "10." in text:
        for match in DOI.finditer(text):
            ref = _doi_reference(text, match)
            if ref is not None:
                found.append(ref)
    for trigger, pattern in ((BARE_NEW_TRIGGER, BARE_NEW), (BARE_OLD_TRIGGER, BARE_OLD)):
        if trigger.search(text):
            for match in pattern.finditer(text):
                arxiv = _arxiv(match[0])
                if arxiv:
                    found.append(Reference(f"arxiv:{arxiv}", "arxiv_id", match.start(),
                                           match.end(), match[0]))
    return _without_overlaps(found)


def _without_overlaps(refs: list[Reference]) -> list[Reference]:
    if len(refs) < 2:
        return refs
    refs.sort(key=lambda r: (r.start, -(r.end - r.start)))
    kept, until = [], -1
    for ref in refs:
        if ref.start >= until:
            kept.append(ref)
            until = ref.end
    return kept


def _arxiv(raw: str) -> str | None:
    arxiv = store.normalise_arxiv_id(raw)
    if arxiv and "/" in arxiv:
        yy, mm = _OLD_YYMM.search(arxiv).groups()
        if not (1 <= int(mm) <= 12 and (yy >= "91" or yy <= "07")):
            return None
    return arxiv


def _doi_reference(text: str, match: re.Match) -> Reference | None:
    doi = _trim_doi(match[0])
    start, end = match.start(), match.start() + len(doi)
    if start and text[start - 1].isalnum():
        return None  # "110.1234/…" is not a DOI
    prefix = DOI_PREFIX.search(text, max(0, start - 24), start)
    if prefix:
        start = prefix.start()
    _, arxiv = store.split_doi(doi, None)
    normal = store.normalise_doi(doi)
    if arxiv:
        key = f"arxiv:{arxiv}"
    elif normal and store.ARXIV_DOI.match(normal) is None:
        key = f"doi:{normal}"
    else:
        return None
    return Reference(key, "doi", start, end, text[start:end])


def _trim_doi(doi: str) -> str:
    """Drop sentence punctuation and an unbalanced closing bracket (Markdown links) at the end."""
    while doi:
        last = doi[-1]
        if last in ".,;:!?*_'\"":
            doi = doi[:-1]
        elif last == ")" and doi.count("(") < doi.count(")"):
            doi = doi[:-1]
        else:
            break
    return doi


# -- titles --------------------------------------------------------------------------------------


def matchable(norm_title: str) -> bool:
    return len(norm_title) >= TITLE_MIN_CHARS and norm_title.count(" ") + 1 >= TITLE_MIN_WORDS


class TitleIndex:
    """Whole-word, normalised phrase matching of many paper titles in one pass per text."""

    def __init__(self, papers: Iterable[tuple[str, str]]):
        by_title: dict[str, list[str]] = {}
        for paper_id, title in papers:
            norm = store.normalise_title(title)
            if matchable(norm):
                by_title.setdefault(norm, []).append(paper_id)
        self.size = len(by_title)
        self.automaton = ahocorasick.Automaton()
        for norm, ids in by_title.items():
            # Spaces at both ends make every match start and end on a word boundary.
            self.automaton.add_word(f" {norm} ", (norm.count(" ") + 1, sorted(ids)))
        if self.size:
            self.automaton.make_automaton()

    def find(self, text: str) -> list[Reference]:
        if not self.size or not text:
            return []
        norm, folded, spans = _normalise_text(text)
        hits = [(end, words, ids) for end, (words, ids) in self.automaton.iter(norm)]
        if not hits:
            return []
        return self._references(text, folded, norm, spans, hits)

    @staticmethod
    def _references(text, folded, norm, spans, hits) -> list[Reference]:
        if spans is None:
            spans = [(m.start(), m.end()) for m in _WORD.finditer(folded)]
        starts = _token_starts(norm)
        found = []
        for end, words, ids in hits:
            # ``end`` is the trailing space of the key; its last word is the token before it.
            last = bisect_right(starts, end - 1) - 1
            first = last - words + 1
            found.append((spans[first][0], spans[last][1], ids))
        found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
        refs, covered_until = [], -1
        for start, end, ids in found:
            if end <= covered_until:  # inside a longer title already matched
                continue
            covered_until = max(covered_until, end)
            for paper_id in ids:
                refs.append(Reference(paper_id, "title", start, end, text[start:end]))
        return refs


def _normalise_text(text: str) -> tuple[str, str, list[tuple[int, int]] | None]:
    """(' word word … ', the text the words were cut from, token spans or None).

    Fast path (ASCII after folding typographic punctuation, i.e. nearly every forum body):
    bytes.translate + split, then spans are recomputed only for bodies with a hit. Otherwise
    each word is folded on its own so spans stay exact."""
    if not text.isascii():
        text = _PUNCT.sub(" ", text)
    if text.isascii():
        words = text.encode("ascii").translate(_ASCII_FOLD).split()
        return " " + b" ".join(words).decode("ascii") + " ", text, None
    words, spans = [], []
    for match in _WORD.finditer(text):
        for part in _WORD.findall(store.fold(match.group())):
            words.append(part)
            spans.append((match.start(), match.end()))
    return " " + " ".join(words) + " ", text, spans


def _token_starts(norm: str) -> list[int]:
    starts, position = [], norm.find(" ")
    while position != -1 and position + 1 < len(norm):
        starts.append(position + 1)
        position = norm.find(" ", position + 1)
    return starts


# The last full index, reused while the archived titles are the same (reading them is cheap;
# normalising them and building the automaton is what costs): after_fetch runs after every fetch.
_INDEX_CACHE: dict[str, tuple[int, TitleIndex]] = {}


def load_title_index(db: sqlite_utils.Database, paper_ids: list[str] | None = None) -> TitleIndex:
    if paper_ids is None:
        rows = db.conn.execute(
            "SELECT id, title FROM papers WHERE stub = 0 AND title IS NOT NULL").fetchall()
        digest = hash(tuple(rows))
        cached = _INDEX_CACHE.get("all")
        if cached is None or cached[0] != digest:
            cached = _INDEX_CACHE["all"] = (digest, TitleIndex(rows))
        return cached[1]
    rows = []
    for start in range(0, len(paper_ids), 500):
        chunk = paper_ids[start:start + 500]
        marks = ", ".join("?" for _ in chunk)
        rows += db.conn.execute(
            f"SELECT id, title FROM papers WHERE id IN ({marks}) AND title IS NOT NULL",
            chunk).fetchall()
    return TitleIndex(rows)


# -- scanning the archive ------------------------------------------------------------------------


def scan_text(text: str, titles: TitleIndex) -> list[Reference]:
    """Every reference in one text: identifiers first, then archived titles."""
    return find_identifiers(text) + titles.find(text)


def _fields(table: str, row: tuple) -> Iterator[tuple[str, str]]:
    """(field, text) pairs to scan for one row read by ``_select``."""
    if table == "posts":
        _id, title, field, body = row
        if title:
            yield "title", title
    else:
        _id, field, body = row
    if body:
        yield field, body


def _select(table: str) -> str:
    # Markdown keeps link targets (the text rendering drops them); the text is the fallback.
    # Only one of the two is read: the bodies are most of the bytes.
    # body_markdown is NULL when it equals body_text (archiver.store.bodies): read it back.
    markdown = bodies.MARKDOWN
    body = (f"CASE WHEN {markdown} IS NOT NULL AND {markdown} != '' THEN 'body_markdown' "
            f"ELSE 'body_text' END, COALESCE(NULLIF({markdown}, ''), body_text)")
    columns = f"id, title, {body}" if table == "posts" else f"id, {body}"
    return f"SELECT {columns} FROM [{table}]"


def _read_all(db, table: str) -> Iterator[list[tuple]]:
    cursor = db.conn.execute(_select(table))
    while True:
        rows = cursor.fetchmany(READ_CHUNK)
        if not rows:
            return
        yield rows


def _read_ids(db, table: str, ids: list[str]) -> Iterator[list[tuple]]:
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ", ".join("?" for _ in chunk)
        yield db.conn.execute(f"{_select(table)} WHERE id IN ({marks})", chunk).fetchall()


def _scan_rows(table: str, rows: list[tuple], titles: TitleIndex, out: list) -> None:
    find = titles.find
    for row in rows:
        for field, text in _fields(table, row):
            for ref in find_identifiers(text):
                out.append((table, row[0], field, ref))
            for ref in find(text):
                out.append((table, row[0], field, ref))


def _write(db, found: list, now: str) -> int:
    keys = [ref.key for *_, ref in found if ref.how != "title"]
    paper_for = store.ensure_stub_papers(db, keys, now) if keys else {}
    rows = []
    for table, item_id, field, ref in found:
        paper_id = ref.key if ref.how == "title" else paper_for[ref.key]
        rows.append((table, item_id, paper_id, ref.how, field, ref.start, ref.end, ref.text, now))
    db.conn.executemany(
        "INSERT OR IGNORE INTO mentions (item_table, item_id, paper_id, how, field, span_start, "
        "span_end, matched_text, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def detect_all(db: sqlite_utils.Database) -> int:
    """Re-detect mentions in every post and comment; returns the number of mentions stored."""
    titles = load_title_index(db)
    now = now_utc()
    found: list = []
    for table in ("posts", "comments"):
        for rows in _read_all(db, table):
            _scan_rows(table, rows, titles, found)
    with db.conn:
        db.conn.execute(f"DELETE FROM mentions WHERE {_DETECTED_SQL}")
        return _write(db, found, now)


def detect_items(db: sqlite_utils.Database, items: dict[str, list[str]],
                 titles: TitleIndex | None = None) -> int:
    """Re-detect mentions in the given items ({"posts": [ids], "comments": [ids]})."""
    titles = titles or load_title_index(db)
    now = now_utc()
    found: list = []
    for table in ("posts", "comments"):
        ids = list(dict.fromkeys(items.get(table, [])))
        for rows in _read_ids(db, table, ids):
            _scan_rows(table, rows, titles, found)
    with db.conn:
        for table in ("posts", "comments"):
            ids = list(dict.fromkeys(items.get(table, [])))
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                marks = ", ".join("?" for _ in chunk)
                db.conn.execute(
                    f"DELETE FROM mentions WHERE {_DETECTED_SQL} AND item_table = ? "
                    f"AND item_id IN ({marks})",
                    [table, *chunk])
        return _write(db, found, now)


def after_fetch(db: sqlite_utils.Database, changed: dict[str, list[str]]) -> None:
    """Incremental: new or changed bodies are rescanned; new or changed papers are looked for
    (by title) in the bodies that may name them."""
    items = {"posts": list(changed.get("posts") or []),
             "comments": list(changed.get("comments") or [])}
    paper_ids = list(changed.get("papers") or [])
    if paper_ids:
        for table, ids in _items_naming(db, paper_ids).items():
            items[table].extend(ids)
    if items["posts"] or items["comments"]:
        detect_items(db, items)


def _items_naming(db, paper_ids: list[str]) -> dict[str, list[str]]:
    """Posts and comments that may contain one of these papers' titles."""
    new_titles = load_title_index(db, paper_ids)
    if not new_titles.size:
        return {}
    norms = [key.strip() for key in new_titles.automaton.keys()]
    if len(norms) > FTS_TITLE_LIMIT or not _has_fts(db):
        found: dict[str, list[str]] = {"posts": [], "comments": []}
        for table in ("posts", "comments"):
            for rows in _read_all(db, table):
                for row in rows:
                    if any(new_titles.find(text) for _f, text in _fields(table, row)):
                        found[table].append(row[0])
        return found
    found = {"posts": [], "comments": []}
    for table in ("posts", "comments"):
        for norm in norms:
            phrase = '"' + norm + '"'
            found[table] += [r[0] for r in db.conn.execute(
                f"SELECT id FROM [{table}] WHERE rowid IN "
                f"(SELECT rowid FROM [{table}_fts] WHERE [{table}_fts] MATCH ?)", [phrase])]
    return found


def _has_fts(db) -> bool:
    names = set(db.table_names())
    return "posts_fts" in names and "comments_fts" in names


# -- reading -------------------------------------------------------------------------------------


def list_mentions(db: sqlite_utils.Database, paper_id: str | None = None,
                  limit: int | None = None) -> list[dict]:
    """Mentions with where and by whom (from the mention_details view), newest first."""
    sql = "SELECT * FROM mention_details"
    params: list = []
    if paper_id:
        resolved = store.find_papers_by_keys(db, [paper_id, f"id:{paper_id}"])
        params.append(resolved.get(paper_id) or resolved.get(f"id:{paper_id}") or paper_id)
        sql += " WHERE paper_id = ?"
    sql += " ORDER BY posted_at DESC, id"
    if limit:
        sql += f" LIMIT {int(limit)}"
    cursor = db.conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]
