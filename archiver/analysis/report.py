"""Topic and thread reports: Markdown and a self-contained HTML page, stored and written to disk.

A report holds the summary (a link to the source after each sentence), the most active threads,
the key exchanges (most replied-to quotes, who pushed back on whom; from the ``exchanges`` table),
the papers discussed with their authors (``mentions``/``papers``/``paper_authors``), the top
contributors and an activity-over-time chart (matplotlib, embedded in the HTML as a PNG and
written beside the Markdown). Tables owned by other modules are read only when they exist.
"""

from __future__ import annotations

import base64
import functools
import io
import logging
import math
import os
import re
import sqlite3
import threading
import warnings as warnings_mod
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlite_utils

from archiver.analysis import quotes as Q
from archiver.analysis import sentences as splitter
from archiver.analysis import stance, topics
from archiver.analysis import summarize as summ
from archiver.analysis.choices import REPORT_FORMATS
from archiver.analysis.period import period_sql
from archiver.kernel.display import (
    html_escape,
    html_link,
    md_escape,
    md_link,
    md_url,
    safe_json,
)
from archiver.kernel.errors import ArchiverError, PartialFailure, UsageError
from archiver.kernel.parse import parse_date
from archiver.kernel.records import now_utc

log = logging.getLogger(__name__)

FORMATS = REPORT_FORMATS


@dataclass
class Report:
    summary: summ.Summary
    data: dict
    markdown: str = ""
    html: str = ""
    png: bytes | None = None
    slug: str = ""
    summary_id: int | None = None
    paths: list[str] = field(default_factory=list)


def make_reports(db: sqlite_utils.Database, topic: str | None = None, thread: str | None = None,
                 all_topics: bool = False, since: str | None = None, until: str | None = None,
                 sentences: int = 7, llm_model: str | None = None, out_dir: str | None = None,
                 store: bool = True, config_topics: list[dict] | None = None,
                 failures: list[str] | None = None) -> tuple[list[Report], list[str]]:
    """Summarise one topic, one thread or every active topic; render, store and write reports.

    Returns the reports and the warnings to show once (e.g. the --llm model was unavailable).
    With ``all_topics`` and a ``failures`` list, a topic whose report fails is skipped and named
    in ``failures`` ("name: why") while the others are still made; otherwise errors propagate.
    """
    if sum(bool(x) for x in (topic, thread, all_topics)) != 1:
        raise UsageError("give exactly one of TOPIC, --thread POST or --all")
    if sentences < 1:
        raise UsageError("--sentences must be at least 1")
    since, until = parse_date(since, "--since"), parse_date(until, "--until")
    if not thread:
        topics.refresh(db, config_topics)
    reports: list[Report] = []
    warnings: list[str] = []
    slugs: set[str] = set()
    for name, summarise in _jobs(db, topic, thread, since, until, sentences):
        try:
            report, problems = _make_one(db, summarise(), llm_model, slugs, store, out_dir)
        except (sqlite3.Error, OSError):
            raise  # the database or the output folder: every other topic would fail the same way
        except Exception as exc:
            if failures is None or not all_topics:
                raise
            log.info("the report on topic %r failed", name, exc_info=True)
            failures.append(f"{name}: {_reason(exc)}")
            continue
        if problems:  # one warning, and no more attempts with a model that failed
            warnings += problems
            llm_model = None
        reports.append(report)
    return reports, warnings


def _make_one(db, summary: summ.Summary, llm_model: str | None, slugs: set[str], store: bool,
              out_dir: str | None) -> tuple[Report, list[str]]:
    """One report: the --llm abstract, the rendering, the stored row, the files."""
    problems = summ.add_abstract([summary], llm_model)
    report = build(db, summary, slugs)
    if store:
        report.summary_id = summ.save_summary(db, report.summary, report.markdown, report.html,
                                              report.data)
        report.data["summary_id"] = report.summary_id
    if out_dir:
        write(report, out_dir)
    return report, problems


def _jobs(db, topic, thread, since, until, sentences) -> list[tuple[str, object]]:
    """(name, function making its Summary) for the thread, the topic, or every active topic."""
    if thread:
        return [(thread, lambda: summ.summarize_thread(db, thread, since, until, sentences))]
    if topic:
        return [(topic, lambda: summ.summarize_topic(db, topic, since, until, sentences))]
    return [(t["name"], functools.partial(summ.summarize_topic, db, t["id"], since, until,
                                          sentences))
            for t in summ.topics_to_summarize(db, since, until)]


