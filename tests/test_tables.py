"""One declaration per table (archiver.store.tables): it alone makes the table, its Datasette
metadata and its JSON Lines type; migrations are registered functions recorded in the archive."""

from __future__ import annotations

import json
import sqlite3

import pytest
import sqlite_utils

from archiver.app import datasette as ds
from archiver.app import jsonl
from archiver.store import open_db, schema
from archiver.store.tables import Index, Table, View, ensure_view

NOTES = Table(
    name="test_notes",
    columns={"id": str, "post_id": str, "text": str, "stars": int},
    pk="id",
    foreign_keys=(("post_id", "posts", "id"),),
    indexes=(Index(("stars", "id")),),
    fts=("text",),
    views=(View(name="test_starred", sql="SELECT id, text FROM test_notes WHERE stars > 3",
                description="Notes with more than three stars.", inherits="test_notes"),),
    description="Readers' notes on posts.",
    docs={"text": "The note.", "stars": "How good it is."},
    label="text",
    sort=("stars", True),
    export_as="test_note",
)


@pytest.fixture
def declared_notes():
    schema.DECLARED.append(NOTES)
    yield NOTES
    schema.DECLARED.remove(NOTES)


def test_one_declaration_makes_the_table_its_metadata_and_its_export_type(declared_notes):
    db = open_db(":memory:")
    assert db["test_notes"].columns_dict == {"id": str, "post_id": str, "text": str, "stars": int}
    assert [(fk.column, fk.other_table) for fk in db["test_notes"].foreign_keys] == [
        ("post_id", "posts")]
    indexed = {tuple(i.columns) for i in db["test_notes"].indexes}
    assert {("stars", "id"), ("post_id",)} <= indexed  # declared, and the foreign key's
    assert db["test_notes_fts"].exists() and "test_starred" in db.view_names()

    meta = ds.build_metadata(db, "x")["databases"]["x"]["tables"]
    notes = meta["test_notes"]
    assert notes["description"] == "Readers' notes on posts."
    assert notes["columns"]["text"] == "The note." and notes["columns"]["id"].startswith("Primary")
    assert (notes["label_column"], notes["sort_desc"], notes["fts_table"]) == (
        "text", "stars", "test_notes_fts")
    assert meta["test_starred"]["description"] == "Notes with more than three stars."
    assert meta["test_starred"]["columns"]["text"] == "The note."  # inherited

    db["test_notes"].insert({"id": "n1", "text": "good", "stars": 5})
    lines = [json.loads(line) for line in jsonl.export_lines(db)]
    assert {"type": "test_note", "id": "n1", "post_id": None, "text": "good", "stars": 5} in lines
    assert "test_notes" in jsonl.source_tables()  # fetched rows, not analysis output


def test_every_declared_table_is_made_exactly_as_declared():
    db = open_db(":memory:")
    for table in schema.DECLARED:
        assert db[table.name].columns_dict == table.columns, table.name
        pks = [table.pk] if isinstance(table.pk, str) else list(table.pk)
        assert db[table.name].pks == pks, table.name
        fks = {(fk.column, fk.other_table, fk.other_column) for fk in db[table.name].foreign_keys}
        assert fks == set(table.foreign_keys), table.name
        indexed = {tuple(i.columns) for i in db[table.name].indexes}
        for index in table.indexes:
            assert index.columns in indexed, (table.name, index)
        assert db[f"{table.name}_fts"].exists() == bool(table.fts), table.name
        for view in table.views:
            assert view.name in db.view_names()
        assert table.description, f"{table.name} has no description"


def test_export_skips_what_is_declared_not_exported():
    db = open_db(":memory:")
    exported = jsonl.exportable_tables(db)
    assert not {"runs", "meta", "migrations"} & set(exported)
    assert exported[:3] == ["sites", "users", "tags"]  # parents first


def test_reopening_changes_no_schema(tmp_path):
    path = str(tmp_path / "a.db")
    open_db(path).conn.close()
    db = open_db(path)
    version = db.execute("PRAGMA schema_version").fetchone()[0]
    db.conn.close()
    db = open_db(path)
    assert db.execute("PRAGMA schema_version").fetchone()[0] == version


