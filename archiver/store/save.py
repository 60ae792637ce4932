"""Write records into the archive without ever losing what it already holds.

- Each ``Page`` is written in one transaction (a crash loses at most the page in flight). The writes
  are plain ``INSERT ... ON CONFLICT`` statements on the connection sqlite-utils opened, because
  sqlite-utils' own ``insert_all`` commits inside its call, which would split a page in two.
- A row whose upstream content hash is unchanged is not touched at all (cheap re-runs).
- An edited title/body keeps the previous version in ``item_versions``.
- A body deleted upstream keeps the archived text and sets ``deleted``; a comment that vanishes from
  a complete thread fetch is flagged ``missing``; nothing is ever removed.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import sqlite_utils

from archiver.kernel import text
from archiver.kernel.coerce import clean_page
from archiver.kernel.records import Comment, Page, Post, Site, Tag, User, now_utc
from archiver.store import bodies

CHUNK = 500


@dataclass
class Counts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    # Ids of new or changed items by table ("posts", "comments", ...): analysis runs on these.
    changed: dict[str, list[str]] = field(default_factory=dict)

    def add(self, other: Counts) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        for table, ids in other.changed.items():
            self.changed.setdefault(table, []).extend(ids)

    def as_dict(self) -> dict:
        return {"new": self.new, "updated": self.updated, "unchanged": self.unchanged}


Saver = Callable[[sqlite_utils.Database, list, str], Counts]


@functools.cache
def other_savers() -> dict[str, Saver]:
    """Savers for the other record kinds of ``Page.other`` (papers, researchers, sections, feed
    entries, restored rows): kind -> fn(db, records, now) -> Counts, run inside the page's
    transaction. Listed here, by module, so saving never depends on what was imported first;
    imported on first use because those modules import this one (for Counts)."""
    from archiver.store import feeds, papers, rows, sections

    savers: dict[str, Saver] = {}
    for module in (papers, sections, feeds, rows):
        savers.update(module.SAVERS)
    return savers

def save_page(db: sqlite_utils.Database, page: Page) -> Counts:
    page = clean_page(page)  # odd upstream values nulled or clamped, never a database error
    now = now_utc()
    counts = Counts()
    changed: dict[str, list[str]] = {"posts": [], "comments": []}
    with db.conn:
        save_sites(db, page.sites)
        save_users(db, page.users, now)
        counts.add(_save_posts(db, page.posts, now, changed["posts"]))
        counts.add(_save_comments(db, page.comments, now, changed["comments"]))
        if page.complete_post_ids:
            _flag_missing(db, page.complete_post_ids, page.seen_comment_ids, now)
        savers = other_savers()
        for kind, records in page.other.items():
            counts.add(savers[kind](db, records, now))
        _queue_analysis(db, {**counts.changed, **changed}, now)
    counts.changed["posts"] = changed["posts"]
    counts.changed["comments"] = changed["comments"]
    return counts


# -- low-level helpers -------------------------------------------------------------------------


def _upsert(db: sqlite_utils.Database, table: str, rows: list[dict], pk: str | tuple = "id",
            update: Iterable[str] | None = None) -> None:
    """INSERT ... ON CONFLICT DO UPDATE for full rows (or only ``update`` columns on conflict)."""
    if not rows:
        return
    rows = [bodies.compact(table, row) for row in rows]
    columns = list(rows[0])
    pks = (pk,) if isinstance(pk, str) else tuple(pk)
    update = [c for c in (update if update is not None else columns) if c not in pks]
    placeholders = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in columns)}) VALUES ({placeholders})"
    if update:
        sets = ", ".join(f"[{c}] = excluded.[{c}]" for c in update)
        sql += f" ON CONFLICT({', '.join(pks)}) DO UPDATE SET {sets}"
    else:
        sql += f" ON CONFLICT({', '.join(pks)}) DO NOTHING"
    values = operator.itemgetter(*columns)
    db.conn.executemany(sql, [values(row) for row in rows] if len(columns) > 1
                        else [(values(row),) for row in rows])


def _existing(db: sqlite_utils.Database, table: str, ids: list[str], columns: str) -> dict:
    found: dict[str, dict] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        marks = ", ".join("?" for _ in chunk)
        cursor = db.conn.execute(f"SELECT {columns} FROM [{table}] WHERE id IN ({marks})", chunk)
        names = [d[0] for d in cursor.description]
        for row in cursor.fetchall():
            found[row[0]] = dict(zip(names, row))
    return found


def _flag(value) -> int:
    return 1 if value else 0


def _extra(value: dict | None) -> str | None:
    return json.dumps(value, sort_keys=True) if value else None


# -- sites, users, tags ------------------------------------------------------------------------


def save_sites(db: sqlite_utils.Database, sites: list[Site]) -> None:
    rows = {s.id: asdict(s) for s in sites}
    if rows:
        existing = _existing(db, "sites", list(rows), "id, name, url, kind, api_url")
        fresh = [r for sid, r in rows.items() if existing.get(sid) != r]
        _upsert(db, "sites", fresh)


def save_users(db: sqlite_utils.Database, users: list[User], now: str) -> None:
    """Full profiles replace what we hold; stubs (seen as authors) never overwrite a profile."""
    by_id = {}
    for user in users:  # a full profile wins over a stub of the same user in one page
        if user.id not in by_id or not user.stub:
            by_id[user.id] = user
    if not by_id:
        return
    existing = _existing(db, "users", list(by_id), "id, stub, name, slug, content_hash")
    stubs, fulls = [], []
    for user in by_id.values():
        old = existing.get(user.id)
        if user.stub:
            if old is None or (old["stub"] and (old["name"], old["slug"]) != (user.name, user.slug)):
                stubs.append(_user_row(user, now, old))
        else:
            digest = _user_hash(user)
            if old is None or old["content_hash"] != digest:  # the bio is converted only then
                fulls.append(_user_row(user, now, old, digest))
    _upsert(db, "users", stubs, update=["name", "slug", "url", "last_seen"])
    _upsert(db, "users", fulls)


def _user_hash(user: User) -> str:
    fields = (user.name, user.slug, user.bio_html, user.bio_markdown, user.karma, user.af_karma,
              user.post_count, user.comment_count, user.created_at)
    return text.content_hash(*map(str, fields))


def _user_row(user: User, now: str, old: dict | None, digest: str | None = None) -> dict:
    bio = text.convert(user.bio_html, user.bio_markdown) if not user.stub else text.Body(None, None, None)
    return {
        "id": user.id, "site_id": user.site_id, "source_id": user.source_id, "slug": user.slug,
        "name": user.name, "url": user.url, "bio_html": bio.html, "bio_markdown": bio.markdown,
        "bio_text": bio.text, "karma": user.karma, "af_karma": user.af_karma,
        "post_count": user.post_count, "comment_count": user.comment_count,
        "created_at": user.created_at, "stub": _flag(user.stub),
        "content_hash": None if user.stub else digest,
        "first_seen": old and old.get("first_seen") or now, "last_seen": now,
        "profile_fetched_at": None if user.stub else now,
    }


def save_tags(db: sqlite_utils.Database, post_id: str, tags: list[Tag]) -> None:
    _upsert(db, "tags", [asdict(t) for t in tags])
    db.conn.execute("DELETE FROM post_tags WHERE post_id = ?", [post_id])
    _upsert(db, "post_tags", [{"post_id": post_id, "tag_id": t.id} for t in tags],
            pk=("post_id", "tag_id"), update=[])


# -- posts -------------------------------------------------------------------------------------

# What json.dumps(meta, default=str) gives, from one encoder: json.dumps builds a new one for
# each call with an argument of its own. The hashes stay those of rows already archived.
_META_JSON = json.JSONEncoder(default=str)

POST_OLD = f"id, content_hash, stub, title, body_html, {bodies.MARKDOWN} AS body_markdown, " \
           "body_text, user_id, edited_at, deleted, missing, first_seen"


def _post_hash(post: Post) -> str:
    meta = (post.title, post.url, post.user_id, post.author, post.posted_at, post.edited_at,
            post.score, post.vote_count, post.comment_count, post.af, post.question, post.kind,
            [t.id for t in post.tags], post.extra)
    return text.content_hash(post.body_html, post.body_markdown, _META_JSON.encode(meta))


def _save_posts(db, posts: list[Post], now: str, changed: list[str]) -> Counts:
    counts = Counts()
    by_id = {}
    for post in posts:
        if post.id not in by_id or not post.stub:
            by_id[post.id] = post
    existing = _existing(db, "posts", list(by_id), POST_OLD)
    for post in by_id.values():
        old = existing.get(post.id)
        if post.stub:
            if old is None:
                _upsert(db, "posts", [_post_row(post, now, None, None)])
                counts.new += 1
            else:
                counts.unchanged += 1
            continue
        digest = _post_hash(post)
        if old is not None and old["content_hash"] == digest and not old["missing"]:
            counts.unchanged += 1
            continue
        row = _post_row(post, now, old, digest)
        if old is not None and not old["stub"]:
            _keep_version(db, "posts", old, row, now)
            counts.updated += 1
        else:
            counts.new += 1
        _upsert(db, "posts", [row])
        save_tags(db, post.id, post.tags)
        changed.append(post.id)
    return counts


def _post_row(post: Post, now: str, old: dict | None, digest: str | None) -> dict:
    body = bodies.keep_site_markdown(text.convert(post.body_html, post.body_markdown),
                                     post.body_markdown, old)
    deleted = False
    if old is not None and not (body.html or body.markdown) and old.get("body_html"):
        # Upstream lost the body (deleted or emptied): keep the archived text.
        body = text.Body(old["body_html"], old["body_markdown"], old["body_text"])
        deleted = True
    return {
        "id": post.id, "site_id": post.site_id, "source_id": post.source_id, "url": post.url,
        "title": post.title, "user_id": post.user_id, "author": post.author,
        "posted_at": post.posted_at, "edited_at": post.edited_at, "score": post.score,
        "vote_count": post.vote_count, "comment_count": post.comment_count, "af": _flag(post.af),
        "question": _flag(post.question), "kind": post.kind,
        "tags": json.dumps([t.name for t in post.tags]) if post.tags else None,
        "body_html": body.html, "body_markdown": body.markdown, "body_text": body.text,
        "stub": _flag(post.stub), "content_hash": digest,
        "first_seen": (old or {}).get("first_seen") or now, "last_seen": now,
        "deleted": _flag(deleted), "missing": 0, "extra": _extra(post.extra),
    }


def _keep_version(db, table: str, old: dict, new: dict, now: str) -> None:
    """Store the previous title/body when they changed (not for score-only changes)."""
    fields = [f for f in ("title", "body_html", "body_markdown") if f in old and old[f] != new.get(f)]
    if new.get("deleted") and not old.get("deleted"):
        fields.append("deleted")
    if not fields:
        return
    version = db.conn.execute(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM item_versions WHERE item_table = ? AND item_id = ?",
        [table, old["id"]],
    ).fetchone()[0]
    db.conn.execute(
        "INSERT INTO item_versions (item_table, item_id, version, user_id, edited_at, archived_at, "
        "replaced_at, changed, title, body_html, body_markdown, body_text, deleted) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [table, old["id"], version, old.get("user_id"), old.get("edited_at"),
         old.get("first_seen"), now, json.dumps(fields), old.get("title"), old.get("body_html"),
         bodies.compact(table, old).get("body_markdown"), old.get("body_text"),
         old.get("deleted") or 0],
    )


# -- comments ----------------------------------------------------------------------------------

COMMENT_OLD = f"id, content_hash, body_html, {bodies.MARKDOWN} AS body_markdown, body_text, " \
              "user_id, author, edited_at, deleted, missing, first_seen, path, depth"


def _comment_hash(c: Comment) -> str:
    meta = (c.post_id, c.parent_id, c.user_id, c.author, c.url, c.posted_at, c.edited_at, c.score,
            c.vote_count, c.af, c.answer, c.deleted, c.extra)
    return text.content_hash(c.body_html, c.body_markdown, _META_JSON.encode(meta))


def _save_comments(db, comments: list[Comment], now: str, changed: list[str]) -> Counts:
    counts = Counts()
    if not comments:
        return counts
    # Parents are always older than their replies: by date, a parent's path exists before its
    # children need it.
    comments = sorted(comments, key=lambda c: (c.posted_at or "", c.id))
    existing = _existing(db, "comments", [c.id for c in comments], COMMENT_OLD)
    paths = _parent_paths(db, comments, existing)
    rows = []
    for comment in comments:
        old = existing.get(comment.id)
        digest = _comment_hash(comment)
        if old is not None and old["content_hash"] == digest and not old["missing"]:
            counts.unchanged += 1
            paths[comment.id] = (old["path"], old["depth"])
            continue
        row = _comment_row(comment, now, old, digest, paths)
        paths[comment.id] = (row["path"], row["depth"])
        if old is None:
            counts.new += 1
        else:
            _keep_version(db, "comments", old, row, now)
            counts.updated += 1
        rows.append(row)
        changed.append(comment.id)
    _ensure_posts_exist(db, {c.post_id: c.site_id for c in comments}, now)
    _upsert(db, "comments", rows)
    return counts


def _parent_paths(db, comments: list[Comment], existing: dict) -> dict:
    paths = {cid: (row["path"], row["depth"]) for cid, row in existing.items()}
    wanted = [c.parent_id for c in comments if c.parent_id and c.parent_id not in paths]
    ids_here = {c.id for c in comments}
    outside = [pid for pid in set(wanted) if pid not in ids_here]
    for pid, row in _existing(db, "comments", outside, "id, path, depth").items():
        paths[pid] = (row["path"], row["depth"])
    return paths


def _segment(comment: Comment) -> str:
    stamp = "".join(ch for ch in (comment.posted_at or "") if ch.isdigit())[:14].ljust(14, "0")
    return f"{stamp}-{comment.source_id}"


def _comment_row(c: Comment, now: str, old: dict | None, digest: str, paths: dict) -> dict:
    body = bodies.keep_site_markdown(text.convert(c.body_html, c.body_markdown), c.body_markdown,
                                     old)
    deleted = c.deleted
    user_id, author = c.user_id, c.author
    if old is not None and old.get("body_html") and not (body.html or "").strip():
        # Deleted (or emptied) upstream: keep the archived text and who wrote it, flag it.
        body = text.Body(old["body_html"], old["body_markdown"], old["body_text"])
        deleted = True
        user_id, author = user_id or old.get("user_id"), author or old.get("author")
    parent = paths.get(c.parent_id) if c.parent_id else None
    path = f"{parent[0]}/{_segment(c)}" if parent and parent[0] else _segment(c)
    depth = parent[1] + 1 if parent and parent[1] is not None else 0
    snippet = _snippet(body.text)
    return {
        "id": c.id, "site_id": c.site_id, "source_id": c.source_id, "post_id": c.post_id,
        "parent_id": c.parent_id, "user_id": user_id, "author": author,
        "title": f"{author or '[anonymous]'}: {snippet}" if snippet else (author or c.id),
        "url": c.url, "posted_at": c.posted_at, "edited_at": c.edited_at, "score": c.score,
        "vote_count": c.vote_count, "af": _flag(c.af), "answer": _flag(c.answer),
        "depth": depth, "path": path, "body_html": body.html, "body_markdown": body.markdown,
        "body_text": body.text, "content_hash": digest,
        "first_seen": (old or {}).get("first_seen") or now, "last_seen": now,
        "deleted": _flag(deleted), "missing": 0, "extra": _extra(c.extra),
    }


def _snippet(body_text: str | None) -> str:
    """The start of what the commenter wrote (quoted lines skipped), for Datasette labels."""
    lines = [line for line in (body_text or "").split("\n") if line and not line.startswith(">")]
    return " ".join(lines or (body_text or "").split("\n"))[:80]


def _ensure_posts_exist(db, post_sites: dict[str, str], now: str) -> None:
    """A comment may arrive before its post (a user's comment list): add a stub post row."""
    have = _existing(db, "posts", list(post_sites), "id")
    stubs = [Post(id=pid, site_id=site, source_id=pid.split(":", 1)[-1], stub=True)
             for pid, site in post_sites.items() if pid not in have]
    for post in stubs:
        _upsert(db, "posts", [_post_row(post, now, None, None)])


def _flag_missing(db, post_ids: list[str], seen: list[str], now: str) -> None:
    seen_set = set(seen)
    for post_id in post_ids:
        ids = [r[0] for r in db.conn.execute(
            "SELECT id FROM comments WHERE post_id = ? AND missing = 0", [post_id])]
        gone = [cid for cid in ids if cid not in seen_set]
        for start in range(0, len(gone), CHUNK):
            chunk = gone[start:start + CHUNK]
            marks = ", ".join("?" for _ in chunk)
            db.conn.execute(f"UPDATE comments SET missing = 1 WHERE id IN ({marks})", chunk)
        set_state(db, "thread_fetched", post_id, now, now)


def set_state(db, kind: str, key: str, value: str, now: str | None = None) -> None:
    """Record sync state (inside the caller's transaction)."""
    db.conn.execute(
        "INSERT INTO sync_state (kind, key, value, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(kind, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        [kind, key, value, now or now_utc()],
    )


def get_state(db, kind: str, key: str) -> str | None:
    row = db.conn.execute("SELECT value FROM sync_state WHERE kind = ? AND key = ?",
                          [kind, key]).fetchone()
    return row[0] if row else None


# -- the analysis queue ------------------------------------------------------------------------
# New or changed items wait in sync_state (kind "analysis_pending", key "table:id") from the
# transaction that saved them until the after-fetch analysis (archiver.app.ingest.run_analysis) has
# run on them. A process killed in between leaves them queued for the next run: by then the rows
# are unchanged, so nothing else would ever send them to exchanges, mentions or topics.
PENDING = "analysis_pending"
ANALYSED = ("posts", "comments", "papers")


def _queue_analysis(db, changed: dict[str, list[str]], now: str) -> None:
    keys = [(PENDING, f"{table}:{item_id}", now, now)
            for table in ANALYSED for item_id in changed.get(table) or ()]
    db.conn.executemany("INSERT OR IGNORE INTO sync_state (kind, key, value, updated_at) "
                        "VALUES (?, ?, ?, ?)", keys)


def pending_analysis(db) -> dict[str, list[str]]:
    """Queued items by table ("posts", "comments", "papers")."""
    out: dict[str, list[str]] = {}
    for (key,) in db.conn.execute("SELECT key FROM sync_state WHERE kind = ?", [PENDING]):
        table, item_id = key.split(":", 1)
        out.setdefault(table, []).append(item_id)
    return out


def analysis_done(db, items: dict[str, list[str]]) -> None:
    keys = [f"{table}:{item_id}" for table in ANALYSED for item_id in items.get(table) or ()]
    with db.conn:
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start:start + CHUNK]
            db.conn.execute(f"DELETE FROM sync_state WHERE kind = ? AND key IN "
                            f"({', '.join('?' for _ in chunk)})", [PENDING, *chunk])
