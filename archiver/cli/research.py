"""``archiver researcher``, ``archiver papers`` and ``archiver mentions``."""

from __future__ import annotations

import click

from archiver.cli.common import (
    LazyChoice,
    delay_option,
    echo,
    echo_json,
    endpoint_option,
    global_options,
    info,
    source_registry,
    state,
)
from archiver.kernel.display import one_line


@click.command()
@click.argument("query", metavar="NAME|ID|URL")
@click.option("--source", type=LazyChoice(lambda: source_registry().researcher_names()),
              default="openalex",
              show_default=True, help="Where to look the researcher up.")
@click.option("--papers", default="all", show_default=True, metavar="N|all",
              help="How many of their papers to archive (newest first).")
@click.option("--pick", type=click.IntRange(1), metavar="N",
              help="When a name matches several researchers, take the N-th candidate.")
@click.option("--forum-user", metavar="SLUG|ID",
              help="Link the researcher to this archived forum user.")
@endpoint_option
@delay_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@global_options
def researcher(query, source, papers, pick, forum_user, endpoint, delay, as_json):
    """Archive a researcher's profile, metrics snapshot and papers, then show where their
    papers were discussed. Every run adds a dated metrics snapshot.

    Semantic Scholar requests are spaced 1 s apart and arXiv's 3 s (their published limits)
    unless --delay says otherwise. Keys: OPENALEX_API_KEY, SEMANTIC_SCHOLAR_API_KEY (optional).

    \b
    archiver researcher "Adam Scherlis"                      # OpenAlex name search
    archiver researcher A5023888391 --papers 50
    archiver researcher 0000-0002-1825-0097                   # ORCID
    archiver researcher https://www.semanticscholar.org/author/Alan-Turing/2262347 \\
        --source semanticscholar
    archiver researcher "au:del_maestro" --source arxiv
    """
    from archiver.app import researchers as R

    st = state()
    db = st.db()
    http = st.http(delay)
    result = R.fetch_researcher(db, http, query, source=source, papers=papers, pick=pick,
                                forum_user=forum_user, endpoint=endpoint, interval=delay)
    report = R.researcher_report(db, result.researcher_id)
    report["fetch"] = result.counts.as_dict()
    if as_json:
        echo_json(report)
        return
    _print_report(report)


def _number(value) -> str:
    return "-" if value is None else f"{value:,}"


def _delta(change: dict, key: str) -> str:
    value = change.get(key)
    return f" ({value:+,})" if value else ""


def _print_report(report: dict) -> None:
    person = report["researcher"]
    echo(f"{one_line(person['name'])}  [{person['id']}]  {one_line(person.get('url'))}".rstrip())
    if person.get("orcid"):
        echo(f"  ORCID {one_line(person['orcid'])}")
    if person.get("affiliations"):
        echo(f"  affiliations: {', '.join(one_line(a) for a in person['affiliations'][:5])}")
    if report["forum_user"]:
        user = report["forum_user"]
        echo(f"  forum user: {one_line(user.get('name') or user.get('slug'))} [{user['id']}]")
    metrics, change = report["metrics"], report["change"]
    if metrics:
        echo(
            f"  metrics {metrics['captured_at'][:10]}: "
            f"h-index {_number(metrics['h_index'])}{_delta(change, 'h_index')}  "
            f"i10-index {_number(metrics['i10_index'])}{_delta(change, 'i10_index')}  "
            f"works {_number(metrics['works_count'])}{_delta(change, 'works_count')}  "
            f"citations {_number(metrics['citation_count'])}{_delta(change, 'citation_count')}")
        if report["previous"]:
            echo(f"  previous snapshot {report['previous']['captured_at'][:10]} "
                 f"({report['snapshots']} snapshots)")
    fetch = report.get("fetch") or {}
    echo(f"  papers in the archive: {report['papers']} (this fetch: {fetch.get('new', 0)} "
         f"new records, {fetch.get('updated', 0)} updated, "
         f"{fetch.get('unchanged', 0)} unchanged)")
    discussed = report["discussed"]
    if not discussed:
        echo("  none of these papers is mentioned in the archived discussions yet")
        return
    echo(f"  discussed: {len(discussed)} papers")
    for paper in discussed:
        year = f" ({paper['year']})" if paper.get("year") else ""
        echo(f"    \"{one_line(paper['title'] or paper['paper_id'])}\"{year}: "
             f"{paper['mentions']} place{'s' if paper['mentions'] != 1 else ''}")
        for where in paper["where"]:
            kind = "comment on" if where["item_table"] == "comments" else "post"
            echo(f"      {(where['posted_at'] or '')[:10]}  {one_line(where['author'] or '?')}  "
                 f"{kind} \"{one_line(where['post_title'] or where['post_id'])}\"  "
                 f"{one_line(where['url'])}  [{', '.join(where['how'])}]")


