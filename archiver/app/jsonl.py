"""archiver's own JSON Lines format: ``archiver export`` writes it, ``archiver import`` reads it.

One JSON object per line. ``type`` names the kind of row (``site``, ``user``, ``post``,
``comment``, ``tag``, ``post_tag``, ``item_version``, ``paper``, ``paper_author``, ``paper_key``,
``researcher``, ``researcher_metrics``, ``researcher_paper``, ``mention``, ``exchange``,
``exchange_turn``, ``post_section``, ``topic``, …: the table name in the singular; a table
without a singular here is named as it is). Every other key is a column of that table, with the
value as stored (JSON columns such as ``posts.tags`` or ``extra`` stay JSON text; a list or object
given there is encoded on import). A table's own ``type`` column, if it has one, travels as
``type_``. Lines are written parents first (sites, users, tags, posts, comments, …).

Export scopes: a thread (the post, its comments and everything hanging off them), a user (the
profile, their posts, their comments and the posts those are on), a topic, or the whole archive.
Rows that point at other rows (declared foreign keys, and ``item_table``/``item_id`` pairs) bring
those rows along, so a partial export imports on its own. ``runs`` and ``meta`` describe the
archive itself and are not exported. Each table's ``type`` and whether it is exported come from
its declaration (``archiver.store.tables.Table``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import sqlite_utils

from archiver.app import resolve
from archiver.kernel.display import escape_unsafe
from archiver.kernel.errors import NotFound, UsageError
from archiver.store import bodies
from archiver.store.schema import DECLARED, declared, ensure_db_shape


def source_tables() -> set[str]:
    """Tables of fetched rows. The others' rows are written by archiver's analysis; when an
    import brings them, the analysis is not re-run over the imported items (it would renumber
    them). From each table's declaration (archiver.store.tables.Table.derived)."""
    return {t.name for t in DECLARED if not t.derived}


CHUNK = 500


def type_of(table: str) -> str:
    """The table's JSON Lines type (its declaration's export_as; else the table's name)."""
    found = declared(table)
    return found.export_type if found else table


