"""Any Discourse forum: a topic and all its posts, and users with their topics and replies.

``/t/<id>.json`` returns the topic with the first ~20 posts in ``post_stream.posts`` and the ids of
*all* posts in ``post_stream.stream``; the rest are fetched by id, 20 at a time as Discourse's own
client does, from ``/t/<id>/posts.json?post_ids[]=…``. Post 1 is the topic's body (the archive's
post); every later post is a comment whose parent is the post it replied to
(``reply_to_post_number``; a reply to post 1 is top-level). Bodies are ``cooked`` HTML; Discourse
quotes are ``<aside class="quote" data-username data-post data-topic>``, which name their source
exactly and survive sanitising.

Since any host can run Discourse, any ``https://<host>/t/<slug>/<id>`` URL (also ``/t/<id>`` and
``/t/<slug>/<id>/<post_number>``, under a sub-folder too) is taken for one. Ids:
``discourse:<host>`` is the site; the topic is ``discourse:<host>:<topic id>``, a post (comment)
``discourse:<host>:<post id>`` (Discourse's own post id; ``extra`` keeps ``post_number``,
``topic_id`` and ``username``), a user ``discourse:<host>:<user id>``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from typing import cast
from urllib.parse import urlsplit

from archiver.kernel.coerce import as_bool, as_dict, as_id, as_int, as_str, as_time, dicts, each
from archiver.kernel.errors import FetchError, NotFound, UsageError
from archiver.kernel.records import Comment, Page, Post, Site, Tag, User, iso_utc, make_id
from archiver.sources.contract import CATCH_ALL, ForumSource, ThreadRef, ThreadSignature, UserRef
from archiver.sources.webapi import get_json, root

NAME = "discourse"
BATCH = 20  # posts per posts.json request, as Discourse's client asks
PAGE_POSTS = 200  # posts per stored page
ACTIONS_PAGE = 30  # user_actions.json page size
REPLY, NEW_TOPIC = 5, 4  # user_actions filters
SMALL_ACTION = 3  # post_type of "closed the topic"-style notices: not discussion
LIKE = 2  # actions_summary id of likes

TOPIC_PATH = re.compile(r"^(?P<prefix>(?:/[^/]+)*?)/t/(?:(?P<slug>[^/]+)/)?(?P<id>\d+)"
                        r"(?:/(?P<number>\d+))?/?(?:\.json)?$")
USER_PATH = re.compile(r"^(?P<prefix>(?:/[^/]+)*?)/u(?:sers)?/(?P<name>[\w.-]+)(?:/.*)?$")

log = logging.getLogger("archiver.discourse")


def site_id(host: str) -> str:
    return f"discourse:{host}"


def site_record(base: str) -> Site:
    host = urlsplit(base).netloc.lower()
    return Site(id=site_id(host), name=host, url=base, kind=NAME, api_url=base)


# -- URLs --------------------------------------------------------------------------------------


def parse_thread_url(url: str) -> ThreadRef | None:
    """``https://<host>[/<folder>]/t/[<slug>/]<id>[/<post_number>]`` or ``discourse:<host>:<id>``."""
    value = url.strip()
    bare = re.fullmatch(r"discourse:([a-z0-9.-]+\.[a-z]{2,}(?::\d+)?):(\d+)", value, re.I)
    if bare:
        base = f"https://{bare.group(1).lower()}"
        return _ref(base, bare.group(2), None, None)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    match = TOPIC_PATH.match(parts.path)
    if not match:
        return None
    base = f"https://{parts.netloc.lower()}{match.group('prefix') or ''}"
    return _ref(base, match.group("id"), match.group("slug"), match.group("number"))


def _ref(base: str, topic_id: str, slug: str | None, number: str | None) -> ThreadRef:
    host = urlsplit(base).netloc
    url = f"{base}/t/{slug}/{topic_id}" if slug else f"{base}/t/{topic_id}"
    return ThreadRef(site_id(host), topic_id, url,
                     {"base": base, "post_number": int(number) if number else None})


