"""The ``archiver`` command: a thin click layer over the library.

Each module in this package that defines ``register(group)`` adds its commands; no logic lives
here.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click

from archiver import __version__
from archiver.cli.common import GLOBAL_PARAMS, ArchiverGroup, State, _apply


@click.group(cls=ArchiverGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="archiver")
@click.pass_context
def cli(ctx: click.Context, **options):
    """Archive forum threads, researcher profiles and papers into one SQLite database."""
    ctx.ensure_object(State)
    _apply(ctx, options.get("db"), options.get("verbose") or 0, options.get("quiet") or False,
           options.get("config"))


cli.params.extend(GLOBAL_PARAMS)


def _register_all() -> None:
    package = sys.modules[__name__]
    for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        register = getattr(module, "register", None)
        if register:
            register(cli)


_register_all()


def main() -> None:
    cli(prog_name="archiver")