def failed(failures: list[str], made: int) -> ArchiverError:
    """The error for a batch in which some topics failed: exit 3 if others were made, else 1."""
    names = "; ".join(failures)
    if made:
        return PartialFailure(f"{len(failures)} topic report(s) failed ({names}); the other "
                              f"{made} were made (-v shows the traceback)")
    return ArchiverError(f"every topic report failed ({names}); -v shows the traceback")


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def build(db: sqlite_utils.Database, summary: summ.Summary,
          taken: set[str] | None = None) -> Report:
    """Render one summary's report. ``taken``: file names already used in this batch (two
    topics whose names make the same slug, e.g. two non-Latin names, must not overwrite each
    other's files)."""
    scope = _scope(summary)
    data = summary.as_dict()
    data["created_at"] = now_utc()
    data["threads"] = active_threads(db, scope, summary.since, summary.until)
    rows = _scope_exchanges(db, scope, summary.since, summary.until)
    data["exchanges"] = key_exchanges(db, scope, summary.since, summary.until, rows=rows)
    data["debates"] = debates(db, scope, summary.since, summary.until, rows=rows)
    mark_disputed(db, data["summary"], rows or [])
    for number, source in (data.get("abstract") or {}).get("citations", {}).items():
        source.update(data["summary"][int(number) - 1])  # the same sentence, disputes and all
    data["papers"] = papers_discussed(db, scope, summary.since, summary.until)
    add_discussers(db, scope, summary.since, summary.until, data["papers"])
    data["contributors"] = top_contributors(db, scope, summary.since, summary.until)
    data["activity"] = activity(db, scope, summary.since, summary.until)
    name = slug(("thread-" if summary.post_id else "") + summary.title)
    if taken is not None:
        if name in taken:
            name = f"{name}-{scope[1]}" if scope[0] == "topic" else f"{name}-{len(taken)}"
        taken.add(name)
    report = Report(summary, data, slug=name)
    report.png = chart(data["activity"], summary.title)
    report.markdown = to_markdown(data, f"{report.slug}-activity.png" if report.png else None)
    report.html = to_html(data, report.png)
    return report


def write(report: Report, out_dir: str) -> list[str]:
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, report.slug)
    files = {f"{base}.md": report.markdown, f"{base}.html": report.html,
             f"{base}.json": safe_json(report.data, indent=2)}
    for path, text in files.items():
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    report.paths = list(files)
    if report.png:
        with open(f"{base}-activity.png", "wb") as handle:
            handle.write(report.png)
        report.paths.append(f"{base}-activity.png")
    return report.paths


def slug(text: str) -> str:
    value = re.sub(r"[^a-z0-9]+", "-", (text or "report").lower()).strip("-")
    return value[:60].rstrip("-") or "report"


# -- what the report shows ---------------------------------------------------------------------


def _scope(summary: summ.Summary) -> tuple[str, str | int]:
    if summary.post_id:
        return ("thread", summary.post_id)
    return ("topic", summary.topic["id"])


def _items_cte(scope: tuple[str, str | int], since: str | None, until: str | None) -> tuple[str, list]:
    """A CTE ``items(item_table, item_id, post_id, author, posted_at, score)`` for the scope."""
    kind, key = scope
    clause, params = period_sql("posted_at", since, until)
    period = ("WHERE " + clause[len(" AND "):]) if clause else ""
    if kind == "thread":
        body = ("SELECT 'posts' AS item_table, id AS item_id, id AS post_id, author, posted_at, "
                "score FROM posts WHERE id = ? UNION ALL SELECT 'comments', id, post_id, author, "
                "posted_at, score FROM comments WHERE post_id = ?")
        base = [key, key]
    else:
        body = ("SELECT ti.item_table, ti.item_id, p.id AS post_id, p.author, p.posted_at, p.score "
                "FROM topic_items ti JOIN posts p ON ti.item_table = 'posts' AND p.id = ti.item_id "
                "WHERE ti.topic_id = ? AND p.stub = 0 UNION ALL "
                "SELECT ti.item_table, ti.item_id, c.post_id, c.author, c.posted_at, c.score "
                "FROM topic_items ti JOIN comments c ON ti.item_table = 'comments' "
                "AND c.id = ti.item_id WHERE ti.topic_id = ?")
        base = [key, key]
    return f"WITH items AS (SELECT * FROM ({body}) {period})", base + params


def active_threads(db, scope, since, until, limit: int = 10) -> list[dict]:
    """The threads of the scope, most important first, each with a one-line gist.

    Importance adds (in logs) the post's score, all its comments (not only those on topic), the
    exchanges in it and its topic weight (the topic scores of its items); a new post with no
    comments ranks below a discussed one. ``on_topic`` counts the comments that match."""
    cte, params = _items_cte(scope, since, until)
    has_exchanges = _has(db, "exchanges", {"post_id"})
    exchanges = ("(SELECT count(*) FROM exchanges x WHERE x.post_id = p.id)" if has_exchanges
                 else "0")
    # The topic weight of a thread: how many of its items are in the scope.
    rows = db.execute(f"""{cte}
        SELECT p.id, p.title, p.url, p.author, sum(i.item_table = 'comments') AS on_topic,
               count(DISTINCT i.author) AS people, max(i.posted_at) AS latest,
               (SELECT count(*) FROM comments c WHERE c.post_id = p.id) AS comments,
               COALESCE(p.score, 0), {exchanges}, count(*)
        FROM items i JOIN posts p ON p.id = i.post_id
        GROUP BY p.id""", params).fetchall()
    keys = ("id", "title", "url", "author", "on_topic", "people", "latest", "comments", "score",
            "exchanges", "topic_weight")
    threads = []
    for row in rows:
        thread = dict(zip(keys, row))
        thread["importance"] = round(
            math.log1p(max(thread["score"], 0)) + math.log1p(thread["comments"])
            + 0.5 * math.log1p(thread["exchanges"]) + math.log1p(thread["topic_weight"] or 0), 3)
        threads.append(thread)
    threads.sort(key=lambda t: (-t["importance"], t["id"]))
    for thread in threads[:limit]:
        body = db.execute("SELECT body_text FROM posts WHERE id = ?", [thread["id"]]).fetchone()
        thread["gist"] = _gist(body[0] if body else None)
    return threads[:limit]


