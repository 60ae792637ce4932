"""Reddit threads and users through the public JSON endpoints (no login, no API key).

A thread is ``/comments/<id>.json?raw_json=1&limit=500``: a two-element array of Listings, the
post (``t3``) then the comment tree (``t1``, each with ``replies`` either ``""`` or a Listing).
Comments Reddit did not send are "more" stubs: ids to expand through
``/api/morechildren.json?api_type=json&link_id=t3_<id>&children=<ids>`` (at most 100 ids per
call; the answer is a flat list of things, possibly with new "more" stubs), or, when a "more" has no
ids ("continue this thread" below the depth limit), the parent comment's own page
``/comments/<id>/_/<comment id>.json``.

``raw_json=1`` turns off Reddit's legacy escaping of ``<``, ``>`` and ``&`` in JSON strings, so
``body_html`` is HTML as is; a response without it (entity-escaped) is unescaped all the same.
``[deleted]``/``[removed]`` bodies arrive as an empty body with ``deleted`` set: the archive keeps
any text it already held. Ids: ``reddit:<base36 id>`` for posts and comments, ``reddit:<username>``
for users.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections import Counter
from collections.abc import Iterator
from typing import cast
from urllib.parse import urlsplit

from archiver.kernel.coerce import as_bool, as_dict, as_id, as_str, as_time, dicts, each
from archiver.kernel.errors import FetchError, UsageError
from archiver.kernel.records import Comment, Page, Post, Site, Tag, User, iso_utc, make_id
from archiver.sources.contract import ForumSource, SiteSpec, ThreadRef, ThreadSignature, UserRef
from archiver.sources.webapi import get_json, root

NAME = "reddit"
SITE_ID = "reddit"
BASE = "https://www.reddit.com"
HOSTS = {"reddit.com", "www.reddit.com", "old.reddit.com", "np.reddit.com", "new.reddit.com",
         "m.reddit.com", "i.reddit.com", "sh.reddit.com"}
SHORT_HOSTS = {"redd.it", "www.redd.it"}
MORE_BATCH = 100  # morechildren takes at most 100 ids per call
MAX_ASKS = 3
LISTING_LIMIT = 100  # user listings serve at most 100 items per page
GONE = {"[deleted]", "[removed]"}

THREAD_PATH = re.compile(
    r"^(?:/r/[^/]+)?/comments/([a-z0-9]+)(?:/[^/]*)?(?:/([a-z0-9]+))?/?(?:\.json)?$", re.I)
USER_PATH = re.compile(r"^/(?:u|user)/([A-Za-z0-9_-]+)(?:/.*)?$")

log = logging.getLogger("archiver.reddit")


def site_record() -> Site:
    return Site(id=SITE_ID, name="Reddit", url=BASE, kind=NAME, api_url=BASE)


# -- URLs --------------------------------------------------------------------------------------


def parse_thread_url(url: str) -> ThreadRef | None:
    value = url.strip()
    bare = re.fullmatch(r"reddit:(?:t3_)?([a-z0-9]+)", value, re.I)
    if bare:
        return _ref(bare.group(1).lower())
    parts = urlsplit(value)
    host = parts.netloc.lower()
    if parts.scheme not in ("http", "https"):
        return None
    if host in SHORT_HOSTS:
        short = re.fullmatch(r"/([a-z0-9]+)/?", parts.path, re.I)
        if not short:
            raise UsageError(f"{url}: a redd.it link, but not to a post (https://redd.it/<id>)")
        return _ref(short.group(1).lower())
    if host not in HOSTS:
        return None
    match = THREAD_PATH.match(parts.path)
    if match:
        return _ref(match.group(1).lower(), match.group(2))
    if re.match(r"^/r/[^/]+/s/", parts.path):
        raise UsageError(f"{url}: a Reddit share link; open it in a browser and pass the "
                         "/r/<sub>/comments/<id>/... URL it leads to")
    raise UsageError(f"{url}: a Reddit URL, but not a thread; expected "
                     "https://www.reddit.com/r/<sub>/comments/<id>/<slug>/")


def _ref(post_id: str, comment: str | None = None) -> ThreadRef:
    return ThreadRef(SITE_ID, post_id, f"{BASE}/comments/{post_id}/",
                     {"comment": comment.lower() if comment else None})


def parse_user_url(url: str, site: str | None = None) -> UserRef | None:
    value = url.strip()
    bare = re.fullmatch(r"/?u/([A-Za-z0-9_-]+)/?", value)
    if site == SITE_ID:  # a bare name with --site reddit
        bare = bare or re.fullmatch(r"([A-Za-z0-9_-]+)", value)
    if bare:
        return _user_ref(bare.group(1))
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or parts.netloc.lower() not in HOSTS:
        return None
    match = USER_PATH.match(parts.path)
    if not match:
        raise UsageError(f"{url}: a Reddit URL, but not a user (https://www.reddit.com/user/<name>)")
    return _user_ref(match.group(1))


def _user_ref(name: str) -> UserRef:
    return UserRef(SITE_ID, slug=name, user_id=name, url=f"{BASE}/user/{name}/")


# -- records -----------------------------------------------------------------------------------


def unescape_html(value: str | None) -> str | None:
    """Reddit's HTML fields are entity-escaped unless ``raw_json=1`` was sent: undo that."""
    value = as_str(value, "Reddit HTML")
    if value and value.lstrip().startswith("&lt;"):
        return html.unescape(value)
    return value