def test_a_view_whose_sql_changed_is_replaced():
    db = sqlite_utils.Database(memory=True)
    db["t"].insert({"a": 1})
    ensure_view(db, View(name="v", sql="SELECT a FROM t"))
    ensure_view(db, View(name="v", sql="SELECT a, a * 2 AS b FROM t"))
    assert list(db.query("SELECT * FROM v")) == [{"a": 1, "b": 2}]


# -- migrations --------------------------------------------------------------------------------


@pytest.fixture
def registry(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(schema, "MIGRATIONS", [])

    @schema.migration(schema.SCHEMA_VERSION)
    def fill_titles(db):
        calls.append("fill_titles")
        db.execute("UPDATE posts SET title = 'untitled' WHERE title IS NULL")

    @schema.migration(schema.SCHEMA_VERSION)
    def count_comments(db):
        calls.append("count_comments")

    return calls


def _old_archive(path) -> None:
    """An archive from before versioning (schema 0): posts without titles, no meta table."""
    old = sqlite_utils.Database(path)
    old["posts"].insert({"id": "lesswrong:p1", "site_id": "lesswrong", "title": None}, pk="id")
    old.conn.close()


def test_a_migration_runs_once_on_an_older_archive_and_is_recorded(tmp_path, registry):
    path = tmp_path / "old.db"
    _old_archive(path)
    db = open_db(str(path))
    assert registry == ["fill_titles", "count_comments"]
    assert db["posts"].get("lesswrong:p1")["title"] == "untitled"
    assert {r["name"] for r in db["migrations"].rows} == {"fill_titles", "count_comments"}
    db.conn.close()
    open_db(str(path)).conn.close()
    assert registry == ["fill_titles", "count_comments"]  # not again
    assert list(tmp_path.glob("old.db.schema0-*.bak"))  # backed up first, as before


def test_a_new_archive_records_migrations_without_running_them(tmp_path, registry):
    db = open_db(str(tmp_path / "new.db"))
    assert registry == []
    assert {r["name"] for r in db["migrations"].rows} == {"fill_titles", "count_comments"}


def test_a_failed_migration_keeps_the_ones_before_it_and_runs_again(tmp_path, registry):
    path = tmp_path / "old.db"
    _old_archive(path)

    @schema.migration(schema.SCHEMA_VERSION)
    def broken(db):
        raise sqlite3.OperationalError("disk I/O error")

    with pytest.raises(Exception, match="disk I/O error"):
        open_db(str(path))
    conn = sqlite3.connect(path)
    assert {r[0] for r in conn.execute("SELECT name FROM migrations")} == {
        "fill_titles", "count_comments"}
    conn.close()
    schema.MIGRATIONS.remove((schema.SCHEMA_VERSION, broken))
    db = open_db(str(path))  # the stored version is still old: the archive is not marked done
    assert db["meta"].get("schema_version")["value"] == str(schema.SCHEMA_VERSION)
    assert registry == ["fill_titles", "count_comments"]


def test_the_sync_state_description_lists_every_kind_the_code_writes():
    """Every kind written to sync_state (``_mark``, ``set_state``, the analysis queue) is named in
    the table's description, so a reader of the Datasette page knows what each row means."""
    import re
    from pathlib import Path

    from archiver.store import save

    code = "\n".join(p.read_text(encoding="utf-8")
                     for p in (Path(__file__).resolve().parents[1] / "archiver").rglob("*.py"))
    kinds = set(re.findall(r'(?:_mark|set_state)\((?:db, |self\.db, )?"(\w+)"', code))
    kinds.add(save.PENDING)
    assert {"thread_full", "thread_signature", "tag_id", "thread_fetched"} <= kinds  # found them
    description = next(t for t in schema.DECLARED if t.name == "sync_state").description
    assert sorted(k for k in kinds if k not in description) == []