def _gist(body: str | None) -> str | None:
    """The one sentence of a post that best says what it is about (its summary of one)."""
    units = summ.units_from_text(body or "", "gist")
    for i, unit in enumerate(units):
        unit.order = i
    picked = summ.rank(units, 1, max_chars=None)
    return _short(picked[0].text, 200) if picked else None


def top_contributors(db, scope, since, until, limit: int = 10) -> list[dict]:
    cte, params = _items_cte(scope, since, until)
    rows = db.execute(f"""{cte}
        SELECT author, sum(item_table = 'posts'), sum(item_table = 'comments'),
               sum(COALESCE(score, 0)) FROM items WHERE author IS NOT NULL
        GROUP BY author ORDER BY count(*) DESC, 4 DESC, author LIMIT ?""",
                      [*params, limit]).fetchall()
    return [{"author": a, "posts": p, "comments": c, "score": s} for a, p, c, s in rows]


def activity(db, scope, since, until) -> list[dict]:
    """Items per day, week or month (by the span of the period)."""
    cte, params = _items_cte(scope, since, until)
    days = db.execute(f"""{cte}
        SELECT substr(posted_at, 1, 10) AS day, count(*) FROM items
        WHERE posted_at IS NOT NULL GROUP BY day ORDER BY day""", params).fetchall()
    parsed = []
    for day, count in days:
        try:
            parsed.append((date.fromisoformat(day), count))
        except ValueError:
            continue
    if not parsed:
        return []
    span = (parsed[-1][0] - parsed[0][0]).days
    buckets: dict[date, int] = {}
    for day, count in parsed:
        if span <= 62:
            key = day
        elif span <= 730:
            key = day - timedelta(days=day.weekday())
        else:
            key = day.replace(day=1)
        buckets[key] = buckets.get(key, 0) + count
    unit = "day" if span <= 62 else "week" if span <= 730 else "month"
    return [{"period": k.isoformat(), "unit": unit, "items": v} for k, v in sorted(buckets.items())]


def _has(db, table: str, columns: set[str]) -> bool:
    return db[table].exists() and columns <= set(db[table].columns_dict)


def key_exchanges(db, scope, since, until, limit: int = 5, rows: list[dict] | None = None
                  ) -> dict:
    """The most replied-to quotes and who disputed whom, if exchanges were extracted.

    Only replies classified as disputing (archiver.analysis.stance) count as pushback: "Agreed
    with Chen here" or ":-|" is not pushback."""
    if rows is None:
        rows = _scope_exchanges(db, scope, since, until)
    if not rows:
        return {"quotes": [], "pairs": []}
    by_quote: dict[tuple, list[dict]] = {}
    for row in rows:
        by_quote.setdefault((row["source_id"], row["quote"]), []).append(row)
    ranked = sorted(by_quote.values(), key=lambda rs: (-len(rs), rs[0]["source_id"] or ""))
    urls = _urls(db, [rs[0]["item_id"] for rs in ranked[:limit]])
    quotes = [{"source_id": rs[0]["source_id"], "source_author": rs[0]["source_author"],
               "quote": rs[0]["quote"], "replies": len(rs),
               "repliers": sorted({r["quoter_author"] or "" for r in rs}),
               "reply_id": min(r["item_id"] for r in rs),
               "reply_url": urls.get(min(r["item_id"] for r in rs)), "kind": rs[0]["kind"],
               "stances": sorted({r["stance"] for r in rs})} for rs in ranked[:limit]]
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        quoter, quoted = row["quoter_author"], row["source_author"]
        if quoter and quoted and quoter != quoted and stance.is_pushback(row["stance"]):
            counts[(quoter, quoted)] = counts.get((quoter, quoted), 0) + 1
    pairs = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return {"quotes": quotes,
            "pairs": [{"replier": q, "quoted": s, "times": n} for (q, s), n in pairs]}


EXCHANGE_FIELDS = ("id", "item_id", "quoter_author", "quote", "reply", "source_id",
                   "source_author", "kind", "posted_at")


def _scope_exchanges(db, scope, since, until) -> list[dict] | None:
    """The exchanges in scope (the reply, its source or its thread's post is), each with its
    reply's stance; None without the table. A topic's debate runs in comments that need not
    match the topic themselves."""
    if not _has(db, "exchanges", {"item_id", "quote", "source_id", "source_author",
                                  "quoter_author"}):
        return None
    cte, params = _items_cte(scope, since, until)
    columns = set(db["exchanges"].columns_dict)
    picked = ", ".join(f"e.{c}" if c in columns else "NULL" for c in EXCHANGE_FIELDS)
    rows = db.execute(f"""{cte}
        SELECT {picked} FROM exchanges e
        WHERE e.quote IS NOT NULL AND (e.item_id IN (SELECT item_id FROM items)
              OR e.source_id IN (SELECT item_id FROM items)
              OR e.post_id IN (SELECT item_id FROM items WHERE item_table = 'posts'))
        ORDER BY e.posted_at, e.id""", params).fetchall()
    return [_with_stance(dict(zip(EXCHANGE_FIELDS, r))) for r in rows]


def _with_stance(row: dict) -> dict:
    row["stance"] = stance.classify(row.get("reply"), row.get("quote"))
    return row


