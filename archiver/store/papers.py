"""Researchers, their dated metrics, papers (one row per paper across sources) and mentions.

Tables (created by ``ensure_schema``; every id is text):

- ``researchers``: one row per researcher *per source* (``openalex:A…``,
  ``semanticscholar:2262347``, ``arxiv:del_maestro``, ``import:…``), optionally linked to a
  forum user (``forum_user_id``).
- ``researcher_metrics``: a dated snapshot per fetch (h-index, i10-index, works, citations, extra
  JSON), so a profile re-fetched monthly becomes a time series.
- ``papers``: one row per paper across all sources. Records are merged when they share an arXiv id,
  a DOI, a source id or a normalised title (see ``save_papers``); ``source_ids`` keeps every
  source's id. ``stub`` rows are known only by an identifier found in a mention.
- ``paper_keys``: every identifier that leads to a paper row (``arxiv:…``, ``doi:…``,
  ``title:…``, ``openalex:W…``, ``semanticscholar:…``, ``openreview:…``, ``id:<old id>``):
  the merge index.
- ``paper_authors``: ordered authors (``position`` 0-based), with the source's author id when known.
- ``researcher_papers``: researcher -> paper links.
- ``mentions``: a paper referenced in a post or comment body (archiver.analysis.mentions).
- view ``mention_details``: mentions joined to the post/comment, its author and the paper.

How other code saves records (all inside the page transaction of ``save_page``):

- ``Page(other={"researcher_papers": [ResearcherPapers(...)]})``: a researcher, an optional
  metrics snapshot and their papers (linked in ``researcher_papers``).
- ``Page(other={"papers": [Paper(...)]})``: papers on their own (e.g. from a mention, a review).
- ``Page(other={"researchers": [Researcher(...)]})`` and
  ``Page(other={"researcher_metrics": [ResearcherMetrics(...)]})``: the parts on their own.
- Outside a page: ``save_researcher_papers(db, rp)`` and ``save_papers(db, papers)`` open their own
  transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from archiver.kernel.paperids import (  # noqa: F401  (re-exported: the store's callers use them)
    ARXIV_DOI,
    NEW_ID,
    OLD_ARCHIVES,
    OLD_ID,
    TITLE_KEY_MIN_CHARS,
    TITLE_KEY_MIN_WORDS,
    canonical_url,
    normalise_arxiv_id,
    normalise_doi,
    normalise_title,
    plausible_new_id,
    split_doi,
    title_key,
)
from archiver.kernel.records import (
    Paper,
    Researcher,
    ResearcherMetrics,
    ResearcherPapers,
    now_utc,
)
from archiver.store.save import Counts, Saver
from archiver.store.tables import Index, Table, View, ensure_table

# -- identifiers and titles: archiver.kernel.paperids (re-exported here) -------------------------------


# -- schema ------------------------------------------------------------------------------------

MENTION_DETAILS_SQL = """SELECT m.id, m.paper_id, p.title AS paper_title, m.how, m.matched_text, m.item_table, m.item_id,
       COALESCE(c.post_id, po.id) AS post_id, tp.title AS post_title,
       COALESCE(c.user_id, po.user_id) AS user_id,
       COALESCE(u.name, c.author, po.author) AS author,
       COALESCE(c.posted_at, po.posted_at) AS posted_at,
       COALESCE(c.url, po.url) AS url, m.field, m.span_start, m.span_end
