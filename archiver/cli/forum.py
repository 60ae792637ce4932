"""``archiver thread``, ``archiver user`` and ``archiver search``."""

from __future__ import annotations

import click

from archiver.cli.common import (
    LazyChoice,
    delay_option,
    echo,
    echo_json,
    endpoint_option,
    fallback_option,
    global_options,
    info,
    progress,
    source_registry,
    state,
)
from archiver.kernel.display import one_line
from archiver.kernel.errors import ArchiverError


@click.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL [URL...]")
@endpoint_option
@fallback_option
@delay_option
@click.option("--via", type=LazyChoice(lambda: ["api", *source_registry().fallback_names()]),
              default="api",
              help="Fetch through the site's API (default) or the source it falls back to, "
                   "e.g. greaterwrong for LessWrong/EA Forum threads.")
@global_options
def thread(urls, endpoint, fallback, delay, via):
    """Archive a post and every comment (question posts: answers and replies too).

    URL: a LessWrong, Alignment Forum, EA Forum or GreaterWrong post URL, a bare site:postId
    (lesswrong:uMQ3cqWDPHhjtiesc), or a thread URL of another supported forum.
    """
    from archiver.app.forums import archive_thread

    st = state()
    for url in urls:  # every URL is checked before anything is fetched
        source_registry().resolve_thread(url)
    http = st.http(delay)
    failed = 0
    for url in urls:
        try:
            with progress("comments") as bar:
                counts, title = archive_thread(st.db(), http, url, endpoint=endpoint, via=via,
                                               on_page=bar.update, fallback=fallback,
                                               endpoints=st.config.endpoints)
        except ArchiverError as exc:
            if len(urls) == 1:
                raise
            failed += 1  # the other threads are still worth archiving
            echo(f"error: {url}: {exc}", err=True)
            continue
        info(f"{one_line(title)}: {counts.new} new, {counts.updated} updated, "
             f"{counts.unchanged} unchanged "
             f"({http.requests_made} requests so far)")
    if failed:
        raise ArchiverError(f"{failed} of {len(urls)} threads failed (see above); "
                            "the others are archived")


@click.command()
@click.argument("who", metavar="URL|SLUG")
@click.option("--site", type=LazyChoice(lambda: source_registry().site_names("users")),
              help="Site of a bare slug (default lesswrong).")
@click.option("--posts", "posts", default="all", metavar="N|all", help="How many posts (default all).")
@click.option("--comments", "comments", default="all", metavar="N|all",
              help="How many comments, newest first (default all).")
@click.option("--since", metavar="DATE", help="Only posts and comments since DATE (YYYY-MM-DD).")
@endpoint_option
@fallback_option
@delay_option
@global_options
def user(who, site, posts, comments, since, endpoint, fallback, delay):
    """Archive a user's profile, posts and comments (each comment linked to its post)."""
    from archiver.app.forums import archive_user
    from archiver.kernel.parse import parse_count, parse_since

    st = state()
    http = st.http(delay)
    with progress("items") as bar:
        counts, name = archive_user(
            st.db(), http, who, site=site, posts=parse_count(posts, "--posts"),
            comments=parse_count(comments, "--comments"), since=parse_since(since),
            endpoint=endpoint, on_page=bar.update, fallback=fallback,
            endpoints=st.config.endpoints,
        )
    info(f"{one_line(name)}: {counts.new} new, {counts.updated} updated, "
         f"{counts.unchanged} unchanged "
         f"({http.requests_made} requests)")


@click.command()
@click.argument("query")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per result.")
@global_options
def search(query, limit, as_json):
    """Full-text search over posts and comments, best match first.

    QUERY may use SQLite FTS5 syntax: "exact phrase", OR, NOT, prefix*.
    """
    from archiver.store.search import search as run_search

    rows = run_search(state().db(read=True), query, limit)
    for row in rows:
        if as_json:
            echo_json(row)
            continue
        date = (row["posted_at"] or "")[:10]
        echo(f"{row['type']:7} {date}  {one_line(row['author'] or '?')} — "
             f"{one_line(row['title'] or '')}")
        echo(f"        {one_line(row['url'] or row['id'])}")
        echo(f"        {one_line(row['snippet'] or '')}")
    if not rows and not as_json:
        echo("no matches", err=True)


def register(group: click.Group) -> None:
    for command in (thread, user, search):
        group.add_command(command)
