"""``archiver topics`` (list, add, discover) and ``archiver summarize``."""

from __future__ import annotations

import click

from archiver.analysis.choices import REPORT_FORMATS, TOPIC_KINDS
from archiver.cli.common import echo, echo_json, global_options, info, state
from archiver.kernel.display import one_line


def register(group: click.Group) -> None:
    group.add_command(topics)
    group.add_command(summarize)


# The analysis (numpy, scikit-learn, matplotlib) is imported when a command runs, not for --help.
def _topics():
    from archiver.analysis import topics

    return topics


def _report():
    from archiver.analysis import report

    return report


def _config_topics() -> list[dict]:
    return state().config.watch.get("topics", [])


@click.group(invoke_without_command=True)
@click.option("--kind", type=click.Choice(TOPIC_KINDS), help="Only topics of this kind.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines, one per topic.")
@global_options
@click.pass_context
def topics(ctx, kind, as_json):
    """Topics with their item counts, newest activity and top contributors.

    \b
    archiver topics
    archiver topics --kind user --json
    archiver topics add "Sparse autoencoders" --match "sparse autoencoder" --match "\\bSAEs?\\b"
    archiver topics discover --k auto --since 2024-01-01
    """
    if ctx.invoked_subcommand is not None:
        return
    rows = _topics().overview(state().db(read=True), _config_topics(), kind)
    if as_json:
        for row in rows:
            echo_json(row)
        return
    if not rows:
        info("no topics yet: archive tagged threads, `archiver topics add`, or "
             "`archiver topics discover`")
        return
    echo(f"{'id':>5}  {'kind':<12} {'items':>7}  {'newest':<10}  name (top contributors)")
    for row in rows:
        people = ", ".join(one_line(c["author"]) for c in row["contributors"])
        echo(f"{row['id']:>5}  {row['kind']:<12} {row['items']:>7}  "
             f"{(row['newest'] or '')[:10]:<10}  {one_line(row['label'])}"
             + (f" ({people})" if people else ""))


@topics.command("add")
@click.argument("name")
@click.option("--match", "matches", multiple=True, required=True, metavar="PATTERN",
              help="A keyword, a phrase or a regular expression (repeat for more).")
@click.option("--description", help="What the topic is about (shown in reports).")
@click.option("--json", "as_json", is_flag=True, help="Print the topic as JSON.")
@global_options
def add(name, matches, description, as_json):
    """Define a topic of your own and assign every archived item that matches it."""
    topic = _topics().add_topic(state().db(), name, list(matches), description)
    if as_json:
        echo_json(topic)
    else:
        echo(f"topic {topic['id']} {topic['name']!r}: {topic['items']} items "
             f"({topic['posts']} posts, {topic['comments']} comments)")


@topics.command("discover")
@click.option("--k", "k", default="auto", show_default=True, metavar="N|auto",
              help="How many topics to find.")
@click.option("--since", metavar="DATE", help="Only items posted since DATE (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Only items posted up to DATE (inclusive).")
@click.option("--json", "as_json", is_flag=True, help='Print {"topics": [...]} as JSON.')
@global_options
def discover(k, since, until, as_json):
    """Find themes in posts, comments and papers (TF-IDF + NMF, labelled by c-TF-IDF)."""
    found = _topics().discover(state().db(read=True), k=k, since=since, until=until)
    if as_json:
        echo_json({"topics": found})
        return
    for topic in found:
        echo(f"{topic['id']:>5}  {len(topic['items']):>6} items  {one_line(topic['label'])}  "
             f"[{', '.join(topic['keywords'][:6])}]")


@click.command()
@click.argument("topic", required=False)
@click.option("--thread", metavar="POST", help="Summarise one thread (a post id or URL).")
@click.option("--all", "all_topics", is_flag=True, help="Summarise every topic with activity.")
@click.option("--since", metavar="DATE", help="Only items posted since DATE (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Only items posted up to DATE (inclusive).")
@click.option("--sentences", type=click.IntRange(1, 50), default=7, show_default=True,
              help="Sentences in the summary.")
@click.option("--format", "fmt", type=click.Choice(REPORT_FORMATS), default="markdown",
              show_default=True)
@click.option("--out", metavar="DIR", help="Write .md, .html, .json and the chart PNG here.")
@click.option("--save", is_flag=True,
              help="Store the digest in the summaries table (--out stores it too).")
@click.option("--llm", "llm_model", metavar="MODEL",
              help="Also write an abstractive summary with this `llm` model (optional extra).")
@global_options
def summarize(topic, thread, all_topics, since, until, sentences, fmt, out, save, llm_model):
    """A digest of a topic or a thread; every sentence links to the comment it came from.

    \b
    archiver summarize "AI Risk" --since 2024-01-01 --format html --out digests/
    archiver summarize --thread https://www.lesswrong.com/posts/<id>/<slug>
    archiver summarize --all --since 2024-06-01 --out digests/
    archiver summarize 12 --format json --llm gpt-4o-mini
    """
    failures: list[str] = []
    from archiver.app.resolve import post_id

    db = state().db(read=True)
    thread = post_id(db, thread) if thread else None
    reports, warnings = _report().make_reports(
        db, topic=topic, thread=thread, all_topics=all_topics, since=since,
        until=until, sentences=sentences, llm_model=llm_model, out_dir=out,
        store=bool(out or save), config_topics=_config_topics(), failures=failures)
    for warning in dict.fromkeys(warnings):
        echo(f"warning: {warning}", err=True)
    if not reports and not failures:
        info("no topic has items in this period")
    if fmt == "json":
        echo_json(reports[0].data if (topic or thread) and reports
                  else {"reports": [r.data for r in reports], "failed": failures})
    elif out:
        for report in reports:
            for path in report.paths:
                echo(path)
    else:
        echo("\n\n".join(r.markdown if fmt == "markdown" else r.html for r in reports))
    if failures:
        raise _report().failed(failures, len(reports))