def debates(db, scope, since, until, limit: int = 5, rows: list[dict] | None = None
            ) -> list[dict]:
    """Claim -> rebuttal -> response: a quoted passage, the replies to it (disputes first), and
    the replies to those replies (quoting them, or answering them as child comments)."""
    if rows is None:
        rows = _scope_exchanges(db, scope, since, until)
    if not rows:
        return []
    claims: dict[tuple, list[dict]] = {}
    by_source: dict[str, list[tuple]] = {}
    for row in rows:
        if row["quoter_author"] and row["quoter_author"] == row["source_author"]:
            continue  # a writer quoting themselves is not a debate
        claims.setdefault(_claim_key(claims, by_source, row), []).append(row)
    # Only the most contested claims are built out (their responses cost queries).
    ranked = sorted(claims.items(), key=lambda kv: (
        -sum(r["stance"] == "disputes" for r in kv[1]), -len(kv[1]), kv[0][0] or ""))
    built = []
    for (source_id, quote), replies in ranked[:4 * limit]:
        replies.sort(key=lambda r: (r["stance"] != "disputes", r["posted_at"] or "", r["id"]))
        turns = [_turn(db, r, _responses(db, r["item_id"])) for r in replies[:3]]
        built.append({"claim": quote, "claim_author": replies[0]["source_author"],
                      "claim_id": source_id, "claim_kind": replies[0]["kind"],
                      "claim_url": _urls(db, [source_id]).get(source_id) if source_id else None,
                      "claim_title": _title(db, source_id), "replies": turns})
    # Most contested first: disputes, then the number of turns.
    built.sort(key=lambda d: (-sum(_count(t, "disputes") for t in d["replies"]),
                              -sum(_count(t, None) for t in d["replies"]), d["claim_id"] or ""))
    shown: set[str] = set()
    out = []
    for debate in built:
        ids = {t["id"] for t in debate["replies"]}
        if ids <= shown:
            continue  # already shown as a response within a bigger debate
        shown |= ids | {r["id"] for t in debate["replies"] for r in t["responses"]}
        out.append(debate)
    return out[:limit]


def _claim_key(claims: dict, by_source: dict, row: dict) -> tuple:
    """The claim a quote belongs to: one already seen from the same source whose text holds
    this quote or is held by it (two replies quoting more or less of one sentence), else its
    own; the longer quote is kept as the claim's text."""
    source, quote = row["source_id"], _norm(row["quote"])
    keys = by_source.setdefault(source, []) if source else []
    for index, key in enumerate(keys):
        if _overlaps(_norm(key[1]), quote):
            if len(row["quote"] or "") > len(key[1] or ""):
                claims[(source, row["quote"])] = claims.pop(key)
                keys[index] = (source, row["quote"])
            return keys[index]
    keys.append((source, row["quote"]))
    return (source, row["quote"])


def _count(turn: dict, which: str | None) -> int:
    own = 1 if which is None or turn["stance"] == which else 0
    return own + sum(_count(r, which) for r in turn.get("responses", []))


def _turn(db, row: dict, responses: list[dict]) -> dict:
    url = _urls(db, [row["item_id"]]).get(row["item_id"])
    return {"author": row["quoter_author"], "id": row["item_id"], "url": url,
            "stance": row["stance"], "text": _opening(row["reply"]),
            "responses": [_turn(db, r, []) for r in responses]}


def _responses(db, item_id: str, limit: int = 3) -> list[dict]:
    """Replies to ``item_id``: exchanges quoting it, then child comments that do not quote."""
    found = []
    if _has(db, "exchanges", {"source_id"}):
        columns = set(db["exchanges"].columns_dict)
        picked = ", ".join(c if c in columns else "NULL" for c in EXCHANGE_FIELDS)
        found = [_with_stance(dict(zip(EXCHANGE_FIELDS, r))) for r in db.execute(
            f"SELECT {picked} FROM exchanges WHERE source_id = ? AND quote IS NOT NULL "
            "ORDER BY posted_at, id", [item_id])]
    seen = {r["item_id"] for r in found}
    for cid, author, body, posted in db.execute(
            "SELECT id, author, body_text, posted_at FROM comments WHERE parent_id = ? "
            "AND body_text IS NOT NULL ORDER BY posted_at, id", [item_id]):
        if cid not in seen:
            own = Q.own_text(body)
            found.append(_with_stance({"id": 0, "item_id": cid, "quoter_author": author,
                                       "reply": own, "posted_at": posted}))
    return found[:limit]


def _opening(text: str | None, limit: int = 280) -> str:
    """The start of a reply: its first sentences, up to ``limit`` characters."""
    parts, used = [], 0
    for sentence in splitter.split(text):
        if sentence.kind in ("quote", "code", "heading"):
            continue
        if parts and used + len(sentence.text) > limit:
            break
        parts.append(sentence.text)
        used += len(sentence.text) + 1
    return _short(" ".join(parts), limit)


def _title(db, item_id: str | None) -> str | None:
    if not item_id:
        return None
    row = db.execute("SELECT title FROM posts WHERE id = ? UNION ALL SELECT p.title FROM "
                     "comments c JOIN posts p ON p.id = c.post_id WHERE c.id = ?",
                     [item_id, item_id]).fetchone()
    return row[0] if row else None


