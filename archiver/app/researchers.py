"""Researchers and papers: fetch a profile into the archive, fill stub papers, and report.

The CLI (``archiver researcher``, ``archiver papers``, ``archiver mentions``) and ``sync`` call
these; fetching goes through ``archiver.app.ingest.ingest`` so every run is recorded and mention
detection runs on what changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sqlite_utils

from archiver.app import resolve
from archiver.app.ingest import ingest
from archiver.kernel.errors import UsageError
from archiver.kernel.records import Page
from archiver.sources import arxiv, openalex, registry
from archiver.sources.scholarly import parse_papers_limit
from archiver.store.save import Counts


@dataclass
class FetchResult:
    researcher_id: str
    counts: Counts


def fetch_researcher(db: sqlite_utils.Database, http, query: str, source: str = "openalex",
                     papers: int | str | None = None, pick: int | None = None,
                     forum_user: str | None = None, endpoint: str | None = None,
                     interval: float | None = None,
                     progress: Callable[[int], None] | None = None) -> FetchResult:
    """Resolve ``query`` (id, URL, ORCID or name) in ``source`` and archive the profile, a
    metrics snapshot and the papers (``papers``: a number, "all" or None for all)."""
    module = registry.researcher_source(source)
    limit = parse_papers_limit(papers)
    forum_user_id = resolve.user_id(db, forum_user, "--forum-user") if forum_user else None
    ref = module.resolve_researcher(http, query, pick=pick, endpoint=endpoint, interval=interval)
    pages = module.fetch_researcher(http, ref, papers=limit, endpoint=endpoint,
                                    forum_user_id=forum_user_id, progress=progress,
                                    interval=interval)
    counts = ingest(db, pages, "researcher", f"{source}:{query}", http)
    return FetchResult(ref.id, counts)


def sync_researcher(db, http, query: str, source: str = "openalex", papers="all",
                    forum_user: str | None = None, endpoint: str | None = None) -> Counts:
    """For ``archiver sync``: the watch list's researcher entries."""
    return fetch_researcher(db, http, query, source=source, papers=papers,
                            forum_user=forum_user, endpoint=endpoint).counts


# -- stub papers -----------------------------------------------------------------------------------


def fill_papers(db: sqlite_utils.Database, http, limit: int | None = None,
                arxiv_endpoint: str | None = None, openalex_endpoint: str | None = None,
                interval: float | None = None) -> dict:
    """Fetch metadata for stub papers: arXiv ids via the arXiv API (id_list), DOIs via OpenAlex
    (/works/doi:…). OpenReview stubs stay stubs. Returns counts of what happened."""
    sql = "SELECT id, arxiv_id, doi FROM papers WHERE stub = 1 ORDER BY first_seen, id"
    if limit:
        sql += f" LIMIT {int(limit)}"
    stubs = db.execute(sql).fetchall()
    arxiv_ids = [a for _id, a, _d in stubs if a]
    dois = [d for _id, a, d in stubs if d and not a]
    missing: list[str] = []

    def pages() -> Iterator[Page]:
        if arxiv_ids:
            found = arxiv.fetch_by_ids(http, arxiv_ids, endpoint=arxiv_endpoint,
                                       interval=interval)
            got = {p.arxiv_id for p in found}
            missing.extend(f"arxiv:{a}" for a in arxiv_ids if a not in got)
            if found:
                yield Page(other={"papers": found})
        for doi in dois:
            paper = openalex.fetch_work_by_doi(http, doi, endpoint=openalex_endpoint)
            if paper is None:
                missing.append(f"doi:{doi}")
            else:
                yield Page(other={"papers": [paper]})

    ingest(db, pages(), "papers --fill", f"{len(stubs)} stubs", http)
    ids = [row[0] for row in stubs]
    still = sum(db.execute(
        f"SELECT COUNT(*) FROM papers WHERE stub = 1 AND id IN ({', '.join('?' for _ in chunk)})",
        chunk).fetchone()[0] for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)))
    return {"stubs": len(stubs), "filled": len(stubs) - still, "not_found": missing,
            "still_stub": still}


# -- reading -------------------------------------------------------------------------------------


