"""``archiver init`` and ``archiver sync``."""

from __future__ import annotations

import click

from archiver.cli.common import delay_option, echo, echo_json, global_options, info, state


@click.command()
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@global_options
def init(force):
    """Write a commented example archiver.toml (or the --config file) to edit."""
    from archiver.app.config import DEFAULT_PATH, write_example

    path = write_example(state().config_path or DEFAULT_PATH, force=force)
    info(f"wrote {path}: edit the watch list, then run `archiver sync --dry-run`")


@click.command()
@click.option("--only", multiple=True, metavar="KIND",
              help="Only these kinds (repeat or comma-separate): threads, users, tags, "
                   "researchers, feeds, topics, summaries.")
@click.option("--dry-run", is_flag=True, help="Say what would be fetched; make no request.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@delay_option
@global_options
def sync(only, dry_run, as_json, delay):
    """Bring everything on the config's watch list up to date, doing the least work.

    \b
    Exit codes: 0 everything due succeeded (or nothing was due), 3 partial success
    (some items failed), 1 every fetch failed (topics and summaries steps do not count),
    2 bad config or options, 75 another sync holds the lock (nothing was done).
    """
    import os

    from archiver.app import sync as sync_mod

    st = state()
    config = st.config
    clock = sync_mod.clock_from_env(os.environ.get("ARCHIVER_NOW"))
    if dry_run:
        tasks = sync_mod.plan(_planning_db(st), config, list(only) or None, now=clock())
        if as_json:
            echo_json({"dry_run": True, "items": [t.as_dict() for t in tasks]})
            return
        for task in tasks:
            echo(f"{'due' if task.due else 'skip':5}  {task.kind:11}  {task.label}")
            echo(f"{'':20}{task.reason}")
        if not tasks:
            echo("the watch list is empty: add entries to the config (see `archiver init`)")
        return

    def show(result):
        if result.status == "skipped" and not st.verbose:
            return
        counts = (f"{result.new} new, {result.updated} updated, {result.unchanged} unchanged, "
                  f"{result.requests} requests, {result.seconds:.1f}s")
        detail = result.error or (f"{counts}; {result.note}" if result.note else counts)
        if result.status == "skipped":
            detail = result.task.reason
        # Reads "skipped ... host failing: <host> ...": the error says which host and why.
        status = "skipped" if result.status == "host_failing" else result.status
        info(f"{status:11} {result.task.kind:11} {result.task.label}: {detail}")

    report = sync_mod.run_sync(st.db(), st.database_path(), config, st.http(delay), list(only) or None,
                               on_item=None if as_json else show, clock=clock)
    if as_json:
        echo_json(report.as_dict())
    else:
        echo(report.summary_line())
    click.get_current_context().exit(report.exit_code)


def _planning_db(st):
    """The archive to plan against; before the first sync (no archive yet), an empty one in
    memory, so ``init`` then ``sync --dry-run`` shows the first sync's plan and creates nothing."""
    import os

    from archiver.store import open_db

    path = st.database_path()
    if path == ":memory:" or os.path.isfile(path):
        return st.db(read=True)
    info(f"no archive at {path} yet: planning the first sync against an empty archive "
         "(`archiver sync` creates it)")
    return open_db(":memory:")


def register(group: click.Group) -> None:
    group.add_command(init)
    group.add_command(sync)