def mark_disputed(db, sentences: list[dict], rows: list[dict]) -> None:
    """Add ``disputed_by`` (author, id, url) to each summary sentence a disputing reply quoted."""
    for sentence in sentences:
        text = _norm(sentence["text"])
        found = [{"author": row["quoter_author"], "id": row["item_id"]} for row in rows
                 if row["source_id"] == sentence["source_id"] and row["stance"] == "disputes"
                 and (_overlaps(_norm(row["quote"]), text)
                      or _shares_fragment(row["quote"], sentence["text"]))]
        if found:
            urls = _urls(db, [d["id"] for d in found])
            sentence["disputed_by"] = [{**d, "url": urls.get(d["id"])} for d in found]


def _shares_fragment(quote: str | None, sentence: str) -> bool:
    """A quote with cuts ("[...]", "...") or edits: one of its long pieces is in the sentence."""
    norm = Q.normalize(sentence)
    return any(len(f) >= Q.MIN_FRAGMENT and f in norm for f in Q.fragments(quote or ""))


def _overlaps(quote: str, text: str) -> bool:
    return bool(quote and text) and (quote in text or text in quote)


def _norm(text: str | None) -> str:
    return re.sub(r"\W+", " ", (text or "").lower()).strip()


def _urls(db, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    rows = db.execute(f"SELECT id, url FROM comments WHERE id IN ({marks}) UNION ALL "
                      f"SELECT id, url FROM posts WHERE id IN ({marks})", ids + ids).fetchall()
    return {i: u for i, u in rows if u}


def papers_discussed(db, scope, since, until, limit: int = 10) -> list[dict]:
    """Papers mentioned by the items (and, for arXiv topics, the member papers)."""
    if not _has(db, "papers", {"id", "title"}):
        return []
    counts: dict[str, int] = {}
    if _has(db, "mentions", {"item_table", "item_id", "paper_id"}):
        cte, params = _items_cte(scope, since, until)
        for paper_id, n in db.execute(f"""{cte}
                SELECT m.paper_id, count(DISTINCT m.item_id) FROM mentions m
                JOIN items i ON i.item_table = m.item_table AND i.item_id = m.item_id
                GROUP BY m.paper_id""", params):
            counts[paper_id] = n
    if scope[0] == "topic":
        for (paper_id,) in db.execute("SELECT item_id FROM topic_items WHERE topic_id = ? AND "
                                      "item_table = 'papers'", [scope[1]]):
            counts.setdefault(paper_id, 0)
    if not counts:
        return []
    top = sorted(counts, key=lambda p: (-counts[p], p))[:limit]
    marks = ", ".join("?" for _ in top)
    present = db["papers"].columns_dict
    picked = ", ".join(c if c in present else "NULL" for c in ("url", "arxiv_id", "doi"))
    rows = {r[0]: r for r in db.execute(
        f"SELECT id, title, {picked} FROM papers WHERE id IN ({marks})", top)}
    authors = _paper_authors(db, top)
    return [{"id": p, "title": rows[p][1], "label": paper_label(*rows[p][:2], *rows[p][3:]),
             "url": rows[p][2], "mentions": counts[p], "authors": authors.get(p, [])}
            for p in top if p in rows]


def paper_label(paper_id: str, title: str | None, arxiv_id: str | None = None,
                doi: str | None = None) -> str:
    """What to call a paper: its title, or for a stub (no title until `papers --fill`) its
    arXiv id or DOI."""
    if title and title.strip():
        return title
    if arxiv_id:
        return f"arXiv:{arxiv_id}"
    if doi:
        return f"doi:{doi}"
    return paper_id


def add_discussers(db, scope, since, until, papers: list[dict], limit: int = 5) -> None:
    """``discussed_by``: who (in the scope and period) mentioned each paper, most often first."""
    if not papers or not _has(db, "mentions", {"item_table", "item_id", "paper_id"}):
        return
    cte, params = _items_cte(scope, since, until)
    marks = ", ".join("?" for _ in papers)
    who: dict[str, list[str]] = {}
    for paper_id, author, _n in db.execute(f"""{cte}
            SELECT m.paper_id, i.author, count(*) AS n FROM mentions m
            JOIN items i ON i.item_table = m.item_table AND i.item_id = m.item_id
            WHERE i.author IS NOT NULL AND m.paper_id IN ({marks})
            GROUP BY m.paper_id, i.author ORDER BY n DESC, i.author""",
                                           [*params, *[p["id"] for p in papers]]):
        who.setdefault(paper_id, []).append(author)
    for paper in papers:
        paper["discussed_by"] = who.get(paper["id"], [])[:limit]


def _paper_authors(db, paper_ids: list[str]) -> dict[str, list[str]]:
    if not _has(db, "paper_authors", {"paper_id", "name"}):
        return {}
    order = "position" if "position" in db["paper_authors"].columns_dict else "rowid"
    marks = ", ".join("?" for _ in paper_ids)
    out: dict[str, list[str]] = {}
    for paper_id, name in db.execute(f"SELECT paper_id, name FROM paper_authors WHERE paper_id "
                                     f"IN ({marks}) AND name IS NOT NULL "
                                     f"ORDER BY paper_id, {order}", paper_ids):
        out.setdefault(paper_id, []).append(name)
    return out


# -- the chart ---------------------------------------------------------------------------------


def chart(points: list[dict], title: str) -> bytes | None:
    """A bar chart of items over time as PNG bytes (matplotlib's Agg canvas, no pyplot)."""
    if not points:
        return None
    from matplotlib.collections import PolyCollection
    from matplotlib.dates import date2num

    days = [date.fromisoformat(p["period"]) for p in points]
    widths = {"day": 0.8, "week": 6, "month": 26}[points[0]["unit"]]
    counts = [p["items"] for p in points]
    # The title is upstream text: plain text, never mathtext ("$x^{$" is not a formula).
    one_line = " ".join(f"Activity: {title}".split())[:90]
    buffer = io.BytesIO()
    with _CHART_LOCK:
        figure, axes = _chart_frame()
        for old in list(axes.collections):
            old.remove()
        # One collection of rectangles rather than ``bar``'s one patch per bar (a patch each
        # costs more than drawing it).
        axes.add_collection(PolyCollection(
            [[(x, 0), (x, n), (x + widths, n), (x + widths, 0)]
             for x, n in zip(date2num(days), counts)], facecolors="#4a7ebb", edgecolors="none"))
        axes.set_xlim(*_x_limits(days[0], days[-1], widths))
        axes.set_ylim(0, max(max(counts), 1) * 1.05)
        axes.set_ylabel(f"items per {points[0]['unit']}")
        axes.set_title(one_line, fontsize=10, parse_math=False, usetex=False, y=1.02)
        with warnings_mod.catch_warnings():
            # A title in a script the font lacks draws boxes; one warning per glyph is noise.
            warnings_mod.filterwarnings("ignore", message="Glyph .* missing from",
                                        category=UserWarning)
            figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


# One figure drawn again for every chart (a report run draws one per topic): making the figure,
# its axes and their tick artists costs as much as drawing them. The lock keeps two threads (the
# web plugin's) from drawing into it at once.
_CHART_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _chart_frame():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(7.5, 2.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.xaxis_date()
    axes.spines[["top", "right"]].set_visible(False)
    # Few ticks: each is three artists measured on every draw (the chart's main cost), and eight
    # dates / five counts read as well as a dozen. The title's position is fixed (y above), so
    # matplotlib need not measure the tick labels to place it.
    axes.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    axes.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=8))
    axes.xaxis.set_major_formatter(ConciseDateFormatter(axes.xaxis.get_major_locator()))
    axes.tick_params(axis="x", labelsize=8)
    # Fixed margins instead of tight_layout, which draws the figure an extra time.
    figure.subplots_adjust(left=0.09, right=0.98, bottom=0.14, top=0.88)
    return figure, axes


