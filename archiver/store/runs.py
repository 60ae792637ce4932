"""The ``runs`` table: one row per fetching command, written at start and completed at the end."""

from __future__ import annotations

import sqlite_utils

from archiver.records import now_utc


def start_run(db: sqlite_utils.Database, command: str, target: str) -> int:
    with db.conn:
        cursor = db.conn.execute(
            "INSERT INTO runs (started_at, command, target, status, new, updated, unchanged, "
            "requests) VALUES (?, ?, ?, 'running', 0, 0, 0, 0)",
            [now_utc(), command, target],
        )
    return cursor.lastrowid


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