FROM mentions m
JOIN papers p ON p.id = m.paper_id
LEFT JOIN comments c ON m.item_table = 'comments' AND c.id = m.item_id
LEFT JOIN posts po ON m.item_table = 'posts' AND po.id = m.item_id
LEFT JOIN posts tp ON tp.id = COALESCE(c.post_id, po.id)
LEFT JOIN users u ON u.id = COALESCE(c.user_id, po.user_id)"""

MENTION_DETAILS = View(
    name="mention_details",
    sql=MENTION_DETAILS_SQL,
    inherits="mentions",
    description="Mentions with the paper's title, the thread, the author and links.",
    docs={
        "paper_title": "The paper.",
        "post_title": "The thread.",
        "author": "Who mentioned it.",
    },
    sort=("posted_at", True),
    facets=("how", "author"),
)


TABLES = [
    Table(
        name="researchers",
        columns={
            "id": str, "source": str, "source_id": str, "name": str, "url": str, "orcid": str,
            "affiliations": str, "topics": str, "forum_user_id": str, "extra": str,
            "first_seen": str, "last_seen": str,
        },
        pk="id",
        foreign_keys=(
            ("forum_user_id", "users", "id"),
        ),
        indexes=(
            Index(("forum_user_id",)),
        ),
        description="Researcher profiles from OpenAlex, Semantic Scholar, arXiv and imports.",
        docs={
            "source": "openalex, semanticscholar, arxiv or import.",
            "name": "Name.",
            "orcid": "ORCID iD.",
            "affiliations": "Affiliations as a JSON list.",
            "topics": "Research topics as a JSON list.",
            "forum_user_id": "The same person as a forum user (users.id), when linked.",
        },
        label="name",
        facets=("source",),
        export_as="researcher",
    ),
    Table(
        name="researcher_metrics",
        columns={
            "id": int, "researcher_id": str, "captured_at": str, "h_index": int, "i10_index": int,
            "works_count": int, "citation_count": int, "extra": str,
        },
        pk="id",
        foreign_keys=(
            ("researcher_id", "researchers", "id"),
        ),
        indexes=(
            Index(("researcher_id", "captured_at"), unique=True),
        ),
        description=("Dated metric snapshots: re-fetching a profile adds a row, so metrics become a"
                     " time series."),
        docs={
            "captured_at": "When the snapshot was taken.",
            "h_index": "h-index.",
            "i10_index": "i10-index.",
            "works_count": "Number of works.",
            "citation_count": "Total citations.",
            "extra": "Source-specific metrics as JSON (e.g. novelty, AI score).",
        },
        sort=("captured_at", True),
        facets=("researcher_id",),
    ),
    Table(
        name="papers",
        columns={
            "id": str, "title": str, "abstract": str, "published": str, "year": int, "venue": str,
            "doi": str, "arxiv_id": str, "url": str, "categories": str, "primary_category": str,
            "topics": str, "citation_count": int, "has_code": int, "stub": int, "source": str,
            "source_ids": str, "extra": str, "first_seen": str, "last_seen": str,
        },
        pk="id",
        indexes=(
            Index(("doi",)), Index(("arxiv_id",)), Index(("year",)),
        ),
        fts=("title", "abstract"),
        description=("One row per paper across sources (merged by arXiv id, DOI or normalised "
                     "title). Stubs are papers known only from a mention."),
        docs={
            "abstract": "Abstract.",
            "published": "Publication date (ISO 8601).",
            "year": "Publication year.",
            "venue": "Journal or conference.",
            "doi": "DOI, lower-case, without https://doi.org/.",
            "arxiv_id": "arXiv id without version, e.g. 2404.16014.",
            "categories": "arXiv categories as a JSON list.",
            "primary_category": "arXiv primary category, e.g. cs.LG.",
            "topics": "Topics as a JSON list.",
            "citation_count": "Citations, per its source.",
            "has_code": "1 if code is available.",
            "source": "The source that first described it.",
            "source_ids": "Ids in each source, as JSON.",
        },
        label="title",
        sort=("published", True),
        facets=("primary_category", "year", "stub", "source"),
        export_as="paper",
    ),
    Table(
        name="paper_keys",
        columns={
            "key": str, "paper_id": str,
        },
        pk="key",
        foreign_keys=(
            ("paper_id", "papers", "id"),
        ),
        indexes=(
            Index(("paper_id",)),
        ),
        description="Bookkeeping: the keys (arXiv id, DOI, title) that identify each paper.",
        docs={
            "key": "A normalised arXiv id, DOI or title key.",
        },
        export_as="paper_key",
    ),
    Table(
        name="paper_authors",
        columns={
            "paper_id": str, "position": int, "name": str, "researcher_id": str,
            "affiliation": str,
        },
        pk=("paper_id", "position"),
        foreign_keys=(
            ("paper_id", "papers", "id"),
        ),
        indexes=(
            Index(("researcher_id",)),
        ),
        description="A paper's authors in order.",
        docs={
            "name": "Author's name as the source lists it.",
            "affiliation": "Affiliation, if given.",
            "researcher_id": "The author's id in the source (not always a researchers row).",
        },
        export_as="paper_author",
    ),
    Table(
        name="researcher_papers",
        columns={
            "researcher_id": str, "paper_id": str,
        },
        pk=("researcher_id", "paper_id"),
        foreign_keys=(
            ("researcher_id", "researchers", "id"), ("paper_id", "papers", "id"),
        ),
        indexes=(
            Index(("paper_id",)),
        ),
        description="Which papers are on which researcher's profile.",
        export_as="researcher_paper",
    ),
    Table(
        name="mentions",
        columns={
            "id": int, "item_table": str, "item_id": str, "paper_id": str, "how": str,
            "field": str, "span_start": int, "span_end": int, "matched_text": str,
            "detected_at": str,
        },
        pk="id",
        foreign_keys=(
            ("paper_id", "papers", "id"),
        ),
        indexes=(
            Index(("paper_id",)),
            Index(("item_table", "item_id", "field", "span_start", "paper_id"), unique=True),
        ),
        views=(MENTION_DETAILS,),
        description=("Where posts, comments and blog articles cite papers: arXiv ids and links, "
                     "DOIs, OpenReview links and titles of archived papers."),
        docs={
            "how": "How it was matched: arxiv_id, arxiv_link, doi, openreview or title.",
            "field": "Which field of the item held it (body, title, …).",
            "span_start": "Start of the match in that field.",
            "span_end": "End of the match in that field.",
            "matched_text": "The text that matched.",
            "detected_at": "When it was detected.",
        },
        facets=("how", "item_table"),
        export_as="mention",
        derived=True,
    ),
]


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create the research tables, indexes, the papers FTS and the mention_details view."""
    for table in TABLES:
        ensure_table(db, table)


