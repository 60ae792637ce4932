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
import os
import re
import sqlite3
import warnings as warnings_mod
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlite_utils

from archiver.analysis import summarize as summ
from archiver.analysis import topics
from archiver.analysis.period import period_sql
from archiver.display import (
    html_escape,
    html_link,
    md_escape,
    md_link,
    md_url,
    safe_json,
    safe_url,
)
from archiver.errors import ArchiverError, PartialFailure, UsageError
from archiver.records import now_utc

log = logging.getLogger(__name__)

FORMATS = ("markdown", "html", "json")


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
    since, until = topics.check_date(since, "--since"), topics.check_date(until, "--until")
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
    data["exchanges"] = key_exchanges(db, scope, summary.since, summary.until)
    data["papers"] = papers_discussed(db, scope, summary.since, summary.until)
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
    cte, params = _items_cte(scope, since, until)
    rows = db.execute(f"""{cte}
        SELECT p.id, p.title, p.url, p.author, sum(i.item_table = 'comments') AS comments,
               count(DISTINCT i.author) AS people, max(i.posted_at) AS latest
        FROM items i JOIN posts p ON p.id = i.post_id
        GROUP BY p.id ORDER BY comments DESC, latest DESC, p.id LIMIT ?""",
                      [*params, limit]).fetchall()
    keys = ("id", "title", "url", "author", "comments", "people", "latest")
    return [dict(zip(keys, r)) for r in rows]


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