def _x_limits(first: date, last: date, width: float) -> tuple[float, float]:
    """The x range with a small margin, kept inside the years matplotlib can draw (1-9999):
    its automatic margin around an item dated 0001 or 9999 would fall outside and raise."""
    from matplotlib.dates import date2num

    low, high = date2num(first), date2num(last) + width
    pad = max((high - low) * 0.05, 1.0)  # matplotlib's own default margin is 5%
    return (max(low - pad, date2num(date.min)),
            min(high + pad, date2num(date.max) + 0.99))


# -- rendering ---------------------------------------------------------------------------------


def _period_text(data: dict) -> str:
    since, until = data["period"]["since"], data["period"]["until"]
    if since and until:
        return f"{since} to {until}"
    if since:
        return f"since {since}"
    if until:
        return f"until {until}"
    return "all time"


def _cited_markdown(text: str, citations: dict) -> str:
    """The abstract as escaped Markdown; [n] becomes a link to sentence n's source."""
    def link(match):
        source = citations.get(match.group(1)) or {}
        target = md_url(source.get("source_url"))
        return f"[\\[{match.group(1)}\\]]({target})" if target else match.group(0)
    paragraphs = [md_escape(p) for p in re.split(r"\n\s*\n", text or "") if p.strip()]
    return re.sub(r"\\\[(\d+)\\\]", link, "\n\n".join(paragraphs))


def _cited_html(text: str, citations: dict) -> str:
    """The abstract as HTML; [n] becomes a link to sentence n's source."""
    def link(match):
        source = citations.get(match.group(1)) or {}
        return html_link(match.group(0), source.get("source_url"))
    return re.sub(r"\[(\d+)\]", link, html_escape(text))


def _authors(paper: dict) -> str:
    names = paper["authors"]
    return ", ".join(names[:6]) + (" et al." if len(names) > 6 else "")