# -- savers --------------------------------------------------------------------------------------


def _json_list(values: Iterable[str] | None) -> str | None:
    values = [v for v in (values or []) if v]
    return json.dumps(values, ensure_ascii=False) if values else None


def _load(value: str | None, default):
    return json.loads(value) if value else default


def save_researchers(db: sqlite_utils.Database, researchers: list, now: str) -> Counts:
    """Upsert researchers (a re-fetch never drops a forum-user link made earlier)."""
    counts = Counts()
    for item in researchers:
        if isinstance(item, ResearcherPapers):
            counts.add(save_researcher_papers_in_page(db, [item], now))
            continue
        _count(counts, "researchers", item.id, _save_researcher(db, item, now))
    return counts


def _count(counts: Counts, table: str, item_id: str, status: str) -> None:
    setattr(counts, status, getattr(counts, status) + 1)
    if status != "unchanged":
        counts.changed.setdefault(table, []).append(item_id)


def _save_researcher(db, researcher: Researcher, now: str) -> str:
    old = _row(db, "researchers", researcher.id)
    forum_user = researcher.forum_user_id or (old or {}).get("forum_user_id")
    if forum_user is None:
        forum_user = confident_forum_user(db, researcher.name)
    row = {
        "id": researcher.id, "source": researcher.source, "source_id": researcher.source_id,
        "name": researcher.name, "url": researcher.url, "orcid": researcher.orcid,
        "affiliations": _json_list(researcher.affiliations),
        "topics": _json_list(researcher.topics), "forum_user_id": forum_user,
        "extra": json.dumps(researcher.extra, sort_keys=True, ensure_ascii=False)
        if researcher.extra else None,
        "first_seen": (old or {}).get("first_seen") or now, "last_seen": now,
    }
    _write(db, "researchers", row, pk=("id",))
    if old is None:
        return "new"
    same = all(old.get(k) == v for k, v in row.items() if k != "last_seen")
    return "unchanged" if same else "updated"


def confident_forum_user(db, name: str | None) -> str | None:
    """The users row whose display name is this name, when exactly one archived user has it."""
    if not name or not name.strip():
        return None
    rows = db.conn.execute(
        "SELECT id FROM users WHERE lower(trim(name)) = lower(trim(?)) LIMIT 2", [name]
    ).fetchall()
    return rows[0][0] if len(rows) == 1 else None


