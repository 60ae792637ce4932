"""The ``runs`` table: one row per fetching command, written at start and completed at the end.

A run row also records which process wrote it (``pid``, ``host`` and ``process``, an identity of
that process that survives pid reuse), so a run whose process was killed before it could finish
its row is marked ``interrupted`` the next time the archive is opened, instead of staying
``running`` forever.
"""

from __future__ import annotations

import functools
import os
import socket

import sqlite_utils

from archiver.kernel.records import now_utc

KILLED = "the process was killed before it finished"


def start_run(db: sqlite_utils.Database, command: str, target: str) -> int:
    with db.conn:
        cursor = db.conn.execute(
            "INSERT INTO runs (started_at, command, target, status, new, updated, unchanged, "
            "requests, pid, host, process) VALUES (?, ?, ?, 'running', 0, 0, 0, 0, ?, ?, ?)",
            [now_utc(), command, target, os.getpid(), socket.gethostname(),
             process_identity(os.getpid())],
        )
    return int(cursor.lastrowid or 0)  # an INSERT always sets it


def finish_run(db: sqlite_utils.Database, run_id: int, status: str, counts: dict | None = None,
               requests: int = 0, error: str | None = None) -> None:
    counts = counts or {}
    with db.conn:
        db.conn.execute(
            "UPDATE runs SET ended_at = ?, status = ?, new = ?, updated = ?, unchanged = ?, "
            "requests = ?, error = ? WHERE id = ?",
            [now_utc(), status, counts.get("new", 0), counts.get("updated", 0),
             counts.get("unchanged", 0), requests, error, run_id],
        )


def mark_dead_runs(db: sqlite_utils.Database) -> int:
    """Mark ``running`` rows whose process is gone as ``interrupted``; returns how many.

    Only rows written on this host are judged (an archive on a shared folder may be written
    from elsewhere), and a row without a pid (older archiver) is left as it is. Writes nothing
    when nothing is dead, so opening an archive stays free of writes.
    """
    rows = db.conn.execute("SELECT id, pid, host, process FROM runs WHERE status = 'running' "
                           "AND pid IS NOT NULL").fetchall()
    here = socket.gethostname()
    dead = [run_id for run_id, pid, host, process in rows
            if host == here and not process_alive(pid, process)]
    if dead:
        with db.conn:
            db.conn.executemany(
                "UPDATE runs SET status = 'interrupted', ended_at = COALESCE(ended_at, ?), "
                "error = COALESCE(error, ?) WHERE id = ? AND status = 'running'",
                [(now_utc(), KILLED, run_id) for run_id in dead])
    return len(dead)


def process_alive(pid: int, identity: str | None) -> bool:
    """Is the process that wrote a run row still running? A pid alone can be reused by another
    process, so where the row has an identity (Linux) the live process must match it."""
    boot = _boot_id()
    if identity and boot:
        parts = identity.split(":")
        if len(parts) == 3 and parts[0] == boot and parts[1] != _pid_namespace():
            return True  # written in another pid namespace (another container): cannot tell
        return process_identity(pid) == identity
    if process_identity(pid) is not None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    return True


def process_identity(pid: int) -> str | None:
    """``<boot id>:<pid namespace>:<start time in clock ticks>`` of a live process on Linux,
    as seen from this process; None if it is gone (or a zombie) or there is no /proc. Two
    processes never share it, even when one reuses the other's pid, and a reboot changes it."""
    boot = _boot_id()
    if boot is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2:].split()
    if len(fields) < 20 or fields[0] in ("Z", "X", "x"):
        return None
    return f"{boot}:{_pid_namespace()}:{fields[19]}"


@functools.lru_cache(maxsize=1)
def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


@functools.lru_cache(maxsize=1)
def _pid_namespace() -> str:
    """This process's pid namespace ("4026531836"): pids mean something only inside it."""
    try:
        return os.readlink("/proc/self/ns/pid").split("[")[-1].rstrip("]")
    except OSError:
        return ""