class TypeMap:
    """type (or table name) -> table. Tables that analysis modules create on first use (topics,
    summaries, …) are created when an import brings their rows first."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self.complete = False
        self._load()

    def _load(self) -> None:
        self.tables = exportable_tables(self.db)
        self.known = {type_of(t): t for t in self.tables} | {t: t for t in self.tables}

    def table(self, kind: str) -> str | None:
        if kind not in self.known and not self.complete:
            ensure_all_schemas(self.db)
            self.complete = True
            self._load()
        return self.known.get(kind)


def ensure_all_schemas(db: sqlite_utils.Database) -> None:
    """Every table archiver knows, so rows of any table can be restored."""
    ensure_db_shape(db)


def exportable_tables(db: sqlite_utils.Database) -> list[str]:
    """Every data table, parents first (declared ones in declaration order, which is foreign-key
    order); FTS shadow tables, runs, meta and migrations left out."""
    names = db.table_names()
    virtual = {n for n in names if _is_fts(db, n)}
    skip = {t.name for t in DECLARED if not t.exported}
    tables = [n for n in names if n not in skip and n not in virtual and
              not any(n.startswith(v + "_") for v in virtual) and not n.startswith("sqlite_")]
    rest = sorted(t for t in tables if declared(t) is None)
    return [t.name for t in DECLARED if t.name in tables] + _parents_first(db, rest)


def _parents_first(db: sqlite_utils.Database, tables: list[str]) -> list[str]:
    """Order tables so that a table comes after the tables its foreign keys point at."""
    pending = {t: {fk.other_table for fk in db[t].foreign_keys} & set(tables) - {t}
               for t in tables}
    ordered: list[str] = []
    while pending:
        ready = sorted(t for t, deps in pending.items() if not deps - set(ordered))
        if not ready:  # a cycle: keep the remaining ones alphabetical
            ready = sorted(pending)
        for table in ready:
            ordered.append(table)
            pending.pop(table)
    return ordered


def _is_fts(db: sqlite_utils.Database, name: str) -> bool:
    sql = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", [name]).fetchone()
    return bool(sql and sql[0] and "VIRTUAL TABLE" in sql[0].upper())


# -- export ------------------------------------------------------------------------------------


class Selection:
    """Primary keys to export, by table, grown to include what the rows point at."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self.tables = exportable_tables(db)
        self.keys: dict[str, set] = {}

    def add(self, table: str, keys: Iterable) -> set:
        bucket = self.keys.setdefault(table, set())
        fresh = {k for k in keys if k is not None and k not in bucket}
        bucket |= fresh
        return fresh

    def pks(self, table: str) -> list[str]:
        return list(self.db[table].pks)

    def children(self, parent: str, keys: set) -> None:
        """Rows of other tables that point at these rows (by foreign key or item_id)."""
        if not keys:
            return
        for table in self.tables:
            if table == parent:
                continue
            columns = self.db[table].columns_dict
            for fk in self.db[table].foreign_keys:
                if fk.other_table == parent:
                    self._take(table, f"[{fk.column}] IN ({{marks}})", keys)
            if "item_table" in columns and "item_id" in columns:
                self._take(table, f"item_table = '{parent}' AND item_id IN ({{marks}})", keys)

    def _take(self, table: str, where: str, keys: set) -> None:
        pks = self.pks(table)
        ids = list(keys)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            marks = ", ".join("?" for _ in chunk)
            sql = f"SELECT {', '.join(f'[{c}]' for c in pks)} FROM [{table}] WHERE " + \
                where.format(marks=marks)
            rows = self.db.execute(sql, chunk).fetchall()
            self.add(table, [r[0] if len(pks) == 1 else tuple(r) for r in rows])

    def owned_children(self) -> bool:
        """Rows that belong to selected rows: ``exchange_turns`` of an exchange, ``paper_authors``
        and ``paper_keys`` of a paper, ``user_sequences`` of a user (a table named after its
        parent that points at nothing else but users). True when rows were added."""
        added = False
        for parent in list(self.keys):
            prefix = type_of(parent) + "_"
            for table in self.tables:
                if not table.startswith(prefix):
                    continue
                fks = self.db[table].foreign_keys
                links = {fk.other_table for fk in fks} - {"users"}
                if links != {parent} or "item_id" in self.db[table].columns_dict:
                    continue  # a link between two things (topic_items, researcher_papers)
                for fk in fks:
                    if fk.other_table == parent:
                        before = len(self.keys.get(table, ()))
                        self._take(table, f"[{fk.column}] IN ({{marks}})", self.keys[parent])
                        added |= len(self.keys.get(table, ())) > before
        return added

    def parents(self) -> None:
        """Add every row the selected rows point at, until nothing new turns up."""
        changed = True
        while changed:
            changed = False
            for table in list(self.keys):
                for fk in self.db[table].foreign_keys:
                    if fk.other_table not in self.tables:
                        continue
                    values = self._column_values(table, fk.column)
                    wanted = self._existing(fk.other_table, fk.other_column, values)
                    if self.add(fk.other_table, wanted):
                        changed = True
                if "item_table" in self.db[table].columns_dict:
                    for other, ids in self._items(table).items():
                        if other in self.tables and self.add(other, self._existing(other, "id", ids)):
                            changed = True

    def _column_values(self, table: str, column: str) -> set:
        values = set()
        for row in self.rows(table):
            if row.get(column) is not None:
                values.add(row[column])
        return values

    def _items(self, table: str) -> dict[str, set]:
        found: dict[str, set] = {}
        for row in self.rows(table):
            if row.get("item_table") and row.get("item_id"):
                found.setdefault(row["item_table"], set()).add(row["item_id"])
        return found

    def _existing(self, table: str, column: str, values: set) -> set:
        values = list(values)
        found = set()
        pks = self.pks(table)
        for start in range(0, len(values), CHUNK):
            chunk = values[start:start + CHUNK]
            marks = ", ".join("?" for _ in chunk)
            rows = self.db.execute(
                f"SELECT {', '.join(f'[{c}]' for c in pks)} FROM [{table}] "
                f"WHERE [{column}] IN ({marks})", chunk).fetchall()
            found |= {r[0] if len(pks) == 1 else tuple(r) for r in rows}
        return found

    def rows(self, table: str) -> Iterator[dict]:
        keys = list(self.keys.get(table, ()))
        pks = self.pks(table)
        order = ", ".join(f"[{c}]" for c in pks)
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start:start + CHUNK]
            if len(pks) == 1:
                marks = ", ".join("?" for _ in chunk)
                params = chunk
                where = f"[{pks[0]}] IN ({marks})"
            else:
                where = " OR ".join(
                    "(" + " AND ".join(f"[{c}] = ?" for c in pks) + ")" for _ in chunk)
                params = [v for key in chunk for v in key]
            yield from self.db.query(
                f"SELECT * FROM [{table}] WHERE {where} ORDER BY {order}", params)


def select(db: sqlite_utils.Database, threads: Iterable[str] = (), users: Iterable[str] = (),
           topics: Iterable[str] = ()) -> Selection:
    sel = Selection(db)
    for thread in threads:
        post_id = resolve.post_id(db, thread, "thread")
        sel.add("posts", [post_id])
        sel._take("comments", "post_id IN ({marks})", {post_id})
    for who in users:
        user_ids = resolve.user_ids(db, who)
        sel.add("users", user_ids)
        sel._take("posts", "user_id IN ({marks})", set(user_ids))
        sel._take("comments", "user_id IN ({marks})", set(user_ids))
    for name in topics:
        if "topics" not in sel.tables:
            raise NotFound("this archive has no topics yet (run the topic analysis first)")
        topic_id = resolve.topic(db, name)["id"]
        sel.add("topics", [topic_id])
        sel.children("topics", {topic_id})
    for table in ("posts", "comments"):
        sel.children(table, set(sel.keys.get(table, ())))
    sel.parents()
    while sel.owned_children():
        sel.parents()
    return sel