@click.command()
@click.option("--fill", is_flag=True, help="First fetch metadata for stub papers (found in "
              "mentions): arXiv ids from the arXiv API, DOIs from OpenAlex.")
@click.option("--limit", type=click.IntRange(0), default=50, show_default=True, metavar="N",
              help="At most N papers listed (0 = all); with --fill also at most N stubs filled.")
@click.option("--researcher", "researcher_id", metavar="ID", help="Only this researcher's papers.")
@click.option("--arxiv-endpoint", metavar="URL", help="arXiv API root (default export.arxiv.org).")
@click.option("--openalex-endpoint", metavar="URL", help="OpenAlex API root.")
@delay_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per paper.")
@global_options
def papers(fill, limit, researcher_id, arxiv_endpoint, openalex_endpoint, delay, as_json):
    """Papers in the archive, most-mentioned first (--fill completes stub papers first)."""
    from archiver.app import researchers as R

    st = state()
    db = st.db(read=True)
    if fill:
        done = R.fill_papers(db, st.http(delay), limit=limit or None,
                             arxiv_endpoint=arxiv_endpoint, openalex_endpoint=openalex_endpoint,
                             interval=delay)
        info(f"filled {done['filled']} of {done['stubs']} stub papers"
             + (f"; not found: {', '.join(done['not_found'])}" if done["not_found"] else ""))
    rows = R.list_papers(db, limit=limit or None, researcher_id=researcher_id)
    for row in rows:
        if as_json:
            echo_json(row)
        else:
            stub = " [stub]" if row["stub"] else ""
            year = row["year"] or "    "
            echo(f"{row['mentions']:>4}  {year}  {row['id']}  {one_line(row['title'])}{stub}")
    if not rows:
        info("no papers archived yet: try `archiver researcher NAME`")


@click.command()
@click.option("--paper", metavar="ID", help="Only mentions of this paper (id, arxiv:…, doi:…).")
@click.option("--redetect", is_flag=True, help="Re-scan every post and comment first.")
@click.option("--limit", type=click.IntRange(0), default=100, show_default=True, metavar="N",
              help="At most N mentions (0 = all).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per mention.")
@global_options
def mentions(paper, redetect, limit, as_json):
    """Where papers are mentioned in posts and comments (arXiv ids, DOIs, OpenReview, titles)."""
    from archiver.analysis import mentions as M

    db = state().db(read=True)
    if redetect:
        info(f"{M.detect_all(db)} mentions found")
    rows = M.list_mentions(db, paper_id=paper, limit=limit or None)
    for row in rows:
        if as_json:
            echo_json(row)
        else:
            echo(f"{(row['posted_at'] or '')[:10]}  {row['paper_id']}  {row['how']:<10}  "
                 f"{one_line(row['author'] or '?')}  "
                 f"\"{one_line(row['post_title'] or row['post_id'])}\"  {one_line(row['url'])}")
    if not rows:
        info("no mentions found")


def register(group: click.Group) -> None:
    group.add_command(researcher)
    group.add_command(papers)
    group.add_command(mentions)
