"""``archiver stats``: what the archive holds, per site and table, its newest items, recent runs.

``collect`` returns plain data with stable field names (documented in the README), so
``archiver stats --json`` can feed monitoring or a CI step.
"""

from __future__ import annotations

import os
import re

import sqlite_utils

from archiver.kernel.display import one_line

# FTS shadow tables and bookkeeping say nothing about the archive's content.
HIDDEN = re.compile(r"_fts(_data|_idx|_docsize|_config|_content)?$|^sqlite_")

# What "newest" means per table: (timestamp column, label column, url column).
NEWEST = {
    "posts": ("posted_at", "title", "url"),
    "comments": ("posted_at", "title", "url"),
    "papers": ("published", "title", "url"),
    "researcher_metrics": ("captured_at", "researcher_id", None),
    "exchanges": ("posted_at", "quote", None),
    "summaries": ("created_at", "title", None),
}


def collect(db: sqlite_utils.Database, db_path: str | None = None, runs: int = 10) -> dict:
    """Counts per table and per site, the newest item of each dated table, the last runs."""
    tables = {name: db[name].count for name in sorted(db.table_names()) if not HIDDEN.search(name)}
    return {
        "database": db_path,
        "size_bytes": os.path.getsize(db_path) if db_path and os.path.exists(db_path) else None,
        "tables": tables,
        "sites": _sites(db, tables),
        "newest": _newest(db, tables),
        "runs": _runs(db, runs),
        "last_sync": _last_sync(db),
    }


def _sites(db: sqlite_utils.Database, tables: dict) -> list[dict]:
    """One entry per site: its name and kind, and a count in every table with a site_id."""
    per_table = [t for t in tables if "site_id" in db[t].columns_dict]
    sites = {row[0]: {"id": row[0], "name": row[1], "kind": row[2], "counts": {}}
             for row in db.execute("SELECT id, name, kind FROM sites ORDER BY id")}
    for table in per_table:
        extra = " AND stub = 0" if table == "posts" else ""
        for site_id, count in db.execute(
                f"SELECT site_id, COUNT(*) FROM [{table}] WHERE 1{extra} GROUP BY site_id"):
            entry = sites.setdefault(site_id, {"id": site_id, "name": None, "kind": None,
                                               "counts": {}})
            entry["counts"][table] = count
    if "posts" in tables:
        for site_id, count in db.execute(
                "SELECT site_id, COUNT(*) FROM posts WHERE stub = 1 GROUP BY site_id"):
            sites.setdefault(site_id, {"id": site_id, "name": None, "kind": None, "counts": {}})
            sites[site_id]["counts"]["stub_posts"] = count
    return list(sites.values())


def _newest(db: sqlite_utils.Database, tables: dict) -> dict:
    out = {}
    for table, (stamp, label, url) in NEWEST.items():
        if table not in tables or not tables[table]:
            continue
        columns = db[table].columns_dict
        if stamp not in columns:
            continue
        pk = "id" if "id" in columns else "rowid"
        where = f"WHERE [{stamp}] IS NOT NULL" + (" AND stub = 0" if "stub" in columns else "")
        picked = [f"[{pk}] AS id", f"[{stamp}] AS at",
                  f"substr([{label}], 1, 120) AS label" if label in columns else "NULL AS label",
                  f"[{url}] AS url" if url and url in columns else "NULL AS url"]
        row = db.execute(f"SELECT {', '.join(picked)} FROM [{table}] {where} "
                         f"ORDER BY [{stamp}] DESC LIMIT 1").fetchone()
        if row:
            out[table] = dict(zip(("id", "at", "label", "url"), row))
    return out


RUN_FIELDS = ("id", "started_at", "ended_at", "command", "target", "status", "new", "updated",
              "unchanged", "requests", "error")


def _runs(db: sqlite_utils.Database, limit: int) -> list[dict]:
    cursor = db.execute(f"SELECT {', '.join(RUN_FIELDS)} FROM runs ORDER BY id DESC LIMIT ?",
                        [limit])
    return [dict(zip(RUN_FIELDS, row)) for row in cursor.fetchall()]


def _last_sync(db: sqlite_utils.Database) -> dict | None:
    row = db.execute(f"SELECT {', '.join(RUN_FIELDS)} FROM runs WHERE command = 'sync' "
                     "ORDER BY id DESC LIMIT 1").fetchone()
    return dict(zip(RUN_FIELDS, row)) if row else None


def render(data: dict) -> str:
    """The human-readable report ``archiver stats`` prints."""
    lines = [f"archive {data['database'] or ''}" + (
        f" ({data['size_bytes'] / 1e6:.1f} MB)" if data["size_bytes"] else "")]
    lines.append("sites:")
    for site in data["sites"]:
        counts = ", ".join(f"{n:,} {t}" for t, n in sorted(site["counts"].items()))
        lines.append(f"  {site['id']:<24} {counts or 'nothing yet'}")
    lines.append("tables:")
    lines.append("  " + ", ".join(f"{name} {n:,}" for name, n in data["tables"].items()))
    if data["newest"]:
        lines.append("newest:")
        for table, row in data["newest"].items():
            label = one_line(row["label"])[:70]
            lines.append(f"  {table:<19} {str(row['at'])[:16]:<16}  {label}"
                         + (f"  {one_line(row['url'])}" if row["url"] else ""))
    lines.append("last runs:")
    for run in data["runs"]:
        lines.append(
            f"  #{run['id']:<5} {str(run['started_at'])[:16]:<16}  {run['command']:<14} "
            f"{run['status']:<11} {run['new']} new, {run['updated']} updated, "
            f"{run['unchanged']} unchanged, {run['requests']} requests  {one_line(run['target'])}")
        if run["error"]:
            lines.append(f"         error: {one_line(run['error'])[:200]}")
    if not data["runs"]:
        lines.append("  none yet")
    return "\n".join(lines)


# -- a fingerprint of the archived content -------------------------------------------------------

# Bookkeeping that changes on every sync although nothing upstream did: the runs log, the sync
# cursors, and the columns that only say when the archive last looked.
NOT_CONTENT_TABLES = {"runs", "sync_state"}
NOT_CONTENT_COLUMNS = {"last_seen", "updated_at"}


def content_hash(db: sqlite_utils.Database) -> str:
    """SHA-256 over every archived row, leaving out ``runs``, ``sync_state``, full-text index
    tables and "last looked at" columns: equal hashes mean no archived content changed (the
    GitHub Actions recipe commits the database only when this changes)."""
    import hashlib

    digest = hashlib.sha256()
    for table in sorted(db.table_names()):
        if table in NOT_CONTENT_TABLES or table.startswith("sqlite_") or "_fts" in table:
            continue
        columns = [c.name for c in db[table].columns
                   if c.name not in NOT_CONTENT_COLUMNS and not c.name.endswith("fetched_at")]
        if not columns:
            continue
        listed = ", ".join(f'"{c}"' for c in columns)
        digest.update(f"\x00table {table} {listed}\n".encode())
        for row in db.execute(f'SELECT {listed} FROM "{table}" ORDER BY {listed}'):
            digest.update(repr(tuple(row)).encode() + b"\n")
    return digest.hexdigest()