def parse_user_url(url: str, site: str | None = None) -> UserRef | None:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    match = USER_PATH.match(parts.path)
    if not match:
        return None
    base = f"https://{parts.netloc.lower()}{match.group('prefix') or ''}"
    name = match.group("name")
    return UserRef(site_id(parts.netloc.lower()), slug=name, url=f"{base}/u/{name}")


def _base_of(ref_url: str) -> str:
    parts = urlsplit(ref_url)
    match = TOPIC_PATH.match(parts.path) or USER_PATH.match(parts.path)
    prefix = match.group("prefix") if match else ""
    return f"{parts.scheme}://{parts.netloc}{prefix or ''}"


# -- records -----------------------------------------------------------------------------------


def _likes(post: dict) -> int | None:
    if isinstance(post.get("like_count"), int):
        return as_int(post["like_count"], "like_count")
    for action in dicts(post.get("actions_summary"), "actions_summary"):
        if action.get("id") == LIKE:
            return as_int(action.get("count"), "like count") or 0
    return None


def _edited(post: dict) -> str | None:
    # updated_at also moves on rebakes and likes; a version above 1 means a real edit.
    return as_time(post.get("updated_at")) if (as_int(post.get("version")) or 1) > 1 else None


def _gone(post: dict) -> bool:
    return as_bool(post.get("deleted_at") or post.get("user_deleted") or post.get("hidden"))


def _user_id(sid: str, post: dict) -> str | None:
    uid = as_str(post.get("user_id"), "user_id")
    if uid:
        return make_id(sid, uid)
    username = as_str(post.get("username"), "username")
    return make_id(sid, username) if username else None


def user_stub(sid: str, base: str, post: dict) -> User | None:
    uid = _user_id(sid, post)
    if uid is None:
        return None
    username = as_str(post.get("username"), "username")
    return User(id=uid, site_id=sid, source_id=uid.rsplit(":", 1)[-1], slug=username,
                name=post.get("name") or username, url=f"{base}/u/{username}" if username else None)


def _tags(sid: str, topic: dict) -> list[Tag]:
    tags = []
    listed = topic.get("tags")
    for tag in listed if isinstance(listed, list) else []:
        name = as_str(tag.get("name") if isinstance(tag, dict) else tag, "tag")
        if name:
            # a null or odd slug falls back to the name (else every such tag is "tag:None")
            slug = (as_str(tag.get("slug")) or name) if isinstance(tag, dict) else name
            tags.append(Tag(id=make_id(sid, f"tag:{slug}"), site_id=sid, name=name, slug=slug))
    return tags


def topic_record(sid: str, base: str, topic: dict, first: dict | None) -> Post:
    first = as_dict(first)
    topic_id = as_id(topic.get("id"), "Discourse topic id")
    slug = as_str(topic.get("slug")) or "topic"
    posts_count = as_int(topic.get("posts_count"), "posts_count")
    extra = {"topic_id": topic_id, "first_post_id": first.get("id"),
             "username": first.get("username"), "category_id": topic.get("category_id"),
             "views": topic.get("views"), "posts_count": topic.get("posts_count")}
    gone = _gone(first)
    return Post(
        id=make_id(sid, topic_id), site_id=sid, source_id=topic_id,
        url=f"{base}/t/{slug}/{topic_id}", title=topic.get("title"),
        user_id=_user_id(sid, first), author=first.get("name") or first.get("username"),
        posted_at=as_time(topic.get("created_at") or first.get("created_at")),
        edited_at=_edited(first), score=_likes(first),
        comment_count=posts_count - 1 if posts_count else None,
        kind="link" if topic.get("featured_link") else "post",
        body_html=None if gone else first.get("cooked"), tags=_tags(sid, topic),
        extra={k: v for k, v in extra.items() if v is not None},
    )