def to_markdown(data: dict, image: str | None) -> str:
    """The report as Markdown. Upstream text is escaped (a title cannot become a link) and only
    http(s)/mailto URLs become links."""
    lines = [f"# {md_escape(data['title'])}", "",
             f"_{_period_text(data)} · {data['items']} items read · method {data['method']} · "
             f"generated {data['created_at']}_", "", "## Summary", ""]
    if data.get("abstract"):
        lines += [_cited_markdown(data["abstract"]["text"], data["abstract"]["citations"]), "",
                  f"_Written by {md_escape(data['abstract']['model'])} from the sentences "
                  "below._", ""]
    if not data["summary"]:
        lines += ["_Nothing to summarise in this period._", ""]
    for i, s in enumerate(data["summary"], 1):
        lines.append(f"{i}. {md_escape(s['text'])} — {_md_source(s)}{_md_disputed(s)}")
    lines.append("")
    if data.get("structure"):
        lines += _md_structure(data["structure"])
    if data["threads"]:
        lines += ["## Threads, most important first", "",
                  "_Importance: score, comments, exchanges and topic weight. Comments: all in "
                  "the thread (on topic: those matching)._", "",
                  "| Thread | Gist | Comments (on topic) | People | Latest |", "|---|---|---|---|---|"]
        for t in data["threads"]:
            cell = md_link(t["title"] or t["id"], t["url"])
            lines.append(f"| {cell} | {md_escape(t.get('gist') or '')} | {t['comments']} "
                         f"({t.get('on_topic', t['comments'])}) | {t['people']} | "
                         f"{(t['latest'] or '')[:10]} |")
        lines.append("")
    exchanges = data["exchanges"]
    if data.get("debates") or exchanges["pairs"]:
        lines += ["## Key exchanges", ""]
        for debate in data.get("debates", []):
            lines += _md_debate(debate)
        if exchanges["pairs"]:
            lines += ["Who disputed whom (replies classified as disputing):", "",
                      "| Replier | Disputed | Times |", "|---|---|---|"]
            lines += [f"| {md_escape(p['replier'])} | {md_escape(p['quoted'])} | {p['times']} |"
                      for p in exchanges["pairs"]]
            lines.append("")
    if data["papers"]:
        lines += ["## Papers discussed", ""]
        for p in data["papers"]:
            authors = _authors(p)
            lines.append(f"- {md_link(p['label'], p.get('url'))}" + (f" — {md_escape(authors)}" if authors else "")
                         + f" ({p['mentions']} mentions)" + _md_discussers(p))
        lines.append("")
    if data["contributors"]:
        lines += ["## Top contributors", "", "| Author | Posts | Comments | Score |",
                  "|---|---|---|---|"]
        lines += [f"| {md_escape(c['author'])} | {c['posts']} | {c['comments']} | {c['score']} |"
                  for c in data["contributors"]]
        lines.append("")
    if image:
        lines += ["## Activity", "", f"![Activity over time]({image})", ""]
    return "\n".join(lines)


def _md_source(s: dict) -> str:
    """"Ada Quint, in [Post title](url)": who said it and where, with the link."""
    author = md_escape(s.get("author") or "unknown")
    title = s.get("title")
    if not title:
        return md_link(s.get("author") or s["source_id"], s.get("source_url"))
    where = "in" if s.get("source_kind") == "post" else "commenting on"
    return f"{author}, {where} {md_link(_short(title, 90), s.get('source_url'))}"


def _md_disputed(s: dict) -> str:
    who = [md_link(d["author"] or "someone", d.get("url")) for d in s.get("disputed_by", [])]
    return f" **(disputed by {', '.join(who)})**" if who else ""


def _md_structure(structure: dict) -> list[str]:
    """A thread's question or claim, then its main answers and objections."""
    lines = ["## The discussion", ""]
    opening = structure.get("opening")
    if opening:
        who = md_link(opening["author"] or "unknown", opening.get("url"))
        lines += [f"**{opening['kind'].capitalize()}** ({who}): {md_escape(opening['text'])}", ""]
    for name, key in (("Answers", "answers"), ("Objections", "objections")):
        if structure.get(key):
            lines += [f"{name}:", ""]
            lines += [f"- **{md_link(a['author'] or 'unknown', a.get('url'))}** _{a['stance']}_: "
                      f"{md_escape(a['text'])}" for a in structure[key]]
            lines.append("")
    return lines


def _md_discussers(paper: dict, plain: bool = False) -> str:
    names = paper.get("discussed_by") or []
    if not names:
        return ""
    return "; discussed by " + ", ".join(names if plain else [md_escape(n) for n in names])


def _md_debate(debate: dict) -> list[str]:
    where = f", in {md_link(_short(debate['claim_title'], 90), debate['claim_url'])}" \
        if debate.get("claim_title") else ""
    lines = [f"> {md_escape(_short(debate['claim']))}", "",
             f"— {md_escape(debate['claim_author'] or 'unknown')}{where}", ""]
    for turn in debate["replies"]:
        lines.append(f"- {_md_turn(turn)}")
        lines += [f"  - {_md_turn(r)}" for r in turn["responses"]]
    return lines + [""]


def _md_turn(turn: dict) -> str:
    who = md_link(turn["author"] or "unknown", turn.get("url"))
    return f"**{who}** _{turn['stance']}_: {md_escape(turn['text'])}"


def _short(text: str, limit: int = 300) -> str:
    text = re.sub(r"\s+", " ", text or "").strip()
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


CSS = """body{font:15px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;
color:#222}h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.meta{color:#666;font-size:.9rem}table{border-collapse:collapse}td,th{padding:.2rem .6rem;
border-bottom:1px solid #eee;text-align:left}blockquote{border-left:3px solid #ccc;margin:.5rem 0;
padding-left:.8rem;color:#444}.src{font-size:.85rem;color:#666}img{max-width:100%}"""


def _html_link(text: str, url: str | None) -> str:
    return html_link(html_escape(text), url)


def _html_source(s: dict) -> str:
    title = s.get("title")
    if not title:
        return _html_link(s.get("author") or s["source_id"], s.get("source_url"))
    where = "in" if s.get("source_kind") == "post" else "commenting on"
    return (f"{html_escape(s.get('author') or 'unknown')}, {where} "
            f"{_html_link(_short(title, 90), s.get('source_url'))}")


def _html_disputed(s: dict) -> str:
    who = [_html_link(d["author"] or "someone", d.get("url")) for d in s.get("disputed_by", [])]
    return f" <strong>(disputed by {', '.join(who)})</strong>" if who else ""