def key_exchanges(db, scope, since, until, limit: int = 5) -> dict:
    """The most replied-to quotes and who pushed back on whom, if exchanges were extracted."""
    empty = {"quotes": [], "pairs": []}
    if not _has(db, "exchanges", {"item_id", "quote", "source_id", "source_author",
                                  "quoter_author"}):
        return empty
    cte, params = _items_cte(scope, since, until)
    columns = set(db["exchanges"].columns_dict)
    kind = "e.kind" if "kind" in columns else "NULL"
    quotes = db.execute(f"""{cte}
        SELECT e.source_id, e.source_author, e.quote, count(*) AS replies,
               group_concat(DISTINCT e.quoter_author), min(e.item_id), {kind}
        FROM exchanges e JOIN items i ON i.item_id = e.item_id
        WHERE e.quote IS NOT NULL
        GROUP BY e.source_id, e.quote ORDER BY replies DESC, e.source_id LIMIT ?""",
                        [*params, limit]).fetchall()
    pairs = db.execute(f"""{cte}
        SELECT e.quoter_author, e.source_author, count(*) AS n FROM exchanges e
        JOIN items i ON i.item_id = e.item_id
        WHERE e.quoter_author IS NOT NULL AND e.source_author IS NOT NULL
              AND e.quoter_author != e.source_author
        GROUP BY e.quoter_author, e.source_author ORDER BY n DESC, 1, 2 LIMIT ?""",
                       [*params, limit]).fetchall()
    urls = _urls(db, [q[5] for q in quotes])
    return {
        "quotes": [{"source_id": s, "source_author": a, "quote": q, "replies": n,
                    "repliers": sorted(set((who or "").split(","))), "reply_id": r,
                    "reply_url": urls.get(r), "kind": k} for s, a, q, n, who, r, k in quotes],
        "pairs": [{"replier": q, "quoted": s, "times": n} for q, s, n in pairs],
    }


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
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    days = [date.fromisoformat(p["period"]) for p in points]
    widths = {"day": 0.8, "week": 6, "month": 26}[points[0]["unit"]]
    figure = Figure(figsize=(7.5, 2.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.bar(days, [p["items"] for p in points], width=widths, color="#4a7ebb", align="edge")
    axes.set_xlim(*_x_limits(days[0], days[-1], widths))
    axes.set_ylabel(f"items per {points[0]['unit']}")
    # The title is upstream text: plain text, never mathtext ("$x^{$" is not a formula).
    one_line = " ".join(f"Activity: {title}".split())
    axes.set_title(one_line[:90], fontsize=10, parse_math=False, usetex=False)
    axes.spines[["top", "right"]].set_visible(False)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(axis="x", labelrotation=30, labelsize=8)
    # Fixed margins instead of tight_layout, which draws the figure an extra time.
    figure.subplots_adjust(left=0.09, right=0.98, bottom=0.27, top=0.88)
    buffer = io.BytesIO()
    with warnings_mod.catch_warnings():
        # A title in a script the font lacks draws boxes; one warning per glyph is only noise.
        warnings_mod.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
        figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


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
        link = md_link(s["author"] or "source", s["source_url"]) if md_url(s["source_url"]) \
            else md_escape(s["author"] or s["source_id"])
        lines.append(f"{i}. {md_escape(s['text'])} — {link}")
    lines.append("")
    if data["threads"]:
        lines += ["## Most active threads", "", "| Thread | Comments | People | Latest |",
                  "|---|---|---|---|"]
        for t in data["threads"]:
            lines.append(f"| {md_link(t['title'] or t['id'], t['url'])} | {t['comments']} | "
                         f"{t['people']} | {md_escape((t['latest'] or '')[:10])} |")
        lines.append("")
    exchanges = data["exchanges"]
    if exchanges["quotes"] or exchanges["pairs"]:
        lines += ["## Key exchanges", ""]
        for q in exchanges["quotes"]:
            replies = f"{q['replies']} repl{'y' if q['replies'] == 1 else 'ies'}"
            who = ", ".join(md_escape(r) for r in q["repliers"] if r)
            target = md_url(q.get("reply_url"))
            reply = f" ([reply]({target}))" if target else ""
            lines += [f"> {md_escape(_short(q['quote']))}", "",
                      f"— {md_escape(q['source_author'] or 'unknown')}, quoted in {replies} by "
                      f"{who}{reply}", ""]
        if exchanges["pairs"]:
            lines += ["Who pushed back on whom:", "", "| Replier | Quoted | Times |", "|---|---|---|"]
            lines += [f"| {md_escape(p['replier'])} | {md_escape(p['quoted'])} | {p['times']} |"
                      for p in exchanges["pairs"]]
            lines.append("")
    if data["papers"]:
        lines += ["## Papers discussed", ""]
        for p in data["papers"]:
            authors = _authors(p)
            lines.append(f"- {md_link(p['label'], p.get('url'))}"
                         + (f" — {md_escape(authors)}" if authors else "")
                         + f" ({p['mentions']} mentions)")
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


def _short(text: str, limit: int = 300) -> str:
    text = re.sub(r"\s+", " ", text or "").strip()
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


CSS = """body{font:15px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;
color:#222}h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.meta{color:#666;font-size:.9rem}table{border-collapse:collapse}td,th{padding:.2rem .6rem;
border-bottom:1px solid #eee;text-align:left}blockquote{border-left:3px solid #ccc;margin:.5rem 0;
padding-left:.8rem;color:#444}.src{font-size:.85rem;color:#666}img{max-width:100%}"""


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
        who = e(s["author"] or "source")
        link = html_link(who, s["source_url"], "src") if safe_url(s["source_url"]) else \
            f"<span class='src'>{who}</span>"
        parts.append(f"<li>{e(s['text'])} — {link}</li>")
    parts.append("</ol>")
    if data["threads"]:
        parts.append("<h2>Most active threads</h2><table><tr><th>Thread</th><th>Comments</th>"
                     "<th>People</th><th>Latest</th></tr>")
        for t in data["threads"]:
            cell = html_link(e(t["title"] or t["id"]), t["url"])
            parts.append(f"<tr><td>{cell}</td><td>{t['comments']}</td><td>{t['people']}</td>"
                         f"<td>{e((t['latest'] or '')[:10])}</td></tr>")
        parts.append("</table>")
    exchanges = data["exchanges"]
    if exchanges["quotes"] or exchanges["pairs"]:
        parts.append("<h2>Key exchanges</h2>")
        for q in exchanges["quotes"]:
            reply = f" ({html_link('reply', q['reply_url'])})" if safe_url(q.get("reply_url")) \
                else ""
            parts.append(f"<blockquote>{e(_short(q['quote']))}</blockquote><p class='src'>— "
                         f"{e(q['source_author'] or 'unknown')}, quoted in {q['replies']} "
                         f"replies by {e(', '.join(r for r in q['repliers'] if r))}{reply}</p>")
        if exchanges["pairs"]:
            parts.append("<p>Who pushed back on whom:</p><table><tr><th>Replier</th>"
                         "<th>Quoted</th><th>Times</th></tr>")
            parts += [f"<tr><td>{e(p['replier'])}</td><td>{e(p['quoted'])}</td>"
                      f"<td>{p['times']}</td></tr>" for p in exchanges["pairs"]]
            parts.append("</table>")
    if data["papers"]:
        parts.append("<h2>Papers discussed</h2><ul>")
        for p in data["papers"]:
            authors = e(_authors(p))
            parts.append(f"<li>{html_link(e(p['label']), p.get('url'))}"
                         f"{' — ' + authors if authors else ''} ({p['mentions']} mentions)</li>")
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
