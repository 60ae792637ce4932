"""SQLite's errors in words: the one place that tells a locked, read-only, full or foreign
database apart, and says what to do about each (the CLI prints it on one line)."""

from __future__ import annotations

import sqlite3


def is_locked(exc: sqlite3.Error) -> bool:
    """Another connection holds the lock (past the busy timeout): not a problem of the query."""
    text = str(exc)
    return "locked" in text or "busy" in text


def is_read_only(exc: BaseException) -> bool:
    text = str(exc)
    return "readonly" in text or "read-only" in text


def explain(exc: sqlite3.Error, path: str | None = None) -> str:
    """What went wrong and what to do, for any SQLite error (``path``: the archive, if known)."""
    text = str(exc)
    where = f"{path}: " if path else ""
    if is_locked(exc):
        return (f"{where}the database is locked by another process (a sync or a writer); "
                "wait for it to finish and try again")
    if is_read_only(exc):
        return f"{where}the database is read-only; check the file's permissions or pass --db"
    if "full" in text:
        return (f"{where}the disk is full (or the database hit its size limit); the page being "
                "written was rolled back and everything before it is kept: free some space and "
                "run the command again")
    if "not a database" in text or "malformed" in text or "encrypted" in text:
        return (f"{where}not an SQLite database or corrupted ({text}); move it aside and pass "
                "--db to start a new archive")
    if "unable to open" in text:
        return f"{where}cannot open the database ({text}); check the path and its folder"
    return f"{where}database error: {text}; is --db an archiver database?"