def save_metrics(db: sqlite_utils.Database, snapshots: list[ResearcherMetrics], now: str) -> Counts:
    """Append dated snapshots. The same researcher and timestamp twice is one row (an import of
    an export adds nothing; two fetches within a second keep the later values)."""
    counts = Counts()
    for m in snapshots:
        values = [m.h_index, m.i10_index, m.works_count, m.citation_count,
                  json.dumps(m.extra, sort_keys=True) if m.extra else None]
        when = m.captured_at or now
        old = db.conn.execute(
            "SELECT h_index, i10_index, works_count, citation_count, extra FROM "
            "researcher_metrics WHERE researcher_id = ? AND captured_at = ?",
            [m.researcher_id, when]).fetchone()
        if old is not None and list(old) == values:
            counts.unchanged += 1
            continue
        db.conn.execute(
            "INSERT INTO researcher_metrics (researcher_id, captured_at, h_index, i10_index, "
            "works_count, citation_count, extra) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(researcher_id, captured_at) DO UPDATE SET h_index = excluded.h_index, "
            "i10_index = excluded.i10_index, works_count = excluded.works_count, "
            "citation_count = excluded.citation_count, extra = excluded.extra",
            [m.researcher_id, when, *values])
        _count(counts, "researcher_metrics", m.researcher_id, "new" if old is None else "updated")
    return counts


def save_researcher_papers_in_page(db: sqlite_utils.Database, batches: list[ResearcherPapers],
                                   now: str) -> Counts:
    """OTHER_SAVERS["researcher_papers"]: researcher, metrics snapshot, papers and the links."""
    counts = Counts()
    for rp in batches:
        _count(counts, "researchers", rp.researcher.id, _save_researcher(db, rp.researcher, now))
        if rp.metrics is not None:
            counts.add(save_metrics(db, [rp.metrics], now))
        paper_counts = save_papers_in_page(db, rp.papers, now)
        counts.add(paper_counts)
        db.conn.executemany(
            "INSERT OR IGNORE INTO researcher_papers (researcher_id, paper_id) VALUES (?, ?)",
            [(rp.researcher.id, pid) for pid in paper_counts.changed.get("_paper_ids", [])],
        )
    counts.changed.pop("_paper_ids", None)
    return counts


def save_researcher_papers(db: sqlite_utils.Database, rp: ResearcherPapers,
                           now: str | None = None) -> Counts:
    """Save one ResearcherPapers outside a page, in its own transaction."""
    with db.conn:
        return save_researcher_papers_in_page(db, [rp], now or now_utc())


def save_papers(db: sqlite_utils.Database, papers: list[Paper], now: str | None = None) -> Counts:
    """Save papers outside a page, in its own transaction. ``counts.changed["papers"]`` lists the
    new or changed paper ids."""
    with db.conn:
        counts = save_papers_in_page(db, papers, now or now_utc())
    counts.changed.pop("_paper_ids", None)
    return counts


def save_papers_in_page(db: sqlite_utils.Database, papers: list[Paper], now: str) -> Counts:
    """OTHER_SAVERS["papers"]. Each paper joins the row it shares an identifier with (see
    ``save_paper``). ``changed["_paper_ids"]`` lists every row written, in order (internal)."""
    counts = Counts()
    for paper in papers:
        paper_id, status = save_paper(db, paper, now)
        counts.changed.setdefault("_paper_ids", []).append(paper_id)
        _count(counts, "papers", paper_id, status)
    return counts


def _papers_saver(db, papers, now) -> Counts:
    counts = save_papers_in_page(db, papers, now)
    counts.changed.pop("_paper_ids", None)
    return counts


# -- one paper -----------------------------------------------------------------------------------

PAPER_SCALARS = ("title", "abstract", "published", "year", "venue", "doi", "arxiv_id",
                 "primary_category")


def paper_keys(paper: Paper, doi: str | None, arxiv_id: str | None) -> list[str]:
    """Identifiers of a paper record, strongest first (the merge order)."""
    keys = []
    if paper.source_id and paper.source not in ("import", "mention", "arxiv"):
        keys.append(f"{paper.source}:{paper.source_id}")
    if arxiv_id:
        keys.append(f"arxiv:{arxiv_id}")
    if doi:
        keys.append(f"doi:{doi}")
    openreview = (paper.extra or {}).get("openreview_id")
    if openreview:
        keys.append(f"openreview:{openreview}")
    tkey = title_key(paper.title)
    if tkey:
        keys.append(tkey)
    return keys


