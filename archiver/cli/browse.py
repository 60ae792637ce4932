"""``archiver datasette-metadata`` and ``archiver serve``: browse the archive in Datasette."""

from __future__ import annotations

import os

import click

from archiver.cli.common import echo, global_options, info, state

SHIPPED = os.path.join("db", "metadata.yml")


@click.command("datasette-metadata")
@click.option("-o", "--output", metavar="FILE", default=SHIPPED, show_default=True,
              help="Where to write (.yml/.yaml for YAML, else JSON); - for stdout.")
@click.option("--fresh", is_flag=True,
              help="Describe a fresh archive with every module's tables instead of --db "
                   "(how db/metadata.yml is made).")
@global_options
def datasette_metadata(output, fresh):
    """Write Datasette metadata for the archive: descriptions of every table and column, label
    columns, sort and facets, search, canned queries and Markdown rendering.

    \b
    datasette db/archive.db --metadata db/metadata.yml
    """
    from archiver.app import datasette as ds

    st = state()
    db_path = st.database_path()
    data = ds.build_metadata(None if fresh else st.db(read=True), ds.database_name(db_path))
    if output == "-":
        echo(ds.to_yaml(data), nl=False)
        return
    ds.write_metadata(data, output)
    info(f"wrote {output}: datasette {db_path} --metadata {output}")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", "-p", default=8001, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on.")
@global_options
def serve(host, port):
    """Browse the archive in Datasette (with its metadata and Markdown rendering).

    Needs the datasette extra: pip install 'archiver[datasette]'.
    """
    from archiver.app import datasette as ds

    st = state()
    for warning in ds.check_installed():
        info(f"warning: {warning}")
    code = ds.serve(st.database_path(), host, port, quiet=st.quiet,
                    on_start=lambda url: info(f"serving {url} (Ctrl-C to stop)"))
    click.get_current_context().exit(code)


def register(group: click.Group) -> None:
    group.add_command(datasette_metadata)
    group.add_command(serve)