def export_lines(db: sqlite_utils.Database, selection: Selection | None = None) -> Iterator[str]:
    """JSON lines for the selection, or for the whole archive when it is None."""
    tables = exportable_tables(db)
    for table in tables:
        if selection is None:
            pks = ", ".join(f"[{c}]" for c in db[table].pks)
            rows: Iterable[dict] = db.query(f"SELECT * FROM [{table}] ORDER BY {pks}")
        elif table in selection.keys:
            rows = selection.rows(table)
        else:
            continue
        kind = type_of(table)
        for row in rows:
            bodies.full(table, row)  # the Markdown not stored because it equals the text
            if "type" in row:
                row["type_"] = row.pop("type")
            # Escaped like every --json output: `archiver export` prints to a terminal too.
            yield escape_unsafe(json.dumps({"type": kind, **row}, ensure_ascii=False))


# -- import ------------------------------------------------------------------------------------


def read_rows(db: sqlite_utils.Database, lines: Iterable[str], source: str):
    """Parse export lines into (table, row) pairs, checking types and columns."""
    from archiver.store.rows import Row

    columns: dict[str, set] = {}
    types = TypeMap(db)
    renumbered: dict = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise UsageError(f"{source}:{number}: not valid JSON ({exc.msg}); is this an "
                             "archiver export?") from exc
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
            raise UsageError(f"{source}:{number}: each line must be an object with a 'type'")
        kind = obj.pop("type")
        table = types.table(kind)
        if table is None:
            raise UsageError(f"{source}:{number}: unknown type {kind!r} (known: "
                             f"{', '.join(sorted(type_of(t) for t in types.tables))})")
        if "type_" in obj:
            obj["type"] = obj.pop("type_")
        if table not in columns:
            columns[table] = db[table].columns_dict
        unknown = set(obj) - set(columns[table])
        if unknown:
            raise UsageError(f"{source}:{number}: {kind} has no column(s) "
                             f"{', '.join(sorted(unknown))}")
        missing = [pk for pk in db[table].pks if obj.get(pk) is None and
                   not (pk == "id" and columns[table].get("id") is int)]
        if missing:
            raise UsageError(f"{source}:{number}: {kind} needs {', '.join(missing)} (it is "
                             "missing or null); nothing was imported from this file")
        row = {k: _encode(v) for k, v in obj.items()}
        if table == "topics" and row.get("match") is not None:
            _check_match(row["match"], f"{source}:{number}")
        yield Row(table, _fill(table, row), renumbered, line=number)


def _check_match(value, where: str) -> None:
    """A topic's ``match`` (JSON list of phrases or regexes) must compile: a bad one stored would
    break the topic analysis of every later import and fetch."""
    from archiver.analysis.topics import compile_patterns

    try:
        matches = json.loads(value) if isinstance(value, str) else value
    except ValueError as exc:
        raise UsageError(f"{where}: topic match is not valid JSON ({exc.msg}); give a list "
                         "such as [\"sparse autoencoder\", \"\\\\bSAEs?\\\\b\"]; nothing "
                         "was imported from this file") from exc
    if not isinstance(matches, list) or not all(isinstance(m, str) for m in matches):
        raise UsageError(f"{where}: topic match must be a JSON list of strings; nothing was "
                         "imported from this file")
    if not any(m.strip() for m in matches):
        raise UsageError(f"{where}: topic match is empty; give at least one phrase or regular "
                         "expression; nothing was imported from this file")
    for match in matches:
        try:
            compile_patterns([match])
        except UsageError as exc:  # "--match X is not a valid regular expression (why); hint"
            reason = str(exc).removeprefix("--match ").split("; ")[0]
            raise UsageError(f"{where}: topic match {reason}; nothing was imported from this "
                             "file") from exc


def _encode(value):
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return int(value)
    return value


# HTML columns shown to readers: sanitised on import like fetched bodies (a hand-written or
# tampered file is as hostile as any upstream page; archiver's own export passes unchanged).
HTML_COLUMNS = ("body_html", "bio_html")


def _fill(table: str, row: dict) -> dict:
    """Hand-written lines may give only a body's HTML or Markdown: derive the other forms."""
    from archiver.kernel import text

    if table in ("posts", "comments") and "body_text" not in row and (
            row.get("body_html") or row.get("body_markdown")):
        body = text.convert(row.get("body_html"), row.get("body_markdown"))
        row.update(body_html=body.html, body_markdown=body.markdown, body_text=body.text)
    for column in HTML_COLUMNS:
        if isinstance(row.get(column), str):
            row[column] = text.sanitize_html(row[column])
    flags = {"posts": ("deleted", "missing", "stub"), "comments": ("deleted", "missing"),
             "users": ("stub",)}
    for flag in flags.get(table, ()):
        row.setdefault(flag, 0)
    return row
