"""``archiver stats``."""

from __future__ import annotations

import click

from archiver.cli.common import echo, echo_json, global_options, state


@click.command()
@click.option("--runs", default=10, show_default=True, type=click.IntRange(0, 1000),
              help="How many recent runs to show.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--content-hash", is_flag=True,
              help="Print only a SHA-256 of the archived content (runs and sync cursors left "
                   "out): it changes only when something archived changed.")
@global_options
def stats(runs, as_json, content_hash):
    """Counts per site and table, the newest items, and the last runs with their outcome."""
    from archiver.app.stats import collect, render

    st = state()
    if content_hash:
        from archiver.app.stats import content_hash as fingerprint

        echo(fingerprint(st.db(read=True)))
        return
    data = collect(st.db(read=True), st.database_path(), runs)
    if as_json:
        echo_json(data)
    else:
        echo(render(data))


def register(group: click.Group) -> None:
    group.add_command(stats)
