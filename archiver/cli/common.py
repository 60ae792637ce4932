"""What every command shares: global options, the database, the HTTP client, output and errors.

Global options (``--db``, ``-v``, ``-q``, ``--config``) are accepted both before the command name
and after it: ``global_options`` adds them to each subcommand, and values given there win.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import click

from archiver.kernel.display import clean_terminal, safe_json
from archiver.kernel.errors import ArchiverError, UsageError

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
            from archiver.app.config import load_config

            self._config = load_config(self.config_path)
        return self._config

    def database_path(self) -> str:
        if self.db_path:
            return self.db_path
        if os.environ.get("ARCHIVER_DB"):
            return os.environ["ARCHIVER_DB"]
        return getattr(self.config, "db", None) or DEFAULT_DB

    def db(self, read: bool = False):
        """The archive, opened once per command. ``read=True`` for commands that only read or
        analyse what is archived: there, a missing archive is an error and nothing is created."""
        if self._db is None:
            from archiver.store import open_db

            self._db = open_db(self.database_path(), must_exist=read)
        return self._db

    def http(self, delay: float | None = None):
        from archiver.kernel.http import Http

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


class _CleanFormatter(logging.Formatter):
    """Log lines quote upstream text (titles, URLs, error bodies): no escape sequences."""

    def format(self, record: logging.LogRecord) -> str:
        return clean_terminal(super().format(record))


_HANDLER = _StderrHandler()
_HANDLER.setFormatter(_CleanFormatter("%(name)s: %(message)s"))


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


def _check_delay(ctx, param, value: float | None) -> float | None:
    """``--delay inf`` or ``nan`` parse as floats but cannot be slept: refuse them in one line."""
    if value is None:
        return None
    from archiver.app.config import MAX_SECONDS  # the config module loads the source registry

    if not 0 <= value <= MAX_SECONDS:  # false for nan too
        raise UsageError(f"--delay takes seconds from 0 to {MAX_SECONDS:g}, not {value!r}")
    return value


def delay_option(fn):
    return click.option(
        "--delay", type=float, default=None, metavar="SECONDS", callback=_check_delay,
        help="Minimum seconds between requests to one host (default 1, or the config's delay).",
    )(fn)


def endpoint_option(fn):
    return click.option(
        "--endpoint", metavar="URL",
        help="Override the API root (mirrors, self-hosted instances, tests); URLs stay canonical.",
    )(fn)


def fallback_option(fn):
    return click.option(
        "--fallback", metavar="URL",
        help="Where a fallback may go when --endpoint is set (the Firebase root for Hacker News, "
             "a GreaterWrong root for LessWrong/EA Forum); default: the config's "
             "[endpoints] <site>_fallback, else no fallback.",
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


def echo(message: object = "", err: bool = False, nl: bool = True) -> None:
    """Print a line that may hold upstream text (titles, names, bodies): every command prints
    through here, so no escape sequence, control character or bidi override reaches the
    terminal. Newlines and tabs stay."""
    click.echo(clean_terminal(str(message)), err=err, nl=nl)


def info(message: str) -> None:
    if not state().quiet:
        echo(message, err=True)


def echo_json(obj) -> None:
    click.echo(safe_json(obj))


def argument_problem(arg: str) -> str | None:
    """Why a command-line argument cannot be used, before any command sees it, or None.

    Python hands bytes that are not UTF-8 over as lone surrogates, which crash the first
    encode (SQLite, the terminal); a URL that ``urlsplit`` cannot parse (``http://[::1``) raises
    ValueError wherever it is split.
    """
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        raw = arg.encode("utf-8", "surrogateescape")
        return (f"the argument {raw!r} is not valid UTF-8 text; pass UTF-8 (check the "
                "terminal's or the script's encoding)")
    value = arg.split("=", 1)[1] if arg.startswith("--") and "=" in arg else arg
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", value):
        from archiver.kernel.http import url_problem  # requests: only when there is a URL to check

        problem = url_problem(value)
        if problem and "not an http(s) URL" not in problem:
            return f"{value!r} is {problem}; check the URL"
    return None


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

    def convert(self, value, param, ctx):
        # The option's own default is valid by declaration (tests/test_startup_imports.py checks
        # it): converting it must not load the registry, which imports every source module.
        if param is not None and value == param.default:
            return value
        return super().convert(value, param, ctx)


def source_registry():
    """archiver.sources.registry, imported when a command or a given option value needs it, so
    that loading the CLI (and every ``--help`` without source choices) skips it."""
    from archiver.sources import registry

    return registry


class ArchiverGroup(click.Group):
    """Turns every failure into one clear line and an exit code; tracebacks only with -v."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        for arg in args:
            problem = argument_problem(arg)
            if problem:
                echo(f"error: {problem}", err=True)
                ctx.exit(UsageError.exit_code)
        return super().parse_args(ctx, args)

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
        except sqlite3.Error as exc:
            from archiver.store import problems  # here, not at start-up: the store is heavy

            self._fail(ctx, exc, problems.explain(exc), 1)
        except OSError as exc:
            self._fail(ctx, exc, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 1)

    @staticmethod
    def _fail(ctx: click.Context, exc: BaseException, message: str, code: int):
        st = ctx.find_object(State)
        if st and st.verbose:
            import traceback

            echo("".join(traceback.format_exception(exc)), err=True, nl=False)
        echo(f"error: {message}", err=True)
        ctx.exit(code)