def save_paper(db: sqlite_utils.Database, paper: Paper, now: str) -> tuple[str, str]:
    """Write one paper record; return (paper id, "new" | "updated" | "unchanged").

    Merge rule: the record joins the row found through its strongest identifier (source id, arXiv
    id, DOI, OpenReview id, normalised title). A title match is refused when both sides carry a
    different DOI or arXiv id (reprints, namesakes). Rows that the record proves to be the same
    paper (two stubs, one by arXiv id and one by DOI) are folded into one. Field values: the
    row's primary source (the first non-stub source) overwrites with its newer values, other
    sources only fill gaps; categories and topics are unions; citation_count keeps the maximum.
    """
    doi, arxiv_id = split_doi(paper.doi, paper.arxiv_id)
    keys = paper_keys(paper, doi, arxiv_id)
    target, fold_ids = _find_rows(db, keys, doi, arxiv_id)
    old = _row(db, "papers", target) if target else None
    for other in fold_ids:
        old = _fold(db, other, old)
    if old is None or target is None:  # (folds are only found once there is a target)
        target = _new_paper_id(db, paper, doi, arxiv_id)
    row = _merged_row(old, paper, doi, arxiv_id, target, now)
    _write(db, "papers", row, pk=("id",))
    db.conn.executemany("INSERT OR IGNORE INTO paper_keys (key, paper_id) VALUES (?, ?)",
                        [(k, target) for k in keys])
    _save_authors(db, target, paper, row["source"] == paper.source and not paper.stub)
    if old is None:
        return target, "new"
    same = all(old.get(k) == v for k, v in row.items() if k != "last_seen")
    return target, "unchanged" if same else "updated"


def _find_rows(db, keys: list[str], doi, arxiv_id) -> tuple[str | None, list[str]]:
    if not keys:
        return None, []
    marks = ", ".join("?" for _ in keys)
    found = dict(db.conn.execute(
        f"SELECT key, paper_id FROM paper_keys WHERE key IN ({marks})", keys).fetchall())
    target, folds = None, []
    for key in keys:
        pid = found.get(key)
        if pid is None or pid == target or pid in folds:
            continue
        if key.startswith("title:"):
            if target is None and not _conflicts(db, pid, doi, arxiv_id):
                target = pid
            continue
        if target is None:
            target = pid
        else:
            folds.append(pid)
    return target, folds


def _conflicts(db, paper_id: str, doi, arxiv_id) -> bool:
    row = db.conn.execute("SELECT doi, arxiv_id FROM papers WHERE id = ?", [paper_id]).fetchone()
    if row is None:
        return True
    return bool((doi and row[0] and doi != row[0]) or (arxiv_id and row[1] and arxiv_id != row[1]))


def _new_paper_id(db, paper: Paper, doi, arxiv_id) -> str:
    openreview = (paper.extra or {}).get("openreview_id")
    norm = normalise_title(paper.title)
    if arxiv_id:
        candidate = f"arxiv:{arxiv_id}"
    elif doi:
        candidate = f"doi:{doi}"
    elif openreview:
        candidate = f"openreview:{openreview}"
    elif norm:
        candidate = "paper:" + hashlib.sha1(norm.encode()).hexdigest()[:12]
    elif paper.source_id:
        candidate = f"{paper.source}:{paper.source_id}"
    else:  # nothing identifies it: name it after what it says
        candidate = "paper:" + hashlib.sha1(repr(
            (paper.source, paper.abstract, paper.published, paper.url)).encode()).hexdigest()[:12]
    if _row(db, "papers", candidate) is None:
        return candidate
    seed = f"{paper.source}:{paper.source_id}:{norm}:{paper.url}"
    return "paper:" + hashlib.sha1(seed.encode()).hexdigest()[:12]