def _author(data: dict) -> str | None:
    author = as_str(data.get("author"), "Reddit author")
    return None if not author or author in GONE else author


def user_stub(name: str | None) -> User | None:
    if not name:
        return None
    return User(id=make_id(SITE_ID, name), site_id=SITE_ID, source_id=name, slug=name, name=name,
                url=f"{BASE}/user/{name}/")


def _edited(value) -> str | None:
    # ``false``, or the epoch seconds of the last edit (``true`` on some very old items).
    return as_time(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def post_record(data: dict, stub: bool = False) -> Post:
    post_id = as_id(data.get("id"), "Reddit post id")
    author = _author(data)
    selftext = as_str(data.get("selftext"))
    body = None if selftext in GONE else unescape_html(data.get("selftext_html"))
    sub = as_str(data.get("subreddit"), "subreddit")
    link = None if as_bool(data.get("is_self")) else data.get("url")
    permalink = as_str(data.get("permalink"), "permalink")
    extra = {k: v for k, v in (("subreddit", sub), ("link_url", link),
                               ("flair", data.get("link_flair_text")),
                               ("removed_by_category", data.get("removed_by_category")),
                               ("removed", selftext == "[removed]" or None)) if v}
    return Post(
        id=make_id(SITE_ID, post_id), site_id=SITE_ID, source_id=post_id,
        url=BASE + permalink if permalink else f"{BASE}/comments/{post_id}/",
        title=data.get("title"), user_id=make_id(SITE_ID, author) if author else None,
        author=author, posted_at=as_time(data.get("created_utc")),
        edited_at=_edited(data.get("edited")), score=data.get("score"),
        comment_count=data.get("num_comments"), kind="post" if data.get("is_self", True) else "link",
        body_html=body,
        tags=[Tag(id=make_id(SITE_ID, f"r/{sub}"), site_id=SITE_ID, name=f"r/{sub}", slug=sub)]
        if sub else [],
        stub=stub, extra=extra or None,
    )


def comment_record(data: dict) -> Comment:
    comment_id = as_id(data.get("id"), "Reddit comment id")
    author = _author(data)
    body = as_str(data.get("body"))
    gone = body in GONE
    parent = as_str(data.get("parent_id")) or ""
    permalink = as_str(data.get("permalink"), "permalink")
    extra = {k: v for k, v in (("removed", body == "[removed]" or None),
                               ("distinguished", data.get("distinguished")),
                               ("stickied", data.get("stickied") or None)) if v}
    return Comment(
        id=make_id(SITE_ID, comment_id), site_id=SITE_ID, source_id=comment_id,
        post_id=make_id(SITE_ID, as_id((as_str(data.get("link_id")) or "")[3:], "link_id")),
        parent_id=make_id(SITE_ID, parent[3:]) if parent.startswith("t1_") else None,
        user_id=make_id(SITE_ID, author) if author else None, author=author,
        url=BASE + permalink if permalink else None,
        posted_at=as_time(data.get("created_utc")), edited_at=_edited(data.get("edited")),
        score=None if data.get("score_hidden") else data.get("score"), deleted=gone,
        body_html=None if gone else unescape_html(data.get("body_html")), extra=extra or None,
    )


def _users(items: list[dict]) -> list[User]:
    found = {}
    for data in items:
        user = user_stub(_author(data))
        if user:
            found[user.id] = user
    return list(found.values())


# -- threads -----------------------------------------------------------------------------------


def _listing_children(listing) -> list[dict]:
    if not isinstance(listing, dict):
        return []
    return dicts(as_dict(listing.get("data")).get("children"), "Reddit listing")


def _walk(things: list[dict], comments: list[dict], more: list[dict]) -> None:
    """Flatten a comment tree (``replies`` nested) into comments and "more" stubs."""
    stack = list(reversed(things))
    while stack:
        thing = stack.pop()
        kind, data = thing.get("kind"), as_dict(thing.get("data"), "Reddit thing")
        if kind == "more":
            more.append(data)
        elif kind == "t1":
            comments.append(data)
            stack.extend(reversed(_listing_children(data.get("replies"))))


def fetch_thread(http, ref: ThreadRef, endpoint: str | None = None) -> Iterator[Page]:
    """The post, every comment in the first answer, then every "more" stub expanded."""
    api = root(endpoint, BASE)
    what = f"Reddit thread {ref.thread_id}"
    body = get_json(http, f"{api}/comments/{ref.thread_id}.json",
                    params={"raw_json": 1, "limit": 500}, what=what)
    if not isinstance(body, list) or len(body) < 2:
        raise FetchError(f"{what}: unexpected answer (expected the post and comment listings)")
    posts = [t["data"] for t in _listing_children(body[0])
             if t.get("kind") == "t3" and isinstance(t.get("data"), dict)]
    if not posts:
        raise FetchError(f"{what}: the answer holds no post")
    post = post_record(posts[0])
    comments: list[dict] = []
    more: list[dict] = []
    _walk(_listing_children(body[1]), comments, more)
    yield Page(sites=[site_record()], users=_users([posts[0]] + comments), posts=[post],
               comments=each(comment_record, comments, "Reddit comment"))
    seen = {i for i in (as_str(c.get("id")) for c in comments) if i}
    complete = yield from _expand(http, api, ref.thread_id, more, seen)
    if complete:
        yield Page(complete_post_ids=[post.id], seen_comment_ids=[make_id(SITE_ID, c) for c in seen])
    else:
        log.warning("%s: some hidden comments could not be loaded; vanished comments are not "
                    "flagged this time", what)


def _expand(http, api: str, post_id: str, more: list[dict], seen: set[str]):
    """Expand "more" stubs until none is left; returns whether every one could be expanded."""
    complete = True
    asked: Counter[str] = Counter()
    while more:
        stub = more.pop(0)
        children = stub.get("children")
        if isinstance(children, list) and children:
            # An answer may hold fewer things than asked plus a new "more" for the rest: those
            # are asked again, but no id more than MAX_ASKS times (a server that never sends it).
            ids = [c for c in map(as_str, children) if c and c not in seen]
            complete &= all(asked[c] < MAX_ASKS for c in ids)
            ids = [c for c in ids if asked[c] < MAX_ASKS]
            for start in range(0, len(ids), MORE_BATCH):
                batch = ids[start:start + MORE_BATCH]
                asked.update(batch)
                things, ok = _more_children(http, api, post_id, batch)
                complete &= ok
                yield _page_from_things(things, seen, more)
        elif (parent_ref := as_str(stub.get("parent_id")) or "").startswith("t1_"):
            # "continue this thread": the parent comment's own page carries its replies
            parent = parent_ref[3:]
            if asked[f"page:{parent}"]:
                continue
            asked[f"page:{parent}"] += 1
            body = get_json(http, f"{api}/comments/{post_id}/_/{parent}.json",
                            params={"raw_json": 1, "limit": 500}, what=f"Reddit comment {parent}")
            things = _listing_children(body[1]) if isinstance(body, list) and len(body) > 1 else []
            yield _page_from_things(things, seen, more)
    return complete


def _more_children(http, api: str, post_id: str, ids: list[str]) -> tuple[list[dict], bool]:
    params = {"api_type": "json", "link_id": f"t3_{post_id}", "children": ",".join(ids),
              "raw_json": 1, "limit_children": "false"}
    body = get_json(http, f"{api}/api/morechildren.json", params=params,
                    what=f"Reddit thread {post_id} (more comments)")
    payload = as_dict(as_dict(body).get("json"), "Reddit morechildren")
    errors = payload.get("errors") or []
    if errors:
        log.warning("Reddit morechildren errors: %s", str(errors)[:500])
    return dicts(as_dict(payload.get("data")).get("things"), "Reddit things"), not errors


def _page_from_things(things: list[dict], seen: set[str], more: list[dict]) -> Page:
    comments: list[dict] = []
    _walk(things, comments, more)
    fresh = [c for c in comments if as_str(c.get("id")) and as_str(c["id"]) not in seen]
    seen.update(cast(str, as_str(c["id"])) for c in fresh)  # ``fresh`` kept only text ids
    return Page(users=_users(fresh), comments=each(comment_record, fresh, "Reddit comment"))


# -- users -------------------------------------------------------------------------------------


def fetch_user(http, ref: UserRef, posts: int | None = None, comments: int | None = None,
               since: str | None = None, endpoint: str | None = None) -> Iterator[Page]:
    """The profile (``about.json``), then submissions and comments, newest first.

    Reddit's listings stop after about 1,000 items; older ones are only reachable through
    each thread.
    """
    api = root(endpoint, BASE)
    name = ref.slug
    about = get_json(http, f"{api}/user/{name}/about.json", params={"raw_json": 1},
                     what=f"Reddit user {name!r}")
    data = (about or {}).get("data") or {}
    if not data.get("name"):
        raise FetchError(f"Reddit user {name!r}: unexpected answer (no profile data)")
    yield Page(sites=[site_record()], users=[profile_record(data)])
    if posts != 0:
        for batch in _listing(http, f"{api}/user/{data['name']}/submitted.json", posts, since):
            yield Page(users=_users(batch), posts=[post_record(p) for p in batch])
    if comments != 0:
        for batch in _listing(http, f"{api}/user/{data['name']}/comments.json", comments, since):
            stubs = {}
            for c in batch:
                stub = _post_stub(c)
                stubs[stub.id] = stub
            yield Page(users=_users(batch), posts=list(stubs.values()),
                       comments=[comment_record(c) for c in batch])


def profile_record(data: dict) -> User:
    sub = data.get("subreddit") or {}
    karma = data.get("total_karma")
    if karma is None and data.get("link_karma") is not None:
        karma = (data.get("link_karma") or 0) + (data.get("comment_karma") or 0)
    return User(id=make_id(SITE_ID, data["name"]), site_id=SITE_ID, source_id=data["name"],
                slug=data["name"], name=sub.get("title") or data["name"],
                url=f"{BASE}/user/{data['name']}/", bio_markdown=sub.get("public_description") or None,
                karma=karma, created_at=iso_utc(data.get("created_utc")), stub=False)


def _post_stub(comment: dict) -> Post:
    post_id = (comment.get("link_id") or "")[3:]
    permalink = comment.get("link_permalink")
    return Post(id=make_id(SITE_ID, post_id), site_id=SITE_ID, source_id=post_id,
                url=permalink or f"{BASE}/comments/{post_id}/", title=comment.get("link_title"),
                author=_author({"author": comment.get("link_author")}), stub=True)


def _listing(http, url: str, limit: int | None, since: str | None):
    """Pages of a user listing (``after`` cursor), newest first, stopping at ``since``."""
    after = None
    remaining = limit
    while remaining is None or remaining > 0:
        params = {"raw_json": 1, "limit": LISTING_LIMIT, "sort": "new"}
        if after:
            params["after"] = after
        body = get_json(http, url, params=params, what="Reddit user listing")
        data = (body or {}).get("data") or {}
        items = [t["data"] for t in data.get("children") or [] if t.get("kind") in ("t1", "t3")]
        if since:
            fresh = [i for i in items if (iso_utc(i.get("created_utc")) or "") >= since]
            done = len(fresh) < len(items)
            items = fresh
        else:
            done = False
        if remaining is not None:
            items = items[:remaining]
            remaining -= len(items)
        if items:
            yield items
        after = data.get("after")
        if done or not after:
            return


# -- saved pages -------------------------------------------------------------------------------


def parse_saved_html(text: str, url: str | None = None) -> list[Page] | None:
    """A Reddit thread saved from a browser, else None.

    Old Reddit: ``div.thing[data-fullname=t3_…]`` then ``div.thing.comment[data-fullname=t1_…]``
    (``data-author``, ``time[datetime]``, ``.usertext-body .md``, replies nested in
    ``div.child``). Current Reddit: ``shreddit-post`` and ``shreddit-comment`` elements (``thingid``,
    ``parentid``, ``author``, ``created``/``faceplate-timeago[ts]``, body in
    ``div[slot=comment]``). The 2018-2023 redesign: ``div[data-testid=post-container]#t3_…``,
    comments ``div#t1_…`` in document order with a "level N" label giving the nesting (see
    ``_redesign``). A saved page shows only part of a big thread: nothing is flagged as
    vanished.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "lxml")
    post = (soup.select_one("div.thing[data-fullname^='t3_']") or soup.select_one("shreddit-post")
            or soup.select_one("div[data-testid='post-container'][id^='t3_']"))
    if post is None:
        return None
    if post.name == "shreddit-post":
        data, comments = _shreddit(soup, post)
    elif post.get("data-testid") == "post-container":
        data, comments = _redesign(soup, post)
    else:
        data, comments = _old_reddit(soup, post)
    return [Page(sites=[site_record()], users=_users([data] + comments), posts=[post_record(data)],
                 comments=[comment_record(c) for c in comments])]


def _old_reddit(soup, post) -> tuple[dict, list[dict]]:
    post_id = post["data-fullname"][3:]
    title = post.select_one("a.title")
    body = post.select_one(".expando .usertext-body .md, .usertext-body .md")
    stamp = post.get("data-timestamp")
    data = {"id": post_id, "title": title.get_text(" ", strip=True) if title else None,
            "author": post.get("data-author"), "permalink": post.get("data-permalink"),
            "subreddit": post.get("data-subreddit"), "is_self": "self" in post.get("class", []),
            "url": post.get("data-url"), "score": _int(post.get("data-score")),
            "num_comments": _int(post.get("data-comments-count")),
            "created_utc": int(stamp) / 1000 if stamp and stamp.isdigit() else None,
            "selftext_html": str(body) if body else None}
    comments = []
    for thing in soup.select("div.thing.comment[data-fullname^='t1_']"):
        parent = thing.find_parent("div", class_="comment")
        when = thing.select_one(".entry time[datetime]")
        md = thing.select_one(".entry .usertext-body .md")
        score = thing.select_one(".entry .score.unvoted")
        deleted = "deleted" in thing.get("class", [])
        comments.append({
            "id": thing["data-fullname"][3:], "link_id": f"t3_{post_id}",
            "parent_id": parent["data-fullname"] if parent and parent.get("data-fullname")
            else f"t3_{post_id}",
            "author": thing.get("data-author") or "[deleted]",
            "permalink": thing.get("data-permalink"), "created_utc": when["datetime"] if when else None,
            "score": _int(score.get("title")) if score else None,
            "body": "[deleted]" if deleted else None,
            "body_html": None if deleted or md is None else str(md)})
    return data, comments


def _shreddit(soup, post) -> tuple[dict, list[dict]]:
    post_id = (post.get("id") or post.get("thingid") or "")[3:]
    body = post.select_one("[slot='text-body']")
    data = {"id": post_id, "title": post.get("post-title"), "author": post.get("author"),
            "permalink": post.get("permalink"),
            "subreddit": (post.get("subreddit-prefixed-name") or "").removeprefix("r/") or None,
            "is_self": post.get("post-type") in (None, "text"), "url": post.get("content-href"),
            "score": _int(post.get("score")), "num_comments": _int(post.get("comment-count")),
            "created_utc": post.get("created-timestamp"),
            "selftext_html": body.decode_contents() if body else None}
    comments = []
    for node in soup.select("shreddit-comment[thingid^='t1_']"):
        cid = node["thingid"][3:]
        body = node.select_one(f"[slot='comment'], #{node['thingid']}-comment-rtjson-content")
        when = node.find("faceplate-timeago")
        author = node.get("author")
        comments.append({
            "id": cid, "link_id": f"t3_{post_id}",
            "parent_id": node.get("parentid") or f"t3_{post_id}", "author": author,
            "permalink": node.get("permalink"), "score": _int(node.get("score")),
            "created_utc": node.get("created") or (when.get("ts") if when else None),
            "body": "[deleted]" if node.get("is-comment-deleted") is not None else None,
            "body_html": body.decode_contents() if body else None})
    return data, comments


def _redesign(soup, post) -> tuple[dict, list[dict]]:
    """The 2018-2023 web page: comments are flat ``div#t1_<id>`` rows in document order, each
    with a "level N" label (its depth; the indent in ``padding-left`` says the same), author
    ``a[href^=/user/]``, body ``div[data-testid=comment]``; dates are only relative ("3 yr.
    ago") and are left empty rather than guessed."""
    post_id = post["id"][3:]
    title = post.select_one("h1")
    body = post.select_one("[data-click-id='text']")
    author = post.select_one("a[data-testid='post_author_link'], a[href^='/user/']")
    data = {"id": post_id, "title": " ".join(title.get_text(" ").split()) if title else None,
            "author": _user_of(author), "permalink": _path(_canonical(soup)),
            "subreddit": _subreddit(soup), "is_self": True,
            "selftext_html": body.decode_contents() if body else None}
    comments: list[dict] = []
    stack: list[tuple[int, str]] = []  # (depth, comment id)
    for row in soup.select("div[id^='t1_']"):
        if not re.fullmatch(r"t1_[a-z0-9]+", row["id"]) or row.select_one(".Comment") is None:
            continue
        level = re.search(r"level (\d+)", row.get_text(" "))
        depth = int(level.group(1)) if level else 1
        while stack and stack[-1][0] >= depth:
            stack.pop()
        md = row.select_one("[data-testid='comment']")
        user = row.select_one("a[data-testid='comment_author_link'], "
                              "a[data-testid='comment_author_icon']")
        link = row.select_one("a[data-testid='comment_timestamp']")
        deleted = row.select_one("[data-testid='post-comment-header-deleted']") is not None
        comments.append({
            "id": row["id"][3:], "link_id": f"t3_{post_id}",
            "parent_id": f"t1_{stack[-1][1]}" if stack else f"t3_{post_id}",
            "author": "[deleted]" if deleted else _user_of(user),
            "permalink": _path(link.get("href")) if link else None,
            "body": "[deleted]" if deleted else None,
            "body_html": None if deleted or md is None else md.decode_contents()})
        stack.append((depth, row["id"][3:]))
    return data, comments


def _user_of(link) -> str | None:
    match = re.search(r"/u(?:ser)?/([A-Za-z0-9_-]+)", link.get("href") or "") if link else None
    return match.group(1) if match else None


def _canonical(soup) -> str | None:
    link = soup.find("link", rel="canonical") or soup.find("meta", property="og:url")
    return (link.get("href") or link.get("content")) if link else None


def _path(url: str | None) -> str | None:
    """The path of a reddit.com link (stored permalinks are paths, as the API gives them)."""
    parts = urlsplit(url) if url else None
    if not parts or (parts.netloc and parts.netloc.lower() not in HOSTS):
        return None
    return parts.path or None


def _subreddit(soup) -> str | None:
    link = _canonical(soup) or ""
    match = re.search(r"/r/([A-Za-z0-9_]+)/", link)
    return match.group(1) if match else None


# -- saved files: which are Reddit's, and what they hold -----------------------------------------


def sniff_saved(text: str, url: str | None = None) -> bool:
    """A thread's ``.json`` (a two-element list of Listings, the first holding a ``t3``), or a
    thread page of old Reddit, the 2018 redesign or the current (shreddit) site."""
    head = text.lstrip()[:1]
    if head in ("{", "["):
        return _thread_json(text) is not None
    return any(mark in text for mark in ("data-fullname=\"t3_", "data-fullname='t3_",
                                         "<shreddit-post", 'data-testid="post-container"'))


def _thread_json(text: str):
    try:
        body = json.loads(text)
    except ValueError:
        return None
    if not (isinstance(body, list) and len(body) == 2
            and all(isinstance(b, dict) and b.get("kind") == "Listing" for b in body)):
        return None
    posts = [t.get("data") for t in _listing_children(body[0])
             if isinstance(t, dict) and t.get("kind") == "t3" and isinstance(t.get("data"), dict)]
    return (posts[0], body[1]) if posts else None


def parse_saved(text: str, url: str | None = None) -> list[Page] | None:
    """A saved thread ``.json`` or page as one Page. Comments behind "load more" are not in the
    file; nothing is flagged as vanished (the last page sets no ``complete_post_ids``)."""
    if not sniff_saved(text, url):
        return None
    if text.lstrip()[:1] not in ("{", "["):
        pages = parse_saved_html(text, url)
        if pages is None:
            raise UsageError("a Reddit page without a post (save the thread's comments page)")
        return pages
    post, listing = _thread_json(text)
    comments: list[dict] = []
    _walk(_listing_children(listing), comments, [])
    return [Page(sites=[site_record()], users=_users([post] + comments), posts=[post_record(post)],
                 comments=[comment_record(c) for c in comments])]


def _int(value) -> int | None:
    try:
        return int(str(value).replace(",", ""))
    except (TypeError, ValueError):
        return None


# -- the light change check ----------------------------------------------------------------------

INFO_BATCH = 100  # /api/info takes up to 100 fullnames


def check_threads(http, refs: list[ThreadRef],
                  endpoint: str | None = None) -> dict[str, ThreadSignature]:
    """``num_comments`` and ``edited`` of up to 100 posts per request (``/api/info?id=t3_a,t3_b``).
    Reddit keeps counting a deleted comment, so deletions show at the next full re-check."""
    api = root(endpoint, BASE)
    out: dict[str, ThreadSignature] = {}
    for start in range(0, len(refs), INFO_BATCH):
        ids = ",".join(f"t3_{ref.thread_id}" for ref in refs[start:start + INFO_BATCH])
        body = get_json(http, f"{api}/api/info.json", params={"id": ids, "raw_json": 1},
                        what="Reddit change check")
        for thing in _listing_children(body):
            if not isinstance(thing, dict) or thing.get("kind") != "t3":
                continue
            data = thing.get("data")
            if isinstance(data, dict) and isinstance(data.get("id"), str):
                count = data.get("num_comments")
                out[data["id"]] = ThreadSignature(
                    count if isinstance(count, int) and not isinstance(count, bool) else None,
                    None, _edited(data.get("edited")))
    return out


SOURCE = ForumSource(
    name=NAME, title="Reddit",
    sites=(SiteSpec(SITE_ID, "Reddit"),),
    thread_examples=("https://www.reddit.com/r/MachineLearning/comments/abc123/a_title/",
                     "https://old.reddit.com/r/MachineLearning/comments/abc123/",
                     "https://redd.it/abc123", "reddit:abc123"),
    user_examples=("https://www.reddit.com/user/spez",),
    parse_thread_url=parse_thread_url, fetch_thread=fetch_thread,
    site_record=lambda ref: site_record(),
    parse_user_url=parse_user_url, fetch_user=fetch_user, check_threads=check_threads,
    sniff_saved=sniff_saved, parse_saved=parse_saved,
    description="Reddit's public JSON (the page URL plus .json), expanding every 'more' link.",
)
