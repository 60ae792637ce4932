"""body_markdown is not stored when it equals body_text (archiver.store.bodies), and no reader
can tell: the export, the versions, the Datasette cell, a re-run and an older archive."""

from __future__ import annotations

import json

from archiver.app.ingest import ingest
from archiver.app.jsonl import export_lines, read_rows
from archiver.kernel.records import Comment, Page, Post, Site, User
from archiver.store import open_db, save_page
from archiver.web import cells

SITE = Site("lesswrong", "LessWrong", "https://www.lesswrong.com", "forummagnum")
PLAIN = "<p>Shrinkage biases the activations toward zero.</p>"
LINKED = "<p>See <a href='https://arxiv.org/abs/2404.16014'>the gated SAE paper</a>.</p>"


def page(bodies: dict[str, str]) -> Page:
    return Page(
        sites=[SITE],
        users=[User("lesswrong:u1", "lesswrong", "u1", slug="alice", name="Alice", stub=False)],
        posts=[Post("lesswrong:p1", "lesswrong", "p1", title="Gating", user_id="lesswrong:u1",
                    url="https://www.lesswrong.com/posts/p1/gating", author="Alice",
                    posted_at="2024-05-01T00:00:00Z", body_html=PLAIN)],
        comments=[Comment(f"lesswrong:{cid}", "lesswrong", cid, "lesswrong:p1",
                          user_id="lesswrong:u1", author="Alice",
                          posted_at=f"2024-05-0{n + 2}T00:00:00Z", body_html=html)
                  for n, (cid, html) in enumerate(bodies.items())])


def stored(db, table: str, item_id: str) -> tuple:
    return db.execute(f"SELECT body_markdown, body_text FROM {table} WHERE id = ?",
                      [item_id]).fetchone()


def test_markdown_equal_to_the_text_is_not_stored_but_every_reader_sees_it(tmp_path):
    db = open_db(str(tmp_path / "a.db"))
    ingest(db, [page({"c1": PLAIN, "c2": LINKED})], "thread", "test")
    plain_md, plain_text = stored(db, "comments", "lesswrong:c1")
    assert plain_md is None and plain_text.startswith("Shrinkage")
    linked_md, linked_text = stored(db, "comments", "lesswrong:c2")
    assert "](https://arxiv.org/abs/2404.16014)" in linked_md and linked_md != linked_text
    assert stored(db, "posts", "lesswrong:p1")[0] is None

    lines = list(export_lines(db))
    exported = {o["id"]: o for o in map(json.loads, lines) if o["type"] in ("comment", "post")}
    assert exported["lesswrong:c1"]["body_markdown"] == plain_text
    assert exported["lesswrong:p1"]["body_markdown"].startswith("Shrinkage")
    assert exported["lesswrong:c2"]["body_markdown"] == linked_md

    # Import into an empty archive stores the same compact rows and exports the same lines.
    copy = open_db(str(tmp_path / "copy.db"))
    save_page(copy, Page(other={"rows": list(read_rows(copy, lines, "export.jsonl"))}))
    assert stored(copy, "comments", "lesswrong:c1")[0] is None
    assert list(export_lines(copy)) == lines

    row = {"body_markdown": None, "body_text": plain_text}
    shown = cells.cell(row, None, "body_markdown", "comments", "archive", None)
    assert "Shrinkage biases" in shown and "body_markdown" in shown


def test_edits_keep_the_old_markdown_and_unchanged_reruns_write_nothing(tmp_path):
    db = open_db(str(tmp_path / "a.db"))
    ingest(db, [page({"c1": PLAIN})], "thread", "test")
    before = db.conn.total_changes
    counts = save_page(db, page({"c1": PLAIN}))
    assert counts.unchanged == 2 and db.conn.total_changes == before
    save_page(db, page({"c1": LINKED}))
    version = db.execute("SELECT changed, body_markdown, body_text FROM item_versions "
                         "WHERE item_id = 'lesswrong:c1'").fetchone()
    assert "body_html" in json.loads(version[0]) and version[1] is None
    exported = [json.loads(line) for line in export_lines(db)]
    old = next(o for o in exported if o["type"] == "item_version")
    assert old["body_markdown"] == old["body_text"] and old["body_text"].startswith("Shrinkage")


def test_an_archive_written_with_full_markdown_is_not_rewritten(tmp_path):
    """Rows stored before this change keep their copy: a re-run sees them unchanged (the hash is
    of what the site sent) and an upstream deletion keeps their text."""
    path = str(tmp_path / "a.db")
    db = open_db(path)
    ingest(db, [page({"c1": PLAIN, "c2": PLAIN})], "thread", "test")
    db.execute("UPDATE comments SET body_markdown = body_text")
    db.conn.commit()
    before = db.conn.total_changes
    counts = save_page(db, page({"c1": PLAIN, "c2": PLAIN}))
    assert counts.unchanged == 3 and db.conn.total_changes == before
    assert stored(db, "comments", "lesswrong:c1")[0].startswith("Shrinkage")
    save_page(db, page({"c1": PLAIN, "c2": ""}))
    md, text = stored(db, "comments", "lesswrong:c2")
    assert text.startswith("Shrinkage") and md in (None, text)
    row = db.execute("SELECT deleted FROM comments WHERE id = 'lesswrong:c2'").fetchone()
    assert row[0] == 1


def test_a_refresh_without_markdown_keeps_the_sites_own(tmp_path):
    """ForumMagnum sends its Markdown (Turndown's: ``_`` for emphasis); GreaterWrong's pages only
    HTML. The same HTML again without Markdown keeps the site's and makes no version; changed
    HTML takes archiver's rendering of it, and the old one goes to item_versions."""
    import dataclasses

    html = "<p>Gating <em>reduces</em> shrinkage.</p>"
    db = open_db(str(tmp_path / "a.db"))
    first = page({"c1": html})
    first.comments[0] = dataclasses.replace(first.comments[0],
                                            body_markdown="Gating _reduces_ shrinkage.")
    ingest(db, [first], "thread", "test")
    assert stored(db, "comments", "lesswrong:c1")[0] == "Gating _reduces_ shrinkage."
    ingest(db, [page({"c1": html})], "thread", "test")  # HTML only, as GreaterWrong gives it
    assert stored(db, "comments", "lesswrong:c1")[0] == "Gating _reduces_ shrinkage."
    assert db["item_versions"].count == 0
    ingest(db, [page({"c1": html.replace("reduces", "removes")})], "thread", "test")
    assert stored(db, "comments", "lesswrong:c1")[0] == "Gating *removes* shrinkage."
    assert [r["body_markdown"] for r in db["item_versions"].rows] == ["Gating _reduces_ shrinkage."]
