"""What a fetching command imports: a ``thread`` run loads only what it uses.

Each check runs in a fresh interpreter (this process has imported everything already) and reads
its ``sys.modules``. Not a timing test: the times are in scripts/bench.py (startup, floor).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click

from tests.fakes import forummagnum as fm

ROOT = Path(__file__).resolve().parents[1]

# Loaded by a forum thread run before they were made lazy, used by none of it: feedparser (the
# arXiv source's parser, imported when the registry loaded every source) and the regex package
# (user topic patterns, imported by the topics hook whether or not any topic has patterns).
NOT_FOR_A_THREAD = ["feedparser", "regex"]
# What loading the CLI (``archiver --help``, a command's own help) leaves for the command to load.
NOT_FOR_THE_CLI = ["importlib.metadata", "archiver.sources", "archiver.kernel.records",
                   "archiver.kernel.parse", "requests", "sqlite_utils"]


def modules_after(code: str, *args: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code`` with ``args`` as its argv."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return set(json.loads(out.stdout.splitlines()[-1]))


def loaded(names: set[str], wanted: list[str]) -> list[str]:
    return sorted(w for w in wanted if any(n == w or n.startswith(w + ".") for n in names))


RUN_CLI = """
import sys
from archiver.cli import cli
code = cli.main(sys.argv[1:], prog_name="archiver", standalone_mode=False)  # exit code, or None
assert not code, f"the command failed with exit code {code}"
"""


def test_a_thread_run_imports_nothing_it_does_not_use(forum, endpoint, tmp_path):
    fm.big_thread(forum, "startuppost00001", 30)
    db = tmp_path / "archive.db"
    names = modules_after(RUN_CLI, "--quiet", "--db", str(db), "thread",
                          "lesswrong:startuppost00001", "--endpoint", endpoint, "--delay", "0")
    # The run happened: its source, the store and the analysis hooks are all there.
    for used in ("archiver.sources.forummagnum", "archiver.store.save",
                 "archiver.analysis.exchanges", "archiver.analysis.topics"):
        assert used in names
    assert loaded(names, NOT_FOR_A_THREAD) == []


def test_importing_an_export_imports_no_feed_parser(forum, endpoint, cli_run, tmp_path):
    """``archiver import`` reads saved files of every kind; a JSON Lines export is not a feed."""
    fm.big_thread(forum, "startuppost00002", 10)
    assert cli_run("thread", "lesswrong:startuppost00002", "--endpoint", endpoint,
                   "--delay", "0").exit_code == 0
    export = tmp_path / "export.jsonl"
    assert cli_run("export", "--all", "-o", str(export)).exit_code == 0
    names = modules_after(RUN_CLI, "--quiet", "--db", str(tmp_path / "copy.db"), "import",
                          str(export))
    assert "archiver.sources.saved" in names  # the import ran
    assert loaded(names, ["feedparser"]) == []


def test_loading_the_cli_leaves_sources_and_libraries_to_the_commands():
    names = modules_after("import archiver.cli")
    assert "archiver.cli.forum" in names
    assert loaded(names, NOT_FOR_THE_CLI) == []


def test_an_option_left_at_its_default_does_not_load_the_registry():
    """click converts defaults through the option's type: a registry-backed choice must not load
    every source module for ``--via api`` nobody typed."""
    code = """
from archiver.cli.forum import thread, user
from archiver.cli.pages import import_
from archiver.cli.research import researcher
thread.make_context("thread", ["lesswrong:abc"])
user.make_context("user", ["someone"])
researcher.make_context("researcher", ["Someone"])
import_.make_context("import", ["saved.html"])
"""
    names = modules_after(code)
    assert loaded(names, ["archiver.sources", "importlib.metadata"]) == []


def _lazy_choice_params():
    from archiver.cli import cli
    from archiver.cli.common import LazyChoice

    def walk(group: click.Group, path: str):
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                yield from walk(command, f"{path} {name}")
            for param in command.params:
                if isinstance(param.type, LazyChoice):
                    yield f"{path} {name}", param

    return list(walk(cli, "archiver"))


def test_every_registry_backed_default_is_one_of_its_choices():
    """Defaults skip the registry check, so each must be valid by declaration."""
    params = _lazy_choice_params()
    assert {p.name for _, p in params} >= {"via", "site", "source", "kind"}
    for command, param in params:
        if isinstance(param.default, str):  # click marks "no default" with a sentinel
            assert param.default in param.type.choices, (command, param.name)


def test_a_value_given_is_still_checked_against_the_registry(cli_run):
    result = cli_run("thread", "lesswrong:abc", "--via", "nowhere")
    assert result.exit_code == 2
    assert "Invalid value for '--via': 'nowhere' is not one of 'api', 'greaterwrong'" in (
        result.output)