def comment_record(sid: str, base: str, topic: dict, post: dict, parents: dict[int, int]) -> Comment:
    post_id = as_id(post.get("id"), "Discourse post id")
    slug = as_str(topic.get("slug") or post.get("topic_slug")) or "topic"
    topic_id = as_id(topic.get("id") or post.get("topic_id"), "Discourse topic id")
    reply_to = as_int(post.get("reply_to_post_number"), "reply_to_post_number")
    parent = as_str(parents.get(reply_to)) if reply_to and reply_to != 1 else None
    gone = _gone(post)
    extra = {"post_number": post.get("post_number"), "topic_id": topic_id,
             "username": post.get("username"), "reply_to_post_number": reply_to,
             "user_deleted": post.get("user_deleted") or None}
    return Comment(
        id=make_id(sid, post_id), site_id=sid, source_id=post_id,
        post_id=make_id(sid, topic_id), parent_id=make_id(sid, parent) if parent else None,
        user_id=_user_id(sid, post), author=post.get("name") or post.get("username"),
        url=f"{base}/t/{slug}/{topic_id}/{as_int(post.get('post_number'))}",
        posted_at=as_time(post.get("created_at")), edited_at=_edited(post), score=_likes(post),
        deleted=gone, body_html=None if gone else post.get("cooked"),
        extra={k: v for k, v in extra.items() if v is not None},
    )


def _users(sid: str, base: str, posts: Iterable[dict]) -> list[User]:
    found = {}
    for post in posts:
        user = user_stub(sid, base, post)
        if user:
            found[user.id] = user
    return list(found.values())


# -- threads -----------------------------------------------------------------------------------


def fetch_thread(http, ref: ThreadRef, endpoint: str | None = None) -> Iterator[Page]:
    base = ref.extra.get("base") or _base_of(ref.url)
    api = root(endpoint, base)
    sid = ref.site
    what = f"Discourse topic {ref.thread_id} on {urlsplit(base).netloc}"
    topic = get_json(http, f"{api}/t/{ref.thread_id}.json", what=what)
    stream_block = (topic or {}).get("post_stream") if isinstance(topic, dict) else None
    if not isinstance(stream_block, dict):
        raise FetchError(f"{what}: unexpected answer (no post_stream); is this a Discourse forum?")
    posts = dicts(stream_block.get("posts"), "post_stream.posts")
    have = {as_int(p.get("id")) for p in posts}
    raw = stream_block.get("stream")
    stream = [i for i in (map(as_int, raw) if isinstance(raw, list) else have) if i is not None]
    parents: dict[int, int] = {}
    first = next((p for p in posts if p.get("post_number") == 1), None)
    post = topic_record(sid, base, topic, first)
    seen: list[str] = []
    yield Page(sites=[site_record(base)], users=_users(sid, base, posts), posts=[post],
               comments=_comments(sid, base, topic, posts, parents, seen))
    missing = [pid for pid in stream if pid not in have]
    pending: list[dict] = []
    for start in range(0, len(missing), BATCH):
        batch = _posts_by_id(http, api, ref.thread_id, missing[start:start + BATCH], what)
        if first is None:
            first = next((p for p in batch if p.get("post_number") == 1), None)
            if first is not None:  # the body was not on the first page (rare): send it now
                post = topic_record(sid, base, topic, first)
                yield Page(posts=[post])
        pending += batch
        if len(pending) >= PAGE_POSTS or start + BATCH >= len(missing):
            # ten requests per stored page: fewer transactions, little lost on a crash
            yield Page(users=_users(sid, base, pending),
                       comments=_comments(sid, base, topic, pending, parents, seen))
            pending = []
    yield Page(complete_post_ids=[post.id], seen_comment_ids=seen)


def _posts_by_id(http, api: str, topic_id, ids: list[int], what: str) -> list[dict]:
    body = get_json(http, f"{api}/t/{topic_id}/posts.json", params={"post_ids[]": ids}, what=what)
    return dicts(as_dict(as_dict(body).get("post_stream")).get("posts"), "post_stream.posts")


