"""What every command shares: global options, the database, the HTTP client, output and errors.

Global options (``--db``, ``-v``, ``-q``, ``--config``) are accepted both before the command name
and after it: ``global_options`` adds them to each subcommand, and values given there win.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import click

from archiver.errors import ArchiverError

DEFAULT_DB = os.path.join("db", "archive.db")


@dataclass
class State:
    db_path: str | None = None
    verbose: int = 0
    quiet: bool = False
    config_path: str | None = None
    _config: object = None
    _db: object = None
    _http: list = field(default_factory=list)

    @property
    def config(self):
        if self._config is None:
            from archiver.config import load_config

            self._config = load_config(self.config_path)
        return self._config

    def database_path(self) -> str:
        if self.db_path:
            return self.db_path
        if os.environ.get("ARCHIVER_DB"):
            return os.environ["ARCHIVER_DB"]
        return getattr(self.config, "db", None) or DEFAULT_DB

    def db(self):
        if self._db is None:
            from archiver.store import open_db

            self._db = open_db(self.database_path())
        return self._db

    def http(self, delay: float | None = None):
        from archiver.http import Http

        settings = self.config.http_settings()
        if delay is not None:
            settings.delay = delay
        client = Http(settings)
        self._http.append(client)
        return client


def state() -> State:
    return click.get_current_context().find_object(State)


def _apply(ctx: click.Context, db: str | None, verbose: int, quiet: bool, config: str | None):
    st = ctx.ensure_object(State)
    if db:
        st.db_path = db
    if verbose:
        st.verbose = max(st.verbose, verbose)
    if quiet:
        st.quiet = True
    if config:
        st.config_path = config
    configure_logging(st)
    return st


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is now (test runners swap it between invocations)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


_HANDLER = _StderrHandler()
_HANDLER.setFormatter(logging.Formatter("%(name)s: %(message)s"))


def configure_logging(st: State) -> None:
    """Configure the ``archiver`` loggers only: libraries and servers keep their own settings."""
    level = logging.WARNING
    if st.verbose:
        level = logging.INFO if st.verbose == 1 else logging.DEBUG
    if st.quiet:
        level = logging.ERROR
    logger = logging.getLogger("archiver")
    logger.setLevel(level)
    if _HANDLER not in logger.handlers:
        logger.addHandler(_HANDLER)
    logger.propagate = True  # so pytest and embedding programs still see records


GLOBAL_PARAMS = [
    click.Option(["--db"], metavar="PATH", help="Database file (default db/archive.db, env ARCHIVER_DB)."),
    click.Option(["-v", "--verbose"], count=True, help="Show each request; -vv for debug."),
    click.Option(["-q", "--quiet"], is_flag=True, help="Only errors; no progress bars."),
    click.Option(["--config"], metavar="FILE", help="Config file (default ./archiver.toml)."),
]


def global_options(fn):
    """Accept the global options after the command name too (``archiver thread URL --db X``)."""

    @functools.wraps(fn)
    def wrapper(*args, db=None, verbose=0, quiet=False, config=None, **kwargs):
        _apply(click.get_current_context(), db, verbose, quiet, config)
        return fn(*args, **kwargs)

    for option in reversed(GLOBAL_PARAMS):
        wrapper = click.option(*option.opts, **_option_kwargs(option))(wrapper)
    return wrapper


def _option_kwargs(option: click.Option) -> dict:
    kwargs = {"help": option.help, "default": None if not option.count else 0}
    if option.count:
        kwargs["count"] = True
    elif option.is_flag:
        kwargs["is_flag"] = True
        kwargs["default"] = False
    else:
        kwargs["metavar"] = option.metavar
    return kwargs


def delay_option(fn):
    return click.option(
        "--delay", type=float, default=None, metavar="SECONDS",
        help="Minimum seconds between requests to one host (default 1, or the config's delay).",
    )(fn)


def endpoint_option(fn):
    return click.option(
        "--endpoint", metavar="URL",
        help="Override the API root (mirrors, self-hosted instances, tests); URLs stay canonical.",
    )(fn)


def show_progress() -> bool:
    st = state()
    return not st.quiet and sys.stderr.isatty()


def progress(label: str, total: int | None = None):
    """A progress bar on stderr, silent with --quiet or when not a TTY."""
    return click.progressbar(
        length=total or 0, label=label, file=sys.stderr, show_pos=True,
        hidden=not show_progress(),
    )


def info(message: str) -> None:
    if not state().quiet:
        click.echo(message, err=True)


def echo_json(obj) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=None, default=str))


class LazyChoice(click.Choice):
    """A Choice whose values are asked for when an argument is checked or help is shown, not on
    import: they come from the source registry, so a broken installation fails with one clear
    line from the command instead of a traceback while the CLI loads."""

    def __init__(self, values: Callable[[], Iterable[str]], case_sensitive: bool = True):
        self._values = values
        super().__init__((), case_sensitive)

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self._values())

    @choices.setter
    def choices(self, _value) -> None:  # click's __init__ assigns the (empty) static tuple
        pass


class ArchiverGroup(click.Group):
    """Turns every failure into one clear line and an exit code; tracebacks only with -v."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader went away (`archiver topics --json | head`): that is not an error.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(0)
        except ArchiverError as exc:
            self._fail(ctx, exc, str(exc), exc.exit_code)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                message = ("the database is locked by another process (a sync or a writer); "
                           "wait for it to finish and try again")
            elif "readonly" in str(exc):
                message = "the database is read-only; check the file's permissions or use --db"
            elif "database or disk is full" in str(exc):
                message = ("the disk is full (or the database hit its size limit); the page being "
                           "written was rolled back and everything before it is kept: free some "
                           "space and run the command again")
            else:
                message = f"database error: {exc}"
            self._fail(ctx, exc, message, 1)
        except sqlite3.DatabaseError as exc:
            self._fail(ctx, exc, f"database error: {exc}; is --db an archiver database?", 1)
        except OSError as exc:
            self._fail(ctx, exc, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 1)

    @staticmethod
    def _fail(ctx: click.Context, exc: BaseException, message: str, code: int):
        st = ctx.find_object(State)
        if st and st.verbose:
            import traceback

            traceback.print_exception(exc, file=sys.stderr)
        click.echo(f"error: {message}", err=True)
        ctx.exit(code)
