"""Sections of post bodies, sequences of user profiles, and paper reviews inside posts.

Tables:

- ``post_sections``: a post body cut at its headings, in order (``position`` 0-based; ``level`` 1-6
  for h1-h6, 0 for the text before the first heading). Derived from the body, so a new version of
  the post replaces its sections.
- ``user_sequences``: the sequences (collections of posts) listed on a forum profile, in order.
- ``paper_reviews``: the papers a post reviews (a weekly roundup: title, abstract, "My opinion"),
  in the post's order, each with the comment row holding the reviewer's opinion of it.

Record kinds saved through ``Page.other`` (inside the page's transaction):

- ``"sections"``: objects with ``post_id, position, heading, level, body_text``
  (``archiver.sources.blog.Section``).
- ``"user_sequences"``: objects with ``user_id, position, title, url``.
- ``"paper_reviews"``: objects with ``paper`` (a ``Paper``), ``post_id``, ``comment_id`` and
  ``position``: a post that reviews papers (seed 003). The paper is saved (merged with any other
  record of it) and linked in ``paper_reviews`` to the post and to the opinion comment. (The
  post body names each paper, so mention detection also links the post to it in ``mentions``.)
"""

from __future__ import annotations

from itertools import groupby

import sqlite_utils

from archiver.store.save import Counts, Saver
from archiver.store.tables import Index, Table, ensure_table

TABLES = [
    Table(
        name="post_sections",
        columns={
            "post_id": str, "position": int, "heading": str, "level": int, "body_text": str,
        },
        pk=("post_id", "position"),
        foreign_keys=(
            ("post_id", "posts", "id"),
        ),
        indexes=(
            Index(("heading",)),
        ),
        description="Post and article bodies cut at their headings, in order.",
        docs={
            "heading": "The section's heading (empty before the first heading).",
            "level": "Heading level 1-6 (0 before the first heading).",
            "body_text": "The section's text.",
        },
        facets=("heading",),
        export_as="post_section",
    ),
    Table(
        name="user_sequences",
        columns={
            "user_id": str, "position": int, "title": str, "url": str,
        },
        pk=("user_id", "position"),
        foreign_keys=(
            ("user_id", "users", "id"),
        ),
        description="Sequences (collections of posts) listed on a forum profile, in order.",
        docs={
            "title": "Sequence title.",
            "url": "Sequence URL.",
        },
        export_as="user_sequence",
    ),
    Table(
        name="paper_reviews",
        columns={
            "post_id": str, "position": int, "paper_id": str, "comment_id": str,
        },
        pk=("post_id", "position"),
        foreign_keys=(
            ("post_id", "posts", "id"), ("paper_id", "papers", "id"),
            ("comment_id", "comments", "id"),
        ),
        description=("Papers reviewed inside a post (e.g. a newsletter), in order, with the comment"
                     " row holding the reviewer's opinion."),
        docs={
            "comment_id": "The reviewer's opinion (comments.id).",
        },
        export_as="paper_review",
    ),
]


def ensure_schema(db: sqlite_utils.Database) -> None:
    for table in TABLES:
        ensure_table(db, table)


def save_sections(db: sqlite_utils.Database, sections: list, now: str) -> Counts:
    """Replace the sections of every post in ``sections`` (they are derived from its body)."""
    for post_id, group in groupby(sorted(sections, key=lambda s: (s.post_id, s.position)),
                                  key=lambda s: s.post_id):
        rows = [(s.post_id, s.position, s.heading, s.level, s.body_text) for s in group]
        old = db.conn.execute(
            "SELECT post_id, position, heading, level, body_text FROM post_sections "
            "WHERE post_id = ? ORDER BY position", [post_id]).fetchall()
        if [tuple(r) for r in old] == rows:
            continue
        db.conn.execute("DELETE FROM post_sections WHERE post_id = ?", [post_id])
        db.conn.executemany(
            "INSERT INTO post_sections (post_id, position, heading, level, body_text) "
            "VALUES (?, ?, ?, ?, ?)", rows)
    return Counts()


def save_user_sequences(db: sqlite_utils.Database, sequences: list, now: str) -> Counts:
    for user_id, group in groupby(sorted(sequences, key=lambda s: (s.user_id, s.position)),
                                  key=lambda s: s.user_id):
        db.conn.execute("DELETE FROM user_sequences WHERE user_id = ?", [user_id])
        db.conn.executemany(
            "INSERT INTO user_sequences (user_id, position, title, url) VALUES (?, ?, ?, ?)",
            [(s.user_id, s.position, s.title, s.url) for s in group])
    return Counts()


def save_paper_reviews(db: sqlite_utils.Database, reviews: list, now: str) -> Counts:
    """Save each reviewed paper; link it to the post and the opinion (``paper_reviews``)."""
    from archiver.store.papers import save_paper

    counts = Counts()
    for review in reviews:
        paper_id, status = save_paper(db, review.paper, now)
        setattr(counts, status, getattr(counts, status) + 1)
        if status != "unchanged":
            counts.changed.setdefault("papers", []).append(paper_id)
        db.conn.execute(
            "INSERT INTO paper_reviews (post_id, position, paper_id, comment_id) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(post_id, position) DO UPDATE SET "
            "paper_id = excluded.paper_id, comment_id = excluded.comment_id",
            [review.post_id, review.position, paper_id, review.comment_id])
    return counts


# Page.other kind -> saver (archiver.store.save.other_savers lists these).
SAVERS: dict[str, Saver] = {
    "sections": save_sections,
    "user_sequences": save_user_sequences,
    "paper_reviews": save_paper_reviews,
}