def _merged_row(old: dict | None, paper: Paper, doi, arxiv_id, paper_id: str, now: str) -> dict:
    old = old or {}
    primary = old.get("source")
    if paper.stub:
        overwrite = False
    elif not primary or old.get("stub"):
        primary, overwrite = paper.source, True
    else:
        overwrite = primary == paper.source
    fresh = {"title": paper.title, "abstract": paper.abstract, "published": paper.published,
             "year": paper.year, "venue": paper.venue, "doi": doi, "arxiv_id": arxiv_id,
             "primary_category": paper.primary_category}
    if fresh["year"] is None and paper.published and paper.published[:4].isdigit():
        fresh["year"] = int(paper.published[:4])
    row: dict[str, Any] = {"id": paper_id}
    for field in PAPER_SCALARS:
        new, have = fresh[field], old.get(field)
        row[field] = new if (new not in (None, "") and (overwrite or have in (None, ""))) else have
    row["categories"] = _union(old.get("categories"), paper.categories)
    row["topics"] = _union(old.get("topics"), paper.topics)
    counts = [c for c in (old.get("citation_count"), paper.citation_count) if c is not None]
    row["citation_count"] = max(counts) if counts else None
    flags = [f for f in (old.get("has_code"), paper.has_code) if f is not None]
    row["has_code"] = int(any(flags)) if flags else None
    row["stub"] = 1 if (paper.stub and old.get("stub", 1)) else 0
    row["source"] = primary or paper.source
    ids = _load(old.get("source_ids"), {})
    if paper.source_id and paper.source not in ids:
        ids[paper.source] = paper.source_id
    row["source_ids"] = json.dumps(ids, sort_keys=True) if ids else None
    extra = _load(old.get("extra"), {})
    for key, value in (paper.extra or {}).items():
        if overwrite or key not in extra:
            extra[key] = value
    row["extra"] = json.dumps(extra, sort_keys=True, ensure_ascii=False) if extra else None
    fallback = paper.url if (overwrite or not old.get("url")) and paper.url else old.get("url")
    row["url"] = canonical_url(row["arxiv_id"], row["doi"], fallback)
    row["first_seen"] = old.get("first_seen") or now
    row["last_seen"] = now
    return row


def _union(stored: str | None, new: list[str]) -> str | None:
    values = list(_load(stored, []))
    values += [v for v in new if v and v not in values]
    return json.dumps(values, ensure_ascii=False) if values else None


def _save_authors(db, paper_id: str, paper: Paper, authoritative: bool) -> None:
    if not paper.authors:
        return
    have = db.conn.execute("SELECT COUNT(*) FROM paper_authors WHERE paper_id = ?",
                           [paper_id]).fetchone()[0]
    if have and not authoritative:
        # Another source's author list: only attach its author ids to names we already hold.
        for author in paper.authors:
            if author.researcher_id:
                db.conn.execute(
                    "UPDATE paper_authors SET researcher_id = ? WHERE paper_id = ? AND "
                    "researcher_id IS NULL AND lower(name) = lower(?)",
                    [author.researcher_id, paper_id, author.name])
        return
    db.conn.execute("DELETE FROM paper_authors WHERE paper_id = ?", [paper_id])
    db.conn.executemany(
        "INSERT OR REPLACE INTO paper_authors (paper_id, position, name, researcher_id, "
        "affiliation) VALUES (?, ?, ?, ?, ?)",
        [(paper_id, a.position, a.name, a.researcher_id, a.affiliation) for a in paper.authors],
    )


