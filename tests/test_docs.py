"""The README documents everything: every command and subcommand in its tour, every table and
view of a fresh archive in its schema section."""

from __future__ import annotations

import re
from pathlib import Path

import click

from archiver.cli import cli
from archiver.store import open_db

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def section(start: str, end: str) -> str:
    return README[README.index(start):README.index(end, README.index(start))]


def command_paths(group: click.Group, prefix: str = "") -> list[str]:
    paths = []
    for name, command in group.commands.items():
        if command.hidden:
            continue
        path = f"{prefix}{name}"
        paths.append(path)
        if isinstance(command, click.Group):
            paths += command_paths(command, path + " ")
    return paths


def test_every_command_is_in_the_tour():
    tour = section("<!-- TOUR -->", "<!-- /TOUR -->")
    paths = command_paths(cli)
    assert "thread" in paths and "exchanges extract" in paths  # the walk found nested ones
    missing = [p for p in paths if not re.search(rf"archiver {re.escape(p)}(?![\w-])", tour)]
    assert missing == [], f"commands not in the README's tour: {missing}"


def test_every_table_and_view_is_in_the_schema_section():
    schema = section("<!-- SCHEMA -->", "<!-- /SCHEMA -->")
    db = open_db(":memory:")
    names = [n for n in db.table_names() + db.view_names()
             if not n.startswith("sqlite_") and not re.search(r"_fts(_|$)", n)]
    assert "posts" in names and "exchanges_view" in names
    missing = [n for n in names if f"`{n}`" not in schema]
    assert missing == [], f"tables/views not in the README's schema section: {missing}"
