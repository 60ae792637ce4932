"""The schema: created up front, migrated forward with a backup, foreign keys for Datasette."""

from __future__ import annotations

import sqlite3

import pytest
import sqlite_utils

from archiver.kernel.errors import ArchiverError
from archiver.store import open_db
from archiver.store.schema import SCHEMA_VERSION


def test_fresh_database_has_typed_tables_foreign_keys_and_fts(tmp_path):
    db = open_db(str(tmp_path / "a.db"))
    for table in ("sites", "users", "posts", "comments", "tags", "post_tags", "runs",
                  "item_versions", "sync_state"):
        assert db[table].exists(), table
    assert db["comments"].columns_dict["score"] is int
    assert db["comments"].columns_dict["body_markdown"] is str
    fks = {(fk.column, fk.other_table) for fk in db["comments"].foreign_keys}
    assert {("post_id", "posts"), ("parent_id", "comments"), ("user_id", "users")} <= fks
    indexed = {tuple(i.columns) for i in db["comments"].indexes}
    assert ("post_id", "path") in indexed and ("user_id", "posted_at") in indexed
    assert db["posts_fts"].exists() and db["comments_fts"].exists()
    assert db.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_older_archive_is_backed_up_then_migrated_forward(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    old["posts"].insert({"id": "lesswrong:p1", "title": "Kept", "site_id": "lesswrong"}, pk="id")
    old["comments"].insert({"id": "lesswrong:c1", "post_id": "lesswrong:p1", "body_text": "hi"},
                           pk="id")
    old.conn.close()
    db = open_db(str(path))
    assert db["posts"].get("lesswrong:p1")["title"] == "Kept"
    assert "path" in db["comments"].columns_dict and db["sync_state"].exists()
    assert db["meta"].get("schema_version")["value"] == str(SCHEMA_VERSION)
    [backup] = list(tmp_path.glob("old.db.schema0-*.bak"))
    saved = sqlite3.connect(backup)
    assert saved.execute("select title from posts").fetchone() == ("Kept",)
    assert "path" not in [r[1] for r in saved.execute("pragma table_info(comments)")]


def test_newer_schema_is_refused(tmp_path):
    path = str(tmp_path / "new.db")
    db = open_db(path)
    db["meta"].upsert({"key": "schema_version", "value": str(SCHEMA_VERSION + 5)}, pk="key")
    db.conn.close()
    with pytest.raises(ArchiverError, match="newer archiver"):
        open_db(path)


def test_foreign_file_is_a_clear_error(tmp_path, cli_run):
    bad = tmp_path / "notes.db"
    bad.write_bytes(b"these are my notes, not a database" * 200)
    with pytest.raises(ArchiverError, match="not an SQLite database or corrupted"):
        open_db(str(bad))
    result = cli_run("--db", str(bad), "search", "anything")
    assert result.exit_code == 1 and result.output.startswith("error: ")
    assert "Traceback" not in result.output
    assert bad.read_bytes().startswith(b"these are my notes")  # untouched


def test_reopening_writes_nothing(tmp_path):
    path = str(tmp_path / "a.db")
    open_db(path).conn.close()
    db = open_db(path)
    assert db.conn.total_changes == 0


def test_no_index_is_a_prefix_of_another_and_old_ones_are_dropped(tmp_path):
    """Every comment write updates every index: one on post_id alone next to (post_id, path)
    only costs writes and pages. A fresh archive lacks them; an older archive loses them on open,
    and a thread's comments are still found through the composite index."""
    path = str(tmp_path / "a.db")
    db = open_db(path)
    names = {i.name for i in db["comments"].indexes}
    assert not names & {"idx_comments_post_id", "idx_comments_user_id"}
    assert {"idx_comments_parent_id", "idx_comments_post_id_path"} <= names
    db.execute("CREATE INDEX idx_comments_post_id ON comments (post_id)")
    db.execute("CREATE INDEX idx_comments_user_id ON comments (user_id)")
    db.close()
    db = open_db(path)
    assert not {i.name for i in db["comments"].indexes} & {"idx_comments_post_id",
                                                           "idx_comments_user_id"}
    plan = " ".join(str(r) for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM comments WHERE post_id = ?", ["x"]))
    assert "idx_comments_post_id_path" in plan


def test_new_archives_use_8k_pages_and_old_ones_keep_theirs(tmp_path):
    """Comment rows of 1-3 KB left half of each default 4 KB page empty."""
    fresh = open_db(str(tmp_path / "new.db"))
    assert fresh.execute("PRAGMA page_size").fetchone()[0] == 8192
    old_path = str(tmp_path / "old.db")
    with sqlite3.connect(old_path) as conn:
        conn.execute("PRAGMA page_size = 4096")
        conn.execute("CREATE TABLE keep (x)")
        conn.execute("INSERT INTO keep VALUES (1)")
    conn.close()
    old = open_db(old_path)
    assert old.execute("PRAGMA page_size").fetchone()[0] == 4096
    assert old.execute("SELECT x FROM keep").fetchall() == [(1,)] and old["comments"].exists()