def _fold(db, other: str, into: dict | None) -> dict | None:
    """Merge row ``other`` into ``into`` (both rows turned out to be one paper)."""
    victim = _row(db, "papers", other)
    if victim is None or into is None:
        return into
    target = into["id"]
    merged = dict(into)
    for field in PAPER_SCALARS + ("url",):
        if merged.get(field) in (None, "") and victim.get(field) not in (None, ""):
            merged[field] = victim[field]
    merged["categories"] = _union(into.get("categories"), _load(victim.get("categories"), []))
    merged["topics"] = _union(into.get("topics"), _load(victim.get("topics"), []))
    ids = {**_load(victim.get("source_ids"), {}), **_load(into.get("source_ids"), {})}
    merged["source_ids"] = json.dumps(ids, sort_keys=True) if ids else None
    if into.get("stub") and not victim.get("stub"):
        merged["source"], merged["stub"] = victim.get("source"), 0
    merged["first_seen"] = min(filter(None, (into.get("first_seen"), victim.get("first_seen"))))
    run = db.conn.execute
    run("UPDATE paper_keys SET paper_id = ? WHERE paper_id = ?", [target, other])
    run("INSERT OR IGNORE INTO paper_keys (key, paper_id) VALUES (?, ?)", [f"id:{other}", target])
    run("UPDATE OR IGNORE researcher_papers SET paper_id = ? WHERE paper_id = ?", [target, other])
    run("DELETE FROM researcher_papers WHERE paper_id = ?", [other])
    run("UPDATE OR IGNORE mentions SET paper_id = ? WHERE paper_id = ?", [target, other])
    run("DELETE FROM mentions WHERE paper_id = ?", [other])
    if run("SELECT COUNT(*) FROM paper_authors WHERE paper_id = ?", [target]).fetchone()[0]:
        run("DELETE FROM paper_authors WHERE paper_id = ?", [other])
    else:
        run("UPDATE paper_authors SET paper_id = ? WHERE paper_id = ?", [target, other])
    run("DELETE FROM papers WHERE id = ?", [other])
    _write(db, "papers", merged, pk=("id",))
    return merged


# -- stubs and lookups (used by mention detection) ----------------------------------------------


def find_papers_by_keys(db: sqlite_utils.Database, keys: Iterable[str]) -> dict[str, str]:
    """key -> paper id for the keys the archive knows (chunked IN queries)."""
    keys = list(dict.fromkeys(keys))
    found: dict[str, str] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        marks = ", ".join("?" for _ in chunk)
        found.update(db.conn.execute(
            f"SELECT key, paper_id FROM paper_keys WHERE key IN ({marks})", chunk).fetchall())
    return found


def stub_paper(key: str) -> Paper:
    """A placeholder paper for an identifier seen in a mention (``archiver papers --fill``)."""
    kind, value = key.split(":", 1)
    if kind == "arxiv":
        return Paper(source="mention", arxiv_id=value, stub=True,
                     url=f"https://arxiv.org/abs/{value}")
    if kind == "doi":
        return Paper(source="mention", doi=value, stub=True, url=f"https://doi.org/{value}")
    if kind == "openreview":
        return Paper(source="mention", stub=True, extra={"openreview_id": value},
                     url=f"https://openreview.net/forum?id={value}")
    raise ValueError(f"no stub for key {key!r}")


def ensure_stub_papers(db: sqlite_utils.Database, keys: Iterable[str], now: str) -> dict[str, str]:
    """key -> paper id, creating stub rows for unknown keys (call inside a transaction)."""
    keys = list(dict.fromkeys(keys))
    found = find_papers_by_keys(db, keys)
    for key in keys:
        if key not in found:
            found[key], _ = save_paper(db, stub_paper(key), now)
    return found


# -- helpers -------------------------------------------------------------------------------------


def _row(db, table: str, row_id: str | None) -> dict | None:
    if row_id is None:
        return None
    cursor = db.conn.execute(f"SELECT * FROM [{table}] WHERE id = ?", [row_id])
    values = cursor.fetchone()
    if values is None:
        return None
    return dict(zip([d[0] for d in cursor.description], values))


def _write(db, table: str, row: dict, pk: tuple[str, ...]) -> None:
    columns = list(row)
    sets = ", ".join(f"[{c}] = excluded.[{c}]" for c in columns if c not in pk)
    db.conn.execute(
        f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)}) "
        f"ON CONFLICT({', '.join(pk)}) DO UPDATE SET {sets}",
        [row[c] for c in columns],
    )


# Page.other kind -> saver (archiver.store.save.other_savers lists these).
SAVERS: dict[str, Saver] = {
    "researcher_papers": save_researcher_papers_in_page,
    "papers": _papers_saver,
    "researchers": save_researchers,
    "researcher_metrics": save_metrics,
}

__all__ = [
    "ensure_schema", "ensure_stub_papers", "find_papers_by_keys",
    "normalise_arxiv_id", "normalise_doi", "normalise_title", "save_paper", "save_papers",
    "save_researcher_papers", "title_key",
]