def _html_structure(structure: dict) -> str:
    parts = ["<h2>The discussion</h2>"]
    opening = structure.get("opening")
    if opening:
        parts.append(f"<p><strong>{html_escape(opening['kind'].capitalize())}</strong> "
                     f"({_html_link(opening['author'] or 'unknown', opening.get('url'))}): "
                     f"{html_escape(opening['text'])}</p>")
    for name, key in (("Answers", "answers"), ("Objections", "objections")):
        if structure.get(key):
            items = "".join(f"<li><strong>{_html_link(a['author'] or 'unknown', a.get('url'))}"
                            f"</strong> <em>{html_escape(a['stance'])}</em>: "
                            f"{html_escape(a['text'])}</li>" for a in structure[key])
            parts.append(f"<p>{name}:</p><ul>{items}</ul>")
    return "".join(parts)


def _html_debate(debate: dict) -> str:
    where = f", in {_html_link(_short(debate['claim_title'], 90), debate['claim_url'])}" \
        if debate.get("claim_title") else ""
    items = []
    for turn in debate["replies"]:
        inner = "".join(f"<li>{_html_turn(r)}</li>" for r in turn["responses"])
        items.append(f"<li>{_html_turn(turn)}" + (f"<ul>{inner}</ul>" if inner else "") + "</li>")
    return (f"<blockquote>{html_escape(_short(debate['claim']))}</blockquote><p class='src'>— "
            f"{html_escape(debate['claim_author'] or 'unknown')}{where}</p><ul>{''.join(items)}</ul>")


def _html_turn(turn: dict) -> str:
    return (f"<strong>{_html_link(turn['author'] or 'unknown', turn.get('url'))}</strong> "
            f"<em>{html_escape(turn['stance'])}</em>: {html_escape(turn['text'])}")


def to_html(data: dict, png: bytes | None) -> str:
    """The report as one self-contained page: upstream text escaped, only http(s)/mailto links."""
    e = html_escape
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>{e(data['title'])}</title><style>{CSS}</style></head><body>",
             f"<h1>{e(data['title'])}</h1>",
             f"<p class='meta'>{e(_period_text(data))} · {data['items']} items read · method "
             f"{e(data['method'])} · generated {e(data['created_at'])}</p>", "<h2>Summary</h2>"]
    if data.get("abstract"):
        abstract = _cited_html(data["abstract"]["text"], data["abstract"]["citations"])
        parts.append(f"<p>{abstract}</p><p class='meta'>Written by {e(data['abstract']['model'])} "
                     f"from the sentences below.</p>")
    if not data["summary"]:
        parts.append("<p><em>Nothing to summarise in this period.</em></p>")
    parts.append("<ol>")
    for s in data["summary"]:
        parts.append(f"<li>{e(s['text'])} — <span class='src'>{_html_source(s)}</span>"
                     f"{_html_disputed(s)}</li>")
    parts.append("</ol>")
    if data.get("structure"):
        parts.append(_html_structure(data["structure"]))
    if data["threads"]:
        parts.append("<h2>Threads, most important first</h2><p class='meta'>Importance: score, "
                     "comments, exchanges and topic weight. Comments: all in the thread (on "
                     "topic: those matching).</p><table><tr><th>Thread</th><th>Gist</th>"
                     "<th>Comments (on topic)</th><th>People</th><th>Latest</th></tr>")
        for t in data["threads"]:
            cell = html_link(e(t["title"] or t["id"]), t["url"])
            parts.append(f"<tr><td>{cell}</td><td>{e(t.get('gist') or '')}</td>"
                         f"<td>{t['comments']} ({t.get('on_topic', t['comments'])})</td>"
                         f"<td>{t['people']}</td><td>{e((t['latest'] or '')[:10])}</td></tr>")
        parts.append("</table>")
    exchanges = data["exchanges"]
    if data.get("debates") or exchanges["pairs"]:
        parts.append("<h2>Key exchanges</h2>")
        parts += [_html_debate(d) for d in data.get("debates", [])]
        if exchanges["pairs"]:
            parts.append("<p>Who disputed whom (replies classified as disputing):</p><table>"
                         "<tr><th>Replier</th><th>Disputed</th><th>Times</th></tr>")
            parts += [f"<tr><td>{e(p['replier'])}</td><td>{e(p['quoted'])}</td>"
                      f"<td>{p['times']}</td></tr>" for p in exchanges["pairs"]]
            parts.append("</table>")
    if data["papers"]:
        parts.append("<h2>Papers discussed</h2><ul>")
        for p in data["papers"]:
            authors = e(_authors(p))
            parts.append(f"<li>{html_link(e(p['label']), p.get('url'))}"
                         f"{' — ' + authors if authors else ''} ({p['mentions']} mentions){e(_md_discussers(p, plain=True))}</li>")
        parts.append("</ul>")
    if data["contributors"]:
        parts.append("<h2>Top contributors</h2><table><tr><th>Author</th><th>Posts</th>"
                     "<th>Comments</th><th>Score</th></tr>")
        parts += [f"<tr><td>{e(c['author'])}</td><td>{c['posts']}</td><td>{c['comments']}</td>"
                  f"<td>{c['score']}</td></tr>" for c in data["contributors"]]
        parts.append("</table>")
    if png:
        encoded = base64.b64encode(png).decode("ascii")
        parts.append(f"<h2>Activity</h2><img alt='Activity over time' "
                     f"src='data:image/png;base64,{encoded}'>")
    parts.append("</body></html>")
    return "\n".join(parts)
