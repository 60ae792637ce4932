"""Saved files in (``archiver import``) and the JSON Lines export out (``archiver export``):
read or write, storing through ``archiver.app.ingest`` (every import leaves a ``runs`` row).
The row format itself is ``archiver.app.jsonl``."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial

import sqlite_utils

from archiver.app import jsonl
from archiver.app.ingest import ingest, run_analysis
from archiver.kernel.errors import UsageError
from archiver.kernel.records import Page
from archiver.store import Counts
from archiver.store.rows import Row

ROWS_PER_PAGE = 1000

log = logging.getLogger("archiver.app.transfer")


@dataclass
class FileReport:
    path: str
    kind: str
    counts: Counts
    summary: str | None = None
    notes: list[str] = field(default_factory=list)


def expand_paths(paths: Iterable[str]) -> list[str]:
    """Files as given; a folder stands for the files in it (sorted, hidden files skipped)."""
    found = []
    for path in paths:
        if os.path.isdir(path):
            found += sorted(os.path.join(path, name) for name in os.listdir(path)
                            if not name.startswith(".") and
                            os.path.isfile(os.path.join(path, name)))
        elif not os.path.exists(path):
            raise FileNotFoundError(2, "No such file", path)
        else:
            found.append(path)
    return found


def import_paths(db: sqlite_utils.Database, paths: Iterable[str], kind: str | None = None,
                 captured: str | None = None, url: str | None = None,
                 name: str | None = None) -> list[FileReport]:
    """Import saved files (kind detected per file unless given); one run per file."""
    from archiver.sources import saved as saved_mod

    reports = []
    for path in expand_paths(paths):
        saved = saved_mod.read_saved(path, captured, url, name)
        file_kind = kind or saved_mod.detect_kind(saved)
        if file_kind == "jsonl":
            counts, notes = import_jsonl(db, saved.text.splitlines(), path)
            reports.append(FileReport(path, file_kind, counts, "archiver export", notes))
            continue
        pages = list(saved_mod.pages_for(saved, file_kind, partial(_profile_id, db)))
        counts = ingest(db, pages, "import", f"{file_kind} {path}")
        reports.append(FileReport(path, file_kind, counts, saved.summary, saved.notes))
    return reports


def _profile_id(db: sqlite_utils.Database, site_id: str, slug: str) -> str | None:
    """The id of a fully archived profile with this slug, so a saved profile joins it."""
    row = db.execute("SELECT id FROM users WHERE site_id = ? AND slug = ? AND stub = 0",
                     [site_id, slug]).fetchone()
    return row[0] if row else None


def import_jsonl(db: sqlite_utils.Database, lines: Iterable[str], source: str):
    """Restore exported rows as they were; analysis runs only if the file brought none of its
    rows (mentions, exchanges, …), since re-running it would renumber them."""
    rows = list(jsonl.read_rows(db, lines, source))  # every line checked before any is written
    tables = {row.table for row in rows}
    derived = sorted(tables - jsonl.source_tables())
    for row in rows:
        row.analyse = not derived  # queued with the page that writes it (see store.rows)
    kept: list[int] = []
    try:
        counts = ingest(db, _row_pages(rows, kept), "import", f"jsonl {source}", analyse=False)
    except Exception:
        if kept:
            log.warning("%s: lines 1-%d were imported and are kept, the lines after them were "
                        "not; import the file again once the problem is fixed (rows already "
                        "imported are not duplicated)", source, kept[-1])
        raise
    notes = []
    if derived:
        notes.append(f"analysis rows came with the file ({', '.join(derived)}); not re-run")
    else:
        run_analysis(db, {})  # the queue holds this file's new or changed items
    return counts, notes


def _row_pages(rows: list[Row], kept: list[int]) -> Iterator[Page]:
    """Pages of rows; ``kept`` gets the last line of each page once it has been written."""
    for start in range(0, len(rows), ROWS_PER_PAGE):
        page = rows[start:start + ROWS_PER_PAGE]
        yield Page(other={"rows": page})
        kept.append(page[-1].line)  # resumed only after the caller saved the page


def export_to_file(db: sqlite_utils.Database, db_path: str, output: str, threads=(), users=(),
                   topics=(), everything: bool = False) -> int:
    """Export into ``output`` through a temporary file renamed over it at the end, so a failed
    or killed export never leaves a half file in place of a good one. The archive, its companion
    files and any other SQLite database are refused: they are never what an export should
    replace."""
    check_export_target(output, db_path)
    target = os.path.realpath(output)  # write through a symlink, as open() would
    temporary = os.path.join(os.path.dirname(target),
                             f".{os.path.basename(target)}.{secrets.token_hex(4)}.tmp")
    # O_EXCL with mode 0o666: a fresh file with the user's usual permissions (umask applies).
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(handle, "w", encoding="utf-8") as out:
            count = export_archive(db, out, threads, users, topics, everything)
            out.flush()
            os.fsync(out.fileno())
        if os.path.exists(target):
            os.chmod(temporary, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return count


# Files that belong to an archive: SQLite's write-ahead log, shared memory and rollback journal,
# and the lock file `archiver sync` holds.
COMPANIONS = ("", "-wal", "-shm", "-journal", ".lock")


def check_export_target(output: str, db_path: str) -> None:
    target = os.path.realpath(output)
    archive = os.path.realpath(db_path)
    if target in {archive + suffix for suffix in COMPANIONS}:
        raise UsageError(f"-o {output} is the archive itself (or one of its files); exporting "
                         "there would destroy it: give a new file name such as archive.jsonl")
    try:
        with open(target, "rb") as existing:
            header = existing.read(16)
    except OSError:
        return  # nothing there yet (or unreadable: the write will say so)
    if header == b"SQLite format 3\x00":
        raise UsageError(f"-o {output} is an SQLite database; an export is JSON Lines and would "
                         "replace it: give a new file name such as archive.jsonl")


def export_archive(db: sqlite_utils.Database, out, threads=(), users=(), topics=(),
                   everything: bool = False) -> int:
    """Write JSON lines to ``out`` (a text file); returns the number of lines."""
    selection = None if everything else jsonl.select(db, threads, users, topics)
    count = 0
    for line in jsonl.export_lines(db, selection):
        out.write(line + "\n")
        count += 1
    return count