def _dicts(cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def list_papers(db: sqlite_utils.Database, limit: int | None = None,
                researcher_id: str | None = None) -> list[dict]:
    """Papers, most-mentioned first, with mention and discussion counts."""
    sql = """
        SELECT p.id, p.title, p.year, p.venue, p.doi, p.arxiv_id, p.url, p.stub,
               p.citation_count, p.primary_category,
               COUNT(m.id) AS mentions, COUNT(DISTINCT m.item_table || m.item_id) AS items
        FROM papers p LEFT JOIN mentions m ON m.paper_id = p.id
    """
    params: list = []
    if researcher_id:
        sql += " WHERE p.id IN (SELECT paper_id FROM researcher_papers WHERE researcher_id = ?)"
        params.append(researcher_id)
    sql += " GROUP BY p.id ORDER BY mentions DESC, p.year DESC, p.id"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return _dicts(db.execute(sql, params))


METRICS = ("h_index", "i10_index", "works_count", "citation_count")


def researcher_report(db: sqlite_utils.Database, researcher_id: str) -> dict:
    """Profile, latest metrics with the change since the previous snapshot, paper count, and
    which of the researcher's papers were discussed: where, when and by whom."""
    rows = _dicts(db.execute("SELECT * FROM researchers WHERE id = ?", [researcher_id]))
    if not rows:
        raise UsageError(f"no researcher {researcher_id!r} in the archive")
    profile = rows[0]
    for key in ("affiliations", "topics", "extra"):
        profile[key] = json.loads(profile[key]) if profile.get(key) else None
    snapshots = _dicts(db.execute(
        "SELECT captured_at, h_index, i10_index, works_count, citation_count, extra "
        "FROM researcher_metrics WHERE researcher_id = ? ORDER BY captured_at DESC, id DESC",
        [researcher_id]))
    latest = snapshots[0] if snapshots else None
    previous = snapshots[1] if len(snapshots) > 1 else None
    change = {}
    if latest and previous:
        change = {k: latest[k] - previous[k] for k in METRICS
                  if latest[k] is not None and previous[k] is not None}
    forum_user = None
    if profile.get("forum_user_id"):
        users = _dicts(db.execute("SELECT id, name, slug, url FROM users WHERE id = ?",
                                  [profile["forum_user_id"]]))
        forum_user = users[0] if users else {"id": profile["forum_user_id"]}
    paper_count = db.execute("SELECT COUNT(*) FROM researcher_papers WHERE researcher_id = ?",
                             [researcher_id]).fetchone()[0]
    return {"researcher": profile, "forum_user": forum_user, "metrics": latest,
            "previous": previous, "change": change, "snapshots": len(snapshots),
            "papers": paper_count, "discussed": discussed_papers(db, researcher_id)}


def discussed_papers(db: sqlite_utils.Database, researcher_id: str) -> list[dict]:
    """The researcher's papers that posts or comments mention, most-discussed first."""
    mentions = _dicts(db.execute(
        """SELECT d.paper_id, p.title, p.year, p.url AS paper_url, d.item_table, d.item_id,
                  d.post_id, d.post_title, d.author, d.user_id, d.posted_at, d.url, d.how
           FROM mention_details d
           JOIN researcher_papers rp ON rp.paper_id = d.paper_id AND rp.researcher_id = ?
           JOIN papers p ON p.id = d.paper_id
           ORDER BY d.posted_at, d.id""", [researcher_id]))
    papers: dict[str, dict] = {}
    for m in mentions:
        entry = papers.setdefault(m["paper_id"], {
            "paper_id": m["paper_id"], "title": m["title"], "year": m["year"],
            "url": m["paper_url"], "where": {}})
        key = (m["item_table"], m["item_id"])
        where = entry["where"].setdefault(key, {
            "item_table": m["item_table"], "item_id": m["item_id"], "post_id": m["post_id"],
            "post_title": m["post_title"], "author": m["author"], "user_id": m["user_id"],
            "posted_at": m["posted_at"], "url": m["url"], "how": []})
        if m["how"] not in where["how"]:
            where["how"].append(m["how"])
    result = []
    for entry in papers.values():
        entry["where"] = list(entry["where"].values())
        entry["mentions"] = len(entry["where"])
        result.append(entry)
    result.sort(key=lambda e: (-e["mentions"], e["title"] or ""))
    return result