def _comments(sid, base, topic, posts: list[dict], parents: dict, seen: list[str]) -> list[Comment]:
    kept = []
    for post in sorted(posts, key=lambda p: as_int(p.get("post_number")) or 0):
        number = as_int(post.get("post_number"))
        if number is not None:
            parents[number] = post.get("id")
        if number == 1 or post.get("post_type") == SMALL_ACTION:
            continue
        kept.append(post)
    out = each(lambda p: comment_record(sid, base, topic, p, parents), kept, "Discourse post")
    seen.extend(c.id for c in out)
    return out


# -- users -------------------------------------------------------------------------------------


def fetch_user(http, ref: UserRef, posts: int | None = None, comments: int | None = None,
               since: str | None = None, endpoint: str | None = None) -> Iterator[Page]:
    """The profile (``/u/<name>.json``), then the topics they started and their replies, newest
    first, from ``/user_actions.json`` (full bodies fetched by post id, topic by topic)."""
    base = _base_of(cast(str, ref.url))  # parse_user_url always sets it
    api = root(endpoint, base)
    sid = ref.site
    body = get_json(http, f"{api}/u/{ref.slug}.json", what=f"Discourse user {ref.slug!r}")
    data = (body or {}).get("user") or {}
    if not data.get("username"):
        raise FetchError(f"Discourse user {ref.slug!r}: unexpected answer (no user)")
    profile = User(id=make_id(sid, data.get("id", data["username"])), site_id=sid,
                   source_id=str(data.get("id", data["username"])), slug=data["username"],
                   name=data.get("name") or data["username"], url=f"{base}/u/{data['username']}",
                   bio_html=data.get("bio_cooked"), bio_markdown=data.get("bio_raw"),
                   post_count=data.get("post_count"), created_at=iso_utc(data.get("created_at")),
                   stub=False)
    yield Page(sites=[site_record(base)], users=[profile])
    for wanted, action in ((posts, NEW_TOPIC), (comments, REPLY)):
        if wanted == 0:
            continue
        for actions in _actions(http, api, data["username"], action, wanted, since):
            yield from _action_pages(http, api, sid, base, actions, topics=action == NEW_TOPIC)


def _actions(http, api: str, username: str, action: int, limit: int | None, since: str | None):
    offset, remaining = 0, limit
    while remaining is None or remaining > 0:
        body = get_json(http, f"{api}/user_actions.json",
                        params={"username": username, "filter": action, "offset": offset},
                        what=f"Discourse activity of {username!r}")
        items = (body or {}).get("user_actions") or []
        if not items:
            return
        offset += len(items)
        fresh = [a for a in items if not since or (iso_utc(a.get("created_at")) or "") >= since]
        if remaining is not None:
            fresh = fresh[:remaining]
            remaining -= len(fresh)
        if fresh:
            yield fresh
        if len(fresh) < len(items) and since:
            return


def _action_pages(http, api, sid, base, actions: list[dict], topics: bool) -> Iterator[Page]:
    by_topic: dict[int, list[dict]] = {}
    for action in actions:
        by_topic.setdefault(action["topic_id"], []).append(action)
    for topic_id, items in by_topic.items():
        topic = {"id": topic_id, "slug": items[0].get("slug"), "title": items[0].get("title"),
                 "created_at": items[0].get("created_at") if topics else None}
        ids = [a["post_id"] for a in items if a.get("post_id")]
        full = _posts_by_id(http, api, topic_id, ids, f"Discourse topic {topic_id}") if ids else []
        stub = topic_record(sid, base, topic, None)
        if topics:
            first = next((p for p in full if p.get("post_number") == 1), None)
            yield Page(users=_users(sid, base, full), posts=[topic_record(sid, base, topic, first)])
            continue
        stub.stub = True
        parents = _parent_ids(http, api, topic_id, full)
        yield Page(users=_users(sid, base, full), posts=[stub],
                   comments=_comments(sid, base, topic, full, parents, []))


