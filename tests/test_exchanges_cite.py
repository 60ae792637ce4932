"""A quote that names its source's URL (``<blockquote cite=URL>``) resolves to the archived item
at that URL: exactly, even for a short quote or a quote in a post (no thread to search)."""

from __future__ import annotations

from archiver.analysis import exchanges as X
from archiver.kernel.records import Comment, Page, Post, Site
from archiver.store import open_db, save_page

SITE = Site(id="forum", name="Forum", url="https://forum.example", kind="test")
SOURCE_URL = "https://forum.example/a/1"


def post(pid: str, html: str, day: int) -> Post:
    return Post(id=f"forum:{pid}", site_id="forum", source_id=pid, url=f"https://forum.example/{pid}",
                title=pid.upper(), author="alice", body_html=html, posted_at=f"2025-01-0{day}T00:00:00Z")


def archive() -> object:
    db = open_db(":memory:")
    save_page(db, Page(sites=[SITE], posts=[post("a", "<p>On gating.</p>", 1)], comments=[
        Comment(id="forum:a1", site_id="forum", source_id="a1", post_id="forum:a", author="bob",
                url=SOURCE_URL, body_html="<p>Why does gating help?</p>",
                posted_at="2025-01-02T00:00:00Z"),
        Comment(id="forum:a2", site_id="forum", source_id="a2", post_id="forum:a", author="carol",
                url="https://forum.example/a/2", body_html="<p>Why does gating help? Asking.</p>",
                posted_at="2025-01-02T01:00:00Z")]))
    return db


def quoting(cite: str) -> str:
    return (f'<blockquote cite="{cite}"><p>Why does gating help?</p></blockquote>'
            "<p>It separates detection from magnitude.</p>")


def test_a_short_quote_citing_an_archived_url_resolves_to_that_item():
    db = archive()
    save_page(db, Page(posts=[post("b", quoting(SOURCE_URL), 3)], comments=[
        Comment(id="forum:c1", site_id="forum", source_id="c1", post_id="forum:b",
                body_html=quoting("https://forum.example/a/2"), posted_at="2025-01-04T00:00:00Z")]))
    X.extract(db)
    found = db.execute("SELECT item_id, kind, source_id, reply FROM exchanges "
                       "ORDER BY item_id").fetchall()
    assert found == [
        ("forum:b", "archive", "forum:a1", "It separates detection from magnitude."),
        ("forum:c1", "archive", "forum:a2", "It separates detection from magnitude.")]


def test_a_cited_item_without_the_quoted_words_is_not_taken():
    db = archive()
    save_page(db, Page(posts=[post("b", quoting("https://forum.example/a"), 3)]))
    X.extract(db)
    assert db.execute("SELECT kind, source_id FROM exchanges").fetchall() == [("external", None)]
