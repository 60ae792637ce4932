"""Wire a source's pages into the store, with a ``runs`` row and incremental analysis after it.

The CLI and ``sync`` call ``ingest``; it is the only place where fetching and storing meet.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable

import sqlite_utils

from archiver.kernel.errors import ArchiverError
from archiver.kernel.records import Page
from archiver.store import Counts, finish_run, save_page, start_run
from archiver.store.save import analysis_done, pending_analysis

log = logging.getLogger("archiver.app.ingest")

# Analysis modules with ``after_fetch(db, changed: dict[str, list[str]])``, run after each fetch on
# the new or changed items only (quoted exchanges, paper mentions, topic membership).
ANALYSIS_HOOKS = [
    "archiver.analysis.mentions",
    "archiver.analysis.exchanges",
    "archiver.analysis.topics",
]


def ingest(db: sqlite_utils.Database, pages: Iterable[Page], command: str, target: str,
           http=None, analyse: bool = True) -> Counts:
    """Save every page as it arrives (one transaction each); record the run; then analyse.

    On failure the pages already written stay written, the run row says what failed, and the
    error propagates to the caller.
    """
    run_id = start_run(db, command, target)
    total = Counts()
    requests_before = http.requests_made if http else 0
    try:
        for page in pages:
            total.add(save_page(db, page))
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        made = (http.requests_made - requests_before) if http else 0
        finish_run(db, run_id, status, total.as_dict(), made, _error_text(exc))
        if analyse:
            run_analysis(db, total.changed)
        raise
    made = (http.requests_made - requests_before) if http else 0
    finish_run(db, run_id, "ok", total.as_dict(), made)
    if analyse:
        run_analysis(db, total.changed)
    return total


def run_analysis(db: sqlite_utils.Database, changed: dict[str, list[str]]) -> None:
    """Analyse ``changed`` and whatever a killed run saved but never analysed (queued by
    ``save_page`` in the same transaction as the rows), then take them off the queue."""
    todo = {table: list(ids) for table, ids in changed.items() if ids}
    for table, ids in pending_analysis(db).items():
        todo[table] = list(dict.fromkeys([*todo.get(table, []), *ids]))
    if not any(todo.values()):
        return
    for name in ANALYSIS_HOOKS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.after_fetch(db, todo)
    analysis_done(db, todo)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, ArchiverError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