def _parent_ids(http, api: str, topic_id, posts: list[dict]) -> dict[int, int]:
    """post_number -> post id of the posts these reply to, so a reply archived from a user's
    activity gets the same parent as when its whole topic is archived."""
    parents: dict[int, int] = {}
    for post in posts:
        number = post.get("reply_to_post_number")
        if not number or number == 1 or number in parents:
            continue
        try:
            found = get_json(http, f"{api}/posts/by_number/{topic_id}/{number}.json",
                             what=f"Discourse post {topic_id}#{number}")
        except (FetchError, NotFound) as exc:  # a deleted parent is NotFound
            log.info("parent %s#%s not available: %s", topic_id, number, exc)
            continue
        if isinstance(found, dict) and found.get("id"):
            parents[number] = found["id"]
    return parents


# -- saved pages -------------------------------------------------------------------------------


def parse_saved_html(text: str, url: str | None = None) -> list[Page] | None:
    """A Discourse topic saved from a browser (the app view or the crawler view), else None."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "lxml")
    canonical = url or _canonical(soup)
    ref = parse_thread_url(canonical) if canonical else None
    if ref is None or canonical is None or not _looks_like_discourse(soup):
        return None
    base = ref.extra["base"]
    topic = {"id": int(ref.thread_id), "slug": canonical.rstrip("/").split("/t/")[-1].split("/")[0],
             "title": _title(soup)}
    posts = _saved_posts(soup, int(ref.thread_id))
    if not posts:
        return None
    first = next((p for p in posts if p["post_number"] == 1), None)
    topic["created_at"] = (first or {}).get("created_at")
    parents: dict[int, int] = {}
    post = topic_record(ref.site, base, topic, first)
    return [Page(sites=[site_record(base)], users=_users(ref.site, base, posts), posts=[post],
                 comments=_comments(ref.site, base, topic, posts, parents, []))]


def _canonical(soup) -> str | None:
    link = soup.find("link", rel="canonical") or soup.find("meta", property="og:url")
    return (link.get("href") or link.get("content")) if link else None


def _looks_like_discourse(soup) -> bool:
    generator = soup.find("meta", attrs={"name": "generator"})
    return bool((generator and "Discourse" in (generator.get("content") or ""))
                or soup.select_one("article[data-post-id]"))


def _title(soup) -> str | None:
    node = soup.select_one("#topic-title h1 a, #topic-title h1, h1 .fancy-title, h1")
    if node:
        return node.get_text(" ", strip=True)
    meta = soup.find("meta", property="og:title")
    return meta.get("content") if meta else None


def _saved_posts(soup, topic_id: int) -> list[dict]:
    """Posts from the app view (``article[data-post-id]``): the crawler view names no post ids,
    so its posts could not be matched with the API's and are not imported."""
    posts = []
    for article in soup.select("article[data-post-id]"):
        number = int(re.sub(r"\D", "", article.get("id", "")) or 0) or None
        cooked = article.select_one(".cooked")
        user = article.select_one("[data-user-card]")
        when = article.select_one(".post-date [data-time], .relative-date[data-time]")
        reply = article.select_one(".reply-to-tab[data-post-number], [data-reply-to-post-number]")
        posts.append({
            "id": int(article["data-post-id"]), "post_number": number, "topic_id": topic_id,
            "username": user.get("data-user-card") if user else None,
            "name": _text(article.select_one(".names .full-name")),
            "created_at": iso_utc(int(when["data-time"]) / 1000) if when else None,
            "cooked": cooked.decode_contents() if cooked else None,
            "reply_to_post_number": _int(reply.get("data-post-number")
                                         or reply.get("data-reply-to-post-number")) if reply else None,
        })
    return posts


def _text(node) -> str | None:
    return node.get_text(" ", strip=True) if node else None


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def sniff_saved(text: str, url: str | None = None) -> bool:
    """A topic's ``/t/<id>.json`` (``post_stream`` with posts) or a topic page of the app view
    (``meta[name=generator]`` "Discourse" or ``article[data-post-id]``)."""
    if text.lstrip()[:1] in ("{", "["):
        return _topic_json(text) is not None
    return bool(re.search(r"<meta[^>]+content=[\"']Discourse|<article[^>]+data-post-id=", text[:2_000_000]))


