"""``archiver demo``."""

from __future__ import annotations

import click

from archiver.cli.common import echo, global_options, info, state


@click.command()
@global_options
def demo():
    """Build db/demo.db offline from sample data (two forum threads with quotes and pushback, a
    researcher with papers, a blog post), run exchanges, topics and a topic report, and say what
    to open next. --db picks another path; an existing non-demo file is never overwritten."""
    from archiver.app.demo import DEFAULT_DB, build_demo, next_steps

    st = state()
    result = build_demo(st.db_path or DEFAULT_DB)
    counts = ", ".join(f"{n} {table}" for table, n in result.counts.items())
    echo(f"demo archive ready: {result.db_path} ({counts}) in {result.seconds:.1f}s")
    for note in result.skipped:
        info(f"skipped {note}")
    for path in result.reports:
        echo(f"report: {path}")
    echo("next:")
    for step in next_steps(result):
        echo(f"  {step}")


def register(group: click.Group) -> None:
    group.add_command(demo)
