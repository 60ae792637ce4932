"""What the user typed -> what the archive holds: the one post, user and topic resolver.

Every command that names an archived post (``exchanges --post``, ``summarize --thread``,
``export --thread``), a user (``export --user``, ``researcher --forum-user``, the ``exchanges``
people filters) or a topic (``summarize TOPIC``, ``export --topic``) resolves it here, so a form
that works for one command works for all of them. Thread and profile URLs are read by the sources
that know them (through the registry), so every site alias (alignmentforum.org, greaterwrong.com,
``lw:``, ``af:``) names the same row.
"""

from __future__ import annotations

import sqlite_utils

from archiver.analysis.topics import find_topic
from archiver.kernel.errors import NotFound, UsageError
from archiver.sources import blog, registry


def post_id(db: sqlite_utils.Database, value: str, what: str = "post") -> str:
    """An archived post's id from: its id (``lesswrong:<id>``), any thread URL or ``site:id`` a
    source recognises (every alias of the site), a blog post's URL, its stored URL (with or
    without a trailing slash), or the bare id upstream gave it. NotFound if it is not archived."""
    value = value.strip()
    for candidate in _post_candidates(value):
        if db.execute("SELECT 1 FROM posts WHERE id = ?", [candidate]).fetchone():
            return candidate
    row = db.execute("SELECT id FROM posts WHERE url IN (?, ?) ORDER BY id LIMIT 1",
                     [value, value.rstrip("/")]).fetchone()
    if row:
        return row[0]
    rows = db.execute("SELECT id FROM posts WHERE source_id = ? ORDER BY id", [value]).fetchall()
    if len(rows) > 1:
        raise UsageError(f"{what} {value!r} is archived on several sites "
                         f"({', '.join(r[0] for r in rows)}); pass one of these ids")
    if rows:
        return rows[0][0]
    raise NotFound(f"no archived {what} {value!r}; archive it first (archiver thread URL) "
                   "or give a post id such as lesswrong:<postId>")


def _post_candidates(value: str) -> list[str]:
    candidates = [value]
    try:
        _source, ref = registry.resolve_thread(value)
        candidates.insert(0, f"{ref.site}:{ref.thread_id}")
    except UsageError:
        pass
    if value.startswith(("http://", "https://")):
        candidates.append(blog.post_id_for(value))
    return candidates


def user_ids(db: sqlite_utils.Database, value: str) -> list[str]:
    """Every archived user ``value`` names: a user id (``lesswrong:<id>``), ``site:slug`` (any
    alias of the site), a profile URL a source recognises (any alias of its site) or the stored
    URL, or a slug (on every site, case-insensitively). NotFound if none is archived."""
    value = value.strip()
    rows = db.execute("SELECT id FROM users WHERE id = ? OR url = ?", [value, value]).fetchall()
    if not rows:
        rows = _by_site_and_slug(db, value)
    if not rows:
        rows = db.execute("SELECT id FROM users WHERE slug = ? COLLATE NOCASE ORDER BY id",
                          [value]).fetchall()
    if not rows and "/" in value:  # a profile URL of a site no source knows: its last segment
        slug = value.rstrip("/").rsplit("/", 1)[-1]
        rows = db.execute("SELECT id FROM users WHERE slug = ? COLLATE NOCASE ORDER BY id",
                          [slug]).fetchall()
    if not rows:
        raise NotFound(f"no archived user {value!r}; archive them first (archiver user URL) or "
                       "give a user id (site:id), a slug or a profile URL")
    return [r[0] for r in rows]


def _by_site_and_slug(db, value: str) -> list:
    """``site:slug`` or a profile URL a source recognises -> that site's users rows."""
    site, slug = _site_prefix(value)
    if site is not None:
        site = registry.site_id(site)
        return db.execute("SELECT id FROM users WHERE site_id = ? AND (slug = ? COLLATE NOCASE "
                          "OR id = ?) ORDER BY id", [site, slug, f"{site}:{slug}"]).fetchall()
    if not value.startswith(("http://", "https://")):
        return []
    try:
        _source, ref = registry.resolve_user(value)
    except UsageError:
        return []
    canonical = f"{ref.site}:{ref.user_id}" if ref.user_id else None
    return db.execute("SELECT id FROM users WHERE site_id = ? AND (slug = ? COLLATE NOCASE "
                      "OR id = ?) ORDER BY id", [ref.site, ref.slug, canonical]).fetchall()


def _site_prefix(value: str) -> tuple[str | None, str]:
    """``("lw", "alice")`` for ``lw:alice``; ``(None, value)`` when there is no site prefix."""
    site, sep, rest = value.partition(":")
    if not sep or not rest or "/" in site or site not in registry.site_names():
        return None, value
    return site, rest


def user_id(db: sqlite_utils.Database, value: str, option: str) -> str:
    """Exactly one archived user (see ``user_ids``); a slug archived on several sites is an
    error naming their ids."""
    ids = user_ids(db, value)
    if len(ids) > 1:
        raise UsageError(f"{value!r} is archived on several sites ({', '.join(ids)}); "
                         f"pass one of these ids to {option}")
    return ids[0]


def person(db: sqlite_utils.Database, value: str) -> str:
    """For filters that also match people by the name on an item (``exchanges --author``): a
    profile URL or ``site:slug`` becomes the user's id; anything else (a user id, a slug, a
    display name) is matched as typed."""
    value = value.strip()
    if not value.startswith(("http://", "https://")) and _site_prefix(value)[0] is None:
        return value
    try:
        return user_id(db, value, "this filter")
    except NotFound:
        return value  # perhaps a quoted author with no users row: matched by the name on items


def topic(db: sqlite_utils.Database, value: str | int) -> dict:
    """A topic by id, or by name or label (case-insensitive); an ambiguous name is an error."""
    return find_topic(db, value)
