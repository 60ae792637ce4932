"""Database size: small link and bookkeeping tables stored WITHOUT ROWID, no index that the
primary key already gives, old archives rebuilt without losing a row, Datasette still shows them.
The figures are in scripts/bench_floor.py (``python scripts/bench.py --only floor``)."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3

import pytest
import sqlite_utils

from archiver.kernel.errors import ArchiverError
from archiver.store import open_db, schema
from archiver.store.tables import ensure_table, has_rowid

COMPACT = [t.name for t in schema.DECLARED if t.without_rowid]


def test_link_tables_are_without_rowid_and_found_through_their_key(tmp_path):
    db = open_db(str(tmp_path / "a.db"))
    assert {"topic_items", "exchange_scans", "post_tags", "sync_state"} <= set(COMPACT)
    assert not any(has_rowid(db, name) for name in COMPACT)
    assert has_rowid(db, "comments")  # FTS needs the rowid of what it indexes
    names = {row[0] for row in db.execute("SELECT name FROM sqlite_schema WHERE type = 'index'")}
    # The key's leading column already finds a topic's items, a post's tags, a paper's authors.
    assert not names & {"idx_topic_items_topic_id_score", "idx_post_tags_post_id",
                        "idx_paper_authors_paper_id", "idx_researcher_papers_researcher_id"}
    assert "idx_topic_items_item_table_item_id" in names
    plan = " ".join(str(r) for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT item_id, score FROM topic_items WHERE topic_id = ? "
        "AND item_table = 'comments'", [1]))
    assert "PRIMARY KEY" in plan and "SCAN" not in plan


def _v1_archive(path: str, monkeypatch) -> None:
    """An archive as schema 1 made it: every table with a rowid, the (topic_id, score) index,
    the one-column index a composite key already covers."""
    with monkeypatch.context() as m:
        m.setattr(schema, "DECLARED", [dataclasses.replace(t, without_rowid=False)
                                       for t in schema.DECLARED])
        m.setattr(schema, "SCHEMA_VERSION", 1)
        m.setattr(schema, "MIGRATIONS", [])
        db = open_db(path)
    db.execute("CREATE INDEX idx_topic_items_topic_id_score ON topic_items (topic_id, score)")
    db.execute("CREATE INDEX idx_post_tags_post_id ON post_tags (post_id)")
    with db.conn:
        db.execute("INSERT INTO topics (id, kind, name) VALUES (1, 'user', 'SAEs')")
        db.conn.executemany("INSERT INTO topic_items VALUES (?, ?, ?, ?, ?)",
                            [(1, "comments", f"lesswrong:c{i}", i / 10, "2024-05-01")
                             for i in range(50)])
        db.conn.executemany("INSERT INTO exchange_scans VALUES (?, 'comments', ?, 0, 'now')",
                            [(f"lesswrong:c{i}", f"{i:040x}") for i in range(50)])
        # A rowid table lets a key column be NULL; WITHOUT ROWID would refuse this row.
        db.execute("INSERT INTO post_tags (post_id, tag_id) VALUES ('lesswrong:p1', NULL)")
        db.execute("INSERT INTO sync_state VALUES ('thread_fetched', 'lesswrong:p1', 'x', 'y')")
    assert all(has_rowid(db, name) for name in COMPACT)
    db.close()


def _rows(db, table: str) -> list[tuple]:
    return sorted(db.execute(f"SELECT * FROM [{table}]").fetchall(), key=repr)


def test_an_older_archive_is_rebuilt_without_losing_a_row(tmp_path, monkeypatch):
    path = str(tmp_path / "old.db")
    _v1_archive(path, monkeypatch)
    before = sqlite_utils.Database(path)
    kept = {name: _rows(before, name) for name in COMPACT}
    before.close()

    db = open_db(path)
    assert {name: _rows(db, name) for name in COMPACT} == kept
    assert len(kept["topic_items"]) == 50 and len(kept["exchange_scans"]) == 50
    assert not has_rowid(db, "topic_items") and not has_rowid(db, "exchange_scans")
    assert not has_rowid(db, "sync_state")
    assert has_rowid(db, "post_tags")  # its NULL key stays, in the table shape that allows it
    names = {i.name for t in ("topic_items", "post_tags") for i in db[t].indexes}
    assert "idx_topic_items_item_table_item_id" in names
    assert not names & {"idx_topic_items_topic_id_score", "idx_post_tags_post_id"}
    # The view over topic_items reads the rebuilt table; writes go on as before.
    assert db.execute("SELECT count(*) FROM primary_topics").fetchone()[0] == 50
    with db.conn:
        db.execute("INSERT OR REPLACE INTO topic_items VALUES (1, 'comments', 'lesswrong:c1', "
                   "9.0, 'later')")
    assert db.execute("SELECT score FROM topic_items WHERE item_id = 'lesswrong:c1'"
                      ).fetchone()[0] == 9.0
    assert list(tmp_path.glob("old.db.schema1-*.bak"))  # backed up before the rebuild
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    assert open_db(path).conn.total_changes == 0  # once only


def test_a_failed_rebuild_leaves_the_archive_as_it_was(tmp_path, monkeypatch):
    path = str(tmp_path / "old.db")
    _v1_archive(path, monkeypatch)
    real, done = schema._rebuild, []

    def fail_after_the_first(db, table):
        if done:
            raise sqlite3.OperationalError("disk I/O error")
        real(db, table)
        done.append(table.name)

    monkeypatch.setattr(schema, "_rebuild", fail_after_the_first)
    with pytest.raises(ArchiverError, match="disk I/O error"):
        open_db(path)
    monkeypatch.undo()
    db = sqlite_utils.Database(path)
    assert done and all(has_rowid(db, name) for name in COMPACT)  # the first one rolled back
    assert len(_rows(db, "topic_items")) == 50
    assert not [n for n in db.table_names() if n.startswith("_rebuild_")]
    db.close()
    assert not has_rowid(open_db(path), "topic_items")  # and the next open does it


def test_datasette_shows_and_links_rows_of_a_without_rowid_table(tmp_path):
    datasette_app = pytest.importorskip("datasette.app")
    from datasette.utils import tilde_encode

    path = str(tmp_path / "a.db")
    db = open_db(path)
    with db.conn:
        db.execute("INSERT INTO topics (id, kind, name) VALUES (1, 'user', 'SAEs')")
        db.execute("INSERT INTO topic_items VALUES (1, 'comments', 'lesswrong:c1', 0.5, 'now')")
        db.execute("INSERT INTO exchange_scans VALUES ('lesswrong:c1', 'comments', 'h', 2, 'now')")
    db.close()
    datasette = datasette_app.Datasette([path])

    async def fetch(url):
        await datasette.invoke_startup()
        return await datasette.client.get(url)

    table = asyncio.run(fetch("/a/topic_items.json?_shape=objects"))
    assert table.status_code == 200
    assert table.json()["primary_keys"] == ["topic_id", "item_table", "item_id"]
    assert table.json()["rows"][0]["item_id"] == "lesswrong:c1"
    row_path = ",".join(tilde_encode(v) for v in ("1", "comments", "lesswrong:c1"))
    row = asyncio.run(fetch(f"/a/topic_items/{row_path}.json?_shape=objects"))
    assert row.status_code == 200 and row.json()["rows"][0]["score"] == 0.5
    html = asyncio.run(fetch("/a/exchange_scans"))
    assert html.status_code == 200 and "/a/exchange_scans/lesswrong~3Ac1" in html.text


def test_ensure_table_creates_a_declared_without_rowid_table():
    db = sqlite_utils.Database(memory=True)
    table = next(t for t in schema.DECLARED if t.name == "exchange_scans")
    ensure_table(db, table)
    assert "WITHOUT ROWID" in db["exchange_scans"].schema
    assert not has_rowid(db, "exchange_scans")
    ensure_table(db, dataclasses.replace(table, name="plain", without_rowid=False))
    assert has_rowid(db, "plain")
