"""``archiver page``, ``archiver feed``, ``archiver import`` and ``archiver export``."""

from __future__ import annotations

import sys

import click

from archiver.cli.common import LazyChoice, delay_option, echo_json, global_options, info, state
from archiver.kernel.display import one_line


def _saved_kinds() -> list[str]:
    from archiver.sources.kinds import kinds

    return list(kinds())


def _counts(counts) -> str:
    return f"{counts.new} new, {counts.updated} updated, {counts.unchanged} unchanged"


@click.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL [URL...]")
@delay_option
@global_options
def page(urls, delay):
    """Archive one article (a research blog post): title, author, date, body, sections.

    The main text is extracted with trafilatura; a page carrying its text twice is stored once.
    """
    from archiver.app.blogs import archive_page

    st = state()
    http = st.http(delay)
    for url in urls:
        counts, post = archive_page(st.db(), http, url)
        info(f"{one_line(post.title or post.url)}: {_counts(counts)} ({post.id})")


@click.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL [URL...]")
@delay_option
@global_options
def feed(urls, delay):
    """Archive an RSS or Atom feed: each new or changed entry becomes a post.

    Entries seen before and unchanged are skipped; when an entry carries only a summary, the
    article itself is fetched.
    """
    from archiver.app.blogs import archive_feed

    st = state()
    http = st.http(delay)
    for url in urls:
        counts, report = archive_feed(st.db(), http, url)
        name = one_line(report.title or url)
        if report.not_modified:
            info(f"{name}: not modified since the last run")
            continue
        line = (f"{name}: {report.entries} entries, {report.archived} new or changed, "
                f"{report.unchanged} unchanged; {report.fetched_articles} articles fetched")
        if report.summary_only:
            line += f"; {len(report.summary_only)} kept as summaries (article fetch failed)"
        info(line)


@click.command(name="import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="PATH [PATH...]")
@click.option("--kind", type=LazyChoice(_saved_kinds), help="What the files are (default: detected).")
@click.option("--captured", metavar="DATE",
              help="When the pages were saved (YYYY-MM-DD): dates without a year resolve "
                   "against it. Default: each file's modification time.")
@click.option("--url", metavar="URL", help="Where the saved page came from (its site and id).")
@click.option("--name", metavar="TEXT",
              help="The researcher's name (profile pages without one) or the post's title.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
@global_options
def import_(paths, kind, captured, url, name, as_json):
    """Import saved pages and files: archived exports (JSON Lines), saved HTML or text of blog
    posts, researcher profiles, paper-review posts and forum profiles, Hacker News pages, and
    saved ForumMagnum / OpenAlex / Semantic Scholar / arXiv responses. A folder means its files.
    """
    from archiver.app.transfer import import_paths

    reports = import_paths(state().db(), paths, kind=kind, captured=captured, url=url,
                           name=name)
    for report in reports:
        if as_json:
            echo_json({"path": report.path, "kind": report.kind, **report.counts.as_dict(),
                       "summary": report.summary, "notes": report.notes})
            continue
        info(f"{report.path}: {report.kind}: {one_line(report.summary)} ({_counts(report.counts)})")
        for note in report.notes:
            info(f"  note: {note}")


@click.command()
@click.option("--thread", "threads", multiple=True, metavar="ID|URL",
              help="A thread: the post, its comments and what they point at.")
@click.option("--user", "users", multiple=True, metavar="SLUG|ID|URL",
              help="A user: profile, posts, comments (and the posts those are on).")
@click.option("--topic", "topics", multiple=True, metavar="NAME", help="A topic and its items.")
@click.option("--all", "everything", is_flag=True, help="The whole archive.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default="-",
              show_default=True, help="Output file ('-' for standard output).")
@global_options
def export(threads, users, topics, everything, output):
    """Write rows as JSON Lines (one object per line with a "type"), for `archiver import`."""
    if not (threads or users or topics or everything):
        raise click.UsageError("say what to export: --thread, --user, --topic or --all")
    from archiver.app.transfer import export_archive, export_to_file

    st = state()
    if output == "-":
        count = export_archive(st.db(read=True), sys.stdout, threads, users, topics, everything)
    else:
        count = export_to_file(st.db(read=True), st.database_path(), output, threads, users,
                               topics, everything)
    info(f"exported {count} rows" + (f" to {output}" if output != "-" else ""))


def register(group: click.Group) -> None:
    for command in (page, feed, import_, export):
        group.add_command(command)
