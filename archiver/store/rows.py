"""Rows written as they are: the saver behind importing archiver's own JSON Lines export.

``Page(other={"rows": [Row(table, row), ...]})`` upserts each row into its table by primary key,
inside the page's transaction, keeping every value as exported (ids, hashes, first_seen), so an
export imported into an empty archive gives the same rows. Tables with an integer ``id`` (mentions,
metrics snapshots, versions, exchanges) are matched on their natural unique key first, so
importing the same file twice, or into an archive that already has rows, adds no duplicates and
never overwrites another item's row that happens to carry the same number.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from archiver.store import bodies
from archiver.store.save import ANALYSED, Counts, Saver, _queue_analysis

# Natural keys of integer-id tables that declare no unique index for them.
NATURAL_KEYS = {"item_versions": ("item_table", "item_id", "version")}


@dataclass
class Row:
    table: str
    row: dict
    # Shared by the rows of one import: (table, exported id) -> id given here, for integer ids
    # that had to be renumbered; later rows pointing at them are translated.
    renumbered: dict | None = None
    # Queue the item for the after-fetch analysis (exchanges, mentions, topics) in the page's own
    # transaction, as fetched items are: an import killed before its analysis leaves the items
    # queued, not silently unanalysed (a re-import would find them unchanged).
    analyse: bool = False
    line: int | None = None  # where the row came from, for messages


@dataclass(frozen=True)
class TableInfo:
    columns: tuple[str, ...]
    pks: tuple[str, ...]
    int_id: bool  # a single INTEGER primary key named id
    unique: tuple[tuple[str, ...], ...]
    references: tuple[tuple[str, str], ...]  # (column, table it points at)


def table_info(db: sqlite_utils.Database, name: str) -> TableInfo:
    table = db.table(name)
    columns = tuple(table.columns_dict)
    pks = tuple(table.pks)
    int_id = pks == ("id",) and table.columns_dict.get("id") is int
    unique = tuple(tuple(i.columns) for i in table.indexes
                   if i.unique and tuple(i.columns) != pks)
    if name in NATURAL_KEYS:
        unique += (NATURAL_KEYS[name],)
    references = tuple((str(fk.column), str(fk.other_table)) for fk in table.foreign_keys)
    return TableInfo(columns, pks, int_id, unique, references)


def save_rows(db: sqlite_utils.Database, rows: list[Row], now: str) -> Counts:
    counts = Counts()
    infos: dict[str, TableInfo] = {}
    queue: dict[str, list] = {}
    for item in rows:
        if item.table not in infos:
            infos[item.table] = table_info(db, item.table)
        info = infos[item.table]
        row = bodies.compact(item.table, _translate(item, info))
        status, key = _save_row(db, item.table, info, row)
        if info.int_id and item.renumbered is not None and row.get("id") not in (None, key):
            item.renumbered[(item.table, row["id"])] = key
        setattr(counts, status, getattr(counts, status) + 1)
        if status != "unchanged" and key is not None:
            counts.changed.setdefault("rows:" + item.table, []).append(key)
            if item.analyse and item.table in ANALYSED:
                queue.setdefault(item.table, []).append(key)
    _queue_analysis(db, queue, now)
    return counts


def _translate(item: Row, info: TableInfo) -> dict:
    """Point references at the ids renumbered earlier in this import."""
    if not item.renumbered:
        return item.row
    row = dict(item.row)
    for column, other in info.references:
        if (other, row.get(column)) in item.renumbered:
            row[column] = item.renumbered[(other, row[column])]
    pair = (row.get("item_table"), row.get("item_id"))
    if pair in item.renumbered:
        row["item_id"] = item.renumbered[pair]
    return row


def _find(db, table: str, where: tuple[str, ...], row: dict) -> dict | None:
    if any(c not in row for c in where):
        return None
    clause = " AND ".join(f"[{c}] IS ?" for c in where)
    cursor = db.conn.execute(f"SELECT * FROM [{table}] WHERE {clause}", [row[c] for c in where])
    values = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], values)) if values else None


def _save_row(db, table: str, info: TableInfo, row: dict):
    key = row.get(info.pks[0]) if len(info.pks) == 1 else tuple(row.get(c) for c in info.pks)
    if info.int_id:
        return _save_int_id_row(db, table, info, row)
    old = _find(db, table, info.pks, row)
    if old is not None and all(old.get(c) == v for c, v in row.items()):
        return "unchanged", key
    _upsert(db, table, row, info.pks)
    return ("new" if old is None else "updated"), key


def _save_int_id_row(db, table: str, info: TableInfo, row: dict):
    for unique in info.unique:
        old = _find(db, table, unique, row)
        if old is not None:
            fields = {c: v for c, v in row.items() if c != "id"}
            if all(old.get(c) == v for c, v in fields.items()):
                return "unchanged", old["id"]
            sets = ", ".join(f"[{c}] = ?" for c in fields)
            db.conn.execute(f"UPDATE [{table}] SET {sets} WHERE id = ?",
                            [*fields.values(), old["id"]])
            return "updated", old["id"]
    same_id = _find(db, table, ("id",), row) if row.get("id") is not None else None
    if same_id is not None:
        if all(same_id.get(c) == v for c, v in row.items()):
            return "unchanged", row["id"]
        row = {c: v for c, v in row.items() if c != "id"}  # that number is another item's
    columns = list(row)
    cursor = db.conn.execute(
        f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})", [row[c] for c in columns])
    return "new", cursor.lastrowid


def _upsert(db, table: str, row: dict, pks: tuple[str, ...]) -> None:
    columns = list(row)
    update = [c for c in columns if c not in pks]
    sql = (f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in columns)}) "
           f"VALUES ({', '.join('?' for _ in columns)})")
    if update:
        sql += (f" ON CONFLICT({', '.join(f'[{c}]' for c in pks)}) DO UPDATE SET "
                + ", ".join(f"[{c}] = excluded.[{c}]" for c in update))
    else:
        sql += " ON CONFLICT DO NOTHING"
    db.conn.execute(sql, [row[c] for c in columns])


# Page.other kind -> saver (archiver.store.save.other_savers lists these).
SAVERS: dict[str, Saver] = {"rows": save_rows}