def _topic_json(text: str) -> dict | None:
    try:
        topic = json.loads(text)
    except ValueError:
        return None
    stream = topic.get("post_stream") if isinstance(topic, dict) else None
    if not isinstance(stream, dict) or not isinstance(stream.get("posts"), list):
        return None
    return topic if "id" in topic else None


def parse_saved(text: str, url: str | None = None) -> list[Page] | None:
    """A saved topic JSON (needs the topic's URL: the JSON does not name its forum) or topic
    page. Posts not in the file are not flagged as vanished."""
    if not sniff_saved(text, url):
        return None
    if text.lstrip()[:1] not in ("{", "["):
        pages = parse_saved_html(text, url)
        if pages is None:
            raise UsageError("a Discourse page without its topic's URL or posts (save the topic "
                             "page itself, or pass --url https://<forum>/t/<slug>/<id>)")
        return pages
    topic = _topic_json(text)
    if topic is None:  # sniff_saved found a topic; this narrows the type
        return None
    ref = parse_thread_url(url) if url else None
    if ref is None:
        raise UsageError("a Discourse topic JSON does not name its forum; pass --url "
                         "https://<forum>/t/<slug>/<id>")
    base, sid = ref.extra["base"], ref.site
    posts = [p for p in topic["post_stream"]["posts"] if isinstance(p, dict) and "id" in p]
    first = next((p for p in posts if p.get("post_number") == 1), None)
    return [Page(sites=[site_record(base)], users=_users(sid, base, posts),
                 posts=[topic_record(sid, base, topic, first)],
                 comments=_comments(sid, base, topic, posts, {}, []))]


# Discourse's /t/<slug>/<id> path exists on any host, so it is asked after every source that
# knows its hosts (CATCH_ALL priority); its sites are made per host, so it declares none.
# -- the light change check ----------------------------------------------------------------------


def check_threads(http, refs: list[ThreadRef],
                  endpoint: str | None = None) -> dict[str, ThreadSignature]:
    """Each topic's ``posts_count``, ``last_posted_at`` and ``bumped_at`` from ``/t/<id>.json``:
    one request per topic (Discourse has no batch lookup by id), never the later posts."""
    out: dict[str, ThreadSignature] = {}
    for ref in refs:
        api = root(endpoint, ref.extra.get("base") or _base_of(ref.url))
        try:
            topic = get_json(http, f"{api}/t/{ref.thread_id}.json",
                             what=f"Discourse change check of topic {ref.thread_id}")
        except NotFound:  # left out: the fetch says so, for this topic alone
            continue
        if not isinstance(topic, dict):
            continue
        count = topic.get("posts_count")
        out[ref.thread_id] = ThreadSignature(
            count if isinstance(count, int) and not isinstance(count, bool) else None,
            _stamp_text(topic.get("last_posted_at")), _stamp_text(topic.get("bumped_at")))
    return out


def _stamp_text(value) -> str | None:
    return value[:64] if isinstance(value, str) else None


SOURCE = ForumSource(
    name=NAME, title="Discourse forums",
    priority=CATCH_ALL,
    thread_examples=("https://discuss.example.org/t/paper-roundup/4242",
                     "https://forum.example.com/community/t/a-topic/17/3",
                     "discourse:discuss.example.org:4242"),
    user_examples=("https://discuss.example.org/u/alice",),
    parse_thread_url=parse_thread_url, fetch_thread=fetch_thread,
    site_record=lambda ref: site_record(_base_of(ref.url)),
    parse_user_url=parse_user_url, fetch_user=fetch_user, check_threads=check_threads,
    sniff_saved=sniff_saved, parse_saved=parse_saved,
    description="Any Discourse forum, through its public JSON; one site per host.",
)
