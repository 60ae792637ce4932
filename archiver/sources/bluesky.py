"""Bluesky threads and users through the public AppView's XRPC API (no login, no key).

Calls (``<root>/xrpc/<nsid>``, root ``https://public.api.bsky.app``; shapes from the
``app.bsky.*`` lexicons):

- ``com.atproto.identity.resolveHandle?handle=`` -> ``{did}``: a URL names its author by handle
  (or by DID); the archive keys everything by DID, which survives a handle change.
- ``app.bsky.feed.getPostThread?uri=&depth=&parentHeight=`` -> ``{thread}``: a
  ``#threadViewPost`` (``post``, ``parent``, ``replies``), ``#notFoundPost`` (deleted) or
  ``#blockedPost``. A URL of a reply archives the whole thread of its root
  (``record.reply.root``). Past the depth limit a post's ``replies`` are left out while its
  ``replyCount`` says there are some: such a branch is fetched again from that post.
- ``app.bsky.feed.getQuotes?uri=&cursor=`` -> ``{posts, cursor}``: the posts quoting a post of
  the thread (those with ``quoteCount`` > 0).
- ``app.bsky.actor.getProfile?actor=`` and ``app.bsky.feed.getAuthorFeed?actor=&cursor=&filter=``
  (``{feed: [{post, reply?, reason?}], cursor}``) for ``archiver user``.

Records: the thread's root is a post, every reply a comment (parent from ``record.reply``);
deleted and blocked replies are comments flagged ``deleted`` (the store keeps text archived
before). A quote post's body is the quoted post as a ``<blockquote cite=URL>`` followed by its own
text, and the quoted post is archived too (as the post or comment it is), so the exchange finder
resolves the quote to it. Ids: ``bluesky:<did>/<rkey>`` for posts and comments,
``bluesky:<did>`` for users; URLs are the bsky.app links people share (handle form).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from archiver.kernel.display import safe_url
from archiver.kernel.errors import FetchError, NotFound, UsageError
from archiver.kernel.records import Comment, Page, Post, Site, User, iso_utc, make_id
from archiver.sources.contract import ForumSource, SiteSpec, ThreadRef, UserRef
from archiver.sources.webapi import error_reason, root

NAME = "bluesky"
SITE_ID = "bluesky"
SITE_NAMES = (SITE_ID, "bsky")
BASE = "https://bsky.app"
PUBLIC = "https://public.api.bsky.app"
HOSTS = {"bsky.app", "www.bsky.app", "staging.bsky.app"}
DEPTH = 1000  # getPostThread's maximum depth
PAGE = 100  # getQuotes and getAuthorFeed serve at most 100 a page
MAX_PAGES = 10_000  # a server repeating its cursor forever stops here
TITLE_CHARS = 80

POST_TYPE = "app.bsky.feed.post"
NOT_FOUND = "app.bsky.feed.defs#notFoundPost"
BLOCKED = "app.bsky.feed.defs#blockedPost"
RECORD_VIEWS = ("app.bsky.embed.record#view", "app.bsky.embed.recordWithMedia#view")
VIEW_RECORD = "app.bsky.embed.record#viewRecord"

# A handle is a domain name; a DID is did:<method>:<id>; a record key is 1-512 safe characters.
HANDLE = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z][A-Za-z0-9-]{0,62}"
DID = r"did:[a-z]+:[A-Za-z0-9._:%-]{1,2048}"
ACTOR = rf"(?:{DID}|{HANDLE})"
RKEY = r"[A-Za-z0-9._:~-]{1,512}"
POST_PATH = re.compile(rf"^/profile/({ACTOR})/post/({RKEY})/?$")
PROFILE_PATH = re.compile(rf"^/profile/({ACTOR})/?$")
AT_URI = re.compile(rf"^at://({DID})/app\.bsky\.feed\.post/({RKEY})$")

log = logging.getLogger("archiver.bluesky")


def site_record() -> Site:
    return Site(id=SITE_ID, name="Bluesky", url=BASE, kind=NAME, api_url=PUBLIC)


# -- URLs --------------------------------------------------------------------------------------


def parse_thread_url(url: str) -> ThreadRef | None:
    value = url.strip()
    at = AT_URI.match(value)
    if at:
        return _thread_ref(at.group(1), at.group(2))
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or parts.netloc.lower() not in HOSTS:
        return None
    match = POST_PATH.match(unquote(parts.path))
    if match:
        return _thread_ref(match.group(1), match.group(2))
    if PROFILE_PATH.match(unquote(parts.path)):
        raise UsageError(f"{url}: a Bluesky profile, not a post; use archiver user for it, or "
                         "pass a post URL (https://bsky.app/profile/<handle>/post/<id>)")
    raise UsageError(f"{url}: a Bluesky URL, but not a post; expected "
                     "https://bsky.app/profile/<handle>/post/<id>")


def _thread_ref(actor: str, rkey: str) -> ThreadRef:
    actor = actor if actor.startswith("did:") else actor.lower()
    return ThreadRef(SITE_ID, f"{actor}/{rkey}", post_url(actor, rkey),
                     {"actor": actor, "rkey": rkey})


def parse_user_url(url: str, site: str | None = None) -> UserRef | None:
    value = url.strip()
    if site in SITE_NAMES:  # a bare handle or DID with --site bluesky
        bare = re.fullmatch(rf"@?({ACTOR})", value)
        if bare:
            return _user_ref(bare.group(1))
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or parts.netloc.lower() not in HOSTS:
        return None
    match = PROFILE_PATH.match(unquote(parts.path))
    if not match:
        raise UsageError(f"{url}: a Bluesky URL, but not a profile "
                         "(https://bsky.app/profile/<handle>)")
    return _user_ref(match.group(1))


def _user_ref(actor: str) -> UserRef:
    actor = actor if actor.startswith("did:") else actor.lower()
    return UserRef(SITE_ID, slug=actor, user_id=actor, url=f"{BASE}/profile/{actor}")


def post_url(actor: str, rkey: str) -> str:
    return f"{BASE}/profile/{actor}/post/{rkey}"


def _split_uri(uri: object) -> tuple[str, str] | None:
    """(did, rkey) of a post's at:// URI, or None for anything else."""
    match = AT_URI.match(uri) if isinstance(uri, str) else None
    return (match.group(1), match.group(2)) if match else None


def item_id(uri: object) -> str | None:
    parts = _split_uri(uri)
    return make_id(SITE_ID, f"{parts[0]}/{parts[1]}") if parts else None


# -- XRPC --------------------------------------------------------------------------------------


def xrpc(http, api: str, nsid: str, params: dict, what: str):
    """One XRPC query; the AppView's ``{"error", "message"}`` bodies become one clear line."""
    url = f"{api}/xrpc/{nsid}"
    response = http.request("GET", url, params=params, allow_status=(400, 401, 403, 404))
    status = response.status_code
    if status < 400:
        body = http.decode_json(response, url)
        if not isinstance(body, dict):
            raise FetchError(f"{what}: unexpected answer from {nsid} (not a JSON object)")
        return body
    reason = error_reason(response.text) or f"HTTP {status}"
    if status == 404 or re.search(r"not ?found|unable to resolve", reason, re.I):
        raise NotFound(f"{what} not found ({nsid}: {reason}); check the URL")
    raise FetchError(f"{what}: the Bluesky API refused {nsid} ({reason})")


def resolve_did(http, api: str, actor: str) -> str:
    if actor.startswith("did:"):
        return actor
    body = xrpc(http, api, "com.atproto.identity.resolveHandle", {"handle": actor},
                f"Bluesky handle {actor!r}")
    did = body.get("did")
    if not isinstance(did, str) or not re.fullmatch(DID, did):
        raise FetchError(f"Bluesky handle {actor!r}: resolveHandle gave no DID")
    return did


# -- records -----------------------------------------------------------------------------------


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _str(value) -> str | None:
    return value if isinstance(value, str) and value else None


def user_record(author: dict) -> User | None:
    did = _str(author.get("did"))
    if not did or not re.fullmatch(DID, did):
        return None
    handle = _handle(author)
    return User(id=make_id(SITE_ID, did), site_id=SITE_ID, source_id=did, slug=handle or did,
                name=_str(author.get("displayName")) or handle or did,
                url=f"{BASE}/profile/{handle or did}")


def _handle(author: dict) -> str | None:
    handle = _str(author.get("handle"))
    return handle if handle and handle != "handle.invalid" and re.fullmatch(HANDLE, handle) \
        else None


def render_text(text: str, facets) -> str:
    """Post text as HTML: escaped, link and mention facets as links (http(s) only), line breaks
    kept. Facet offsets count UTF-8 bytes; a facet that overlaps another or falls outside the
    text is ignored."""
    data = text.encode("utf-8")
    spans = []
    for facet in facets if isinstance(facets, list) else []:
        index = _dict(_dict(facet).get("index"))
        start, end = _int(index.get("byteStart")), _int(index.get("byteEnd"))
        href = _facet_href(_dict(facet).get("features"))
        if start is not None and end is not None and start < end <= len(data) and href:
            spans.append((start, end, href))
    out, at = [], 0
    for start, end, href in sorted(spans):
        if start < at:
            continue
        out.append(_escape(data[at:start]))
        out.append(f'<a href="{html.escape(href)}">{_escape(data[start:end])}</a>')
        at = end
    out.append(_escape(data[at:]))
    paragraphs = re.split(r"\n\s*\n", "".join(out).strip())
    return "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in paragraphs if p.strip())


def _escape(chunk: bytes) -> str:
    return html.escape(chunk.decode("utf-8", errors="replace"), quote=False)


def _facet_href(features) -> str | None:
    for feature in features if isinstance(features, list) else []:
        feature = _dict(feature)
        kind = feature.get("$type")
        if kind == "app.bsky.richtext.facet#link":
            return safe_url(feature.get("uri"))
        if kind == "app.bsky.richtext.facet#mention" and isinstance(feature.get("did"), str) \
                and re.fullmatch(DID, feature["did"]):
            return f"{BASE}/profile/{feature['did']}"
    return None


def quoted_view(embed) -> dict | None:
    """The record a post's embed view quotes (``#viewRecord``, ``#viewNotFound``, ...), if any."""
    embed = _dict(embed)
    if embed.get("$type") not in RECORD_VIEWS:
        return None
    inner = _dict(embed.get("record"))
    if embed.get("$type") == RECORD_VIEWS[1]:  # recordWithMedia: record is a record#view
        inner = _dict(inner.get("record"))
    return inner or None


def _quote_html(view: dict | None) -> str:
    """The quoted post as a blockquote citing its URL, after a line naming its author."""
    if view is None:
        return ""
    kind = _str(view.get("$type"))  # odd data may put a list here: not a dict key
    if kind != VIEW_RECORD:
        reason = {"app.bsky.embed.record#viewNotFound": "deleted",
                  "app.bsky.embed.record#viewBlocked": "blocked",
                  "app.bsky.embed.record#viewDetached": "detached by its author"}.get(kind or "")
        return f"<p>[quoted post {reason}]</p>" if reason else ""
    value = _dict(view.get("value"))
    text = _str(value.get("text"))
    parts = _split_uri(view.get("uri"))
    if not text or parts is None:
        return ""
    author = _dict(view.get("author"))
    handle = _handle(author)
    url = post_url(handle or parts[0], parts[1])
    name = _str(author.get("displayName")) or (f"@{handle}" if handle else parts[0])
    return (f'<p><a href="{html.escape(url)}">{html.escape(name, quote=False)}</a> wrote:</p>'
            f'<blockquote cite="{html.escape(url)}">{render_text(text, value.get("facets"))}'
            "</blockquote>")


def _external_html(embed) -> str:
    """A link card (``app.bsky.embed.external#view``) as a link after the text."""
    external = _dict(_dict(embed).get("external"))
    href = safe_url(external.get("uri"))
    if not href:
        return ""
    label = _str(external.get("title")) or href
    return f'<p><a href="{html.escape(href)}">{html.escape(label, quote=False)}</a></p>'


def body_html(record: dict, embed) -> str | None:
    """Quoted post first (a quote is followed by its answer, as on every forum), then the text."""
    text = _str(record.get("text"))
    own = render_text(text, record.get("facets")) if text else ""
    quote = _quote_html(quoted_view(embed))
    card = _external_html(embed) if _dict(embed).get("$type") == \
        "app.bsky.embed.external#view" else ""
    return (quote + own + card) or None


def _title(text: str | None) -> str | None:
    line = " ".join((text or "").split())
    if len(line) <= TITLE_CHARS:
        return line or None
    return line[:TITLE_CHARS].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


def item_record(uri, author: dict, record: dict, embed, counts: dict) -> Post | Comment | None:
    """A post view (or an embedded ``#viewRecord``) as the post or comment it is: a reply
    (``record.reply``) is a comment of its root's thread."""
    parts = _split_uri(uri)
    if parts is None:
        return None
    did, rkey = parts
    handle = _handle(author)
    user = user_record(author)
    fields: dict[str, Any] = dict(
        id=make_id(SITE_ID, f"{did}/{rkey}"), site_id=SITE_ID, source_id=f"{did}/{rkey}",
        url=post_url(handle or did, rkey), user_id=user.id if user else None,
        author=user.name if user else None, posted_at=iso_utc(_str(record.get("createdAt"))),
        score=_int(counts.get("likeCount")), body_html=body_html(record, embed),
        extra={k: v for k, v in (("uri", uri), ("cid", _str(counts.get("cid"))),
                                 ("reposts", _int(counts.get("repostCount"))),
                                 ("quotes", _int(counts.get("quoteCount"))),
                                 ("indexed_at", _str(counts.get("indexedAt")))) if v is not None})
    reply = _dict(record.get("reply"))
    root_id = item_id(_dict(reply.get("root")).get("uri"))
    if not reply or root_id is None:
        return Post(**fields, title=_title(_str(record.get("text"))),
                    comment_count=_int(counts.get("replyCount")))
    parent_id = item_id(_dict(reply.get("parent")).get("uri"))
    return Comment(**fields, post_id=root_id,
                   parent_id=None if parent_id in (None, root_id) else parent_id)


def view_records(view: dict) -> tuple[list, list[User]]:
    """A post view's record, plus the post it quotes (archived as the source of the quote)."""
    view = _dict(view)
    author = _dict(view.get("author"))
    items: list[Post | Comment] = []
    users: list[User] = []
    record = _dict(view.get("record"))
    if record.get("$type") not in (None, POST_TYPE):
        return items, users
    item = item_record(view.get("uri"), author, record, view.get("embed"), view)
    if item is not None:
        items.append(item)
        users += [u for u in [user_record(author)] if u]
    quoted = quoted_view(view.get("embed"))
    if quoted and quoted.get("$type") == VIEW_RECORD \
            and _dict(quoted.get("value")).get("$type") in (None, POST_TYPE):
        embeds = quoted.get("embeds")
        inner_embed = embeds[0] if isinstance(embeds, list) and embeds else None
        source = item_record(quoted.get("uri"), _dict(quoted.get("author")),
                             _dict(quoted.get("value")), inner_embed, quoted)
        if isinstance(source, Post):
            # Archived so the quote resolves to it: a stub until its own thread is fetched.
            source.stub = True
        if source is not None:
            items.append(source)
            users += [u for u in [user_record(_dict(quoted.get("author")))] if u]
    return items, users


def _page(views: list[dict]) -> Page:
    """Records of these views, each once (a post quoted in its own thread comes twice: the
    thread's full record wins over the quoted copy)."""
    posts: dict[str, Post] = {}
    comments: dict[str, Comment] = {}
    users: dict[str, User] = {}
    for view in views:
        items, found = view_records(view)
        for item in items:
            if isinstance(item, Post):
                if item.id not in posts or posts[item.id].stub and not item.stub:
                    posts[item.id] = item
            else:
                comments.setdefault(item.id, item)
        users.update((u.id, u) for u in found)
    return Page(users=list(users.values()), posts=list(posts.values()),
                comments=list(comments.values()))


# -- threads -----------------------------------------------------------------------------------


def fetch_thread(http, ref: ThreadRef, endpoint: str | None = None) -> Iterator[Page]:
    """The root post, every reply (truncated branches fetched again), then the quote posts."""
    api = root(endpoint, PUBLIC)
    did = resolve_did(http, api, ref.extra.get("actor") or ref.thread_id.split("/")[0])
    rkey = ref.extra.get("rkey") or ref.thread_id.split("/", 1)[1]
    what = f"Bluesky post {ref.url}"
    node = _thread(http, api, f"at://{did}/{POST_TYPE}/{rkey}", what)
    reply = _dict(_dict(_dict(node.get("post")).get("record")).get("reply"))
    root_uri = _dict(reply.get("root")).get("uri")
    if isinstance(root_uri, str) and _split_uri(root_uri) \
            and root_uri != _dict(node.get("post")).get("uri"):
        node = _thread(http, api, root_uri, f"the first post of {what}")  # a reply: whole thread
    post = _dict(node.get("post"))
    root_did, root_rkey = _split_uri(post.get("uri")) or (did, rkey)
    _repoint(ref, root_did, root_rkey, _handle(_dict(post.get("author"))))
    root_id = make_id(SITE_ID, ref.thread_id)
    views: list[dict] = [post]
    gone: list[Comment] = []
    fetched = {post.get("uri")}
    _walk(http, api, node, views, gone, fetched, root_id)
    page = _page(views)
    page.sites = [site_record()]
    page.comments += gone
    if not any(p.id == root_id for p in page.posts):
        raise FetchError(f"{what}: the thread's first post is not a post record")
    seen = [c.id for c in page.comments if c.post_id == root_id]
    yield page
    yield from _quote_posts(http, api, [v for v in views if _int(v.get("quoteCount"))])
    yield Page(complete_post_ids=[root_id], seen_comment_ids=seen)


def _repoint(ref: ThreadRef, did: str, rkey: str, handle: str | None) -> None:
    """The ref names the thread archived: its root, by DID (a reply's URL names the reply)."""
    if ref.thread_id != f"{did}/{rkey}":
        ref.extra["linked"] = ref.thread_id
    ref.thread_id = f"{did}/{rkey}"
    ref.url = post_url(handle or did, rkey)


def _thread(http, api: str, uri: str, what: str) -> dict:
    body = xrpc(http, api, "app.bsky.feed.getPostThread",
                {"uri": uri, "depth": DEPTH, "parentHeight": 0}, what)
    node = _dict(body.get("thread"))
    kind = node.get("$type")
    if kind == NOT_FOUND:
        raise NotFound(f"{what} not found (deleted); check the URL")
    if kind == BLOCKED:
        raise FetchError(f"{what} is blocked from public view")
    if not _dict(node.get("post")).get("uri"):
        raise FetchError(f"{what}: unexpected answer from getPostThread (no post)")
    return node


def _walk(http, api: str, top: dict, views: list[dict], gone: list[Comment], fetched: set,
          root_id: str) -> None:
    """Every reply under ``top`` (depth first, no recursion: threads can be deep)."""
    stack = [top]
    while stack:
        node = stack.pop()
        post = _dict(node.get("post"))
        listed = node.get("replies")
        replies = listed if isinstance(listed, list) else []
        count = _int(post.get("replyCount")) or 0
        if count > len(replies) and not replies and post.get("uri") not in fetched:
            # Cut off at the depth limit (``replies`` left out although ``replyCount`` says
            # there are some): this branch again, from this post down. Replies hidden from the
            # public view (blocks, thread gates) leave some out too; those cost no request.
            fetched.add(post.get("uri"))
            try:
                again = _thread(http, api, post["uri"], f"Bluesky post {post['uri']}")
            except NotFound:
                again = {}
            if isinstance(again.get("replies"), list):
                replies = again["replies"]
        parent_id = item_id(post.get("uri"))
        for child in reversed(replies):
            child = _dict(child)
            kind = child.get("$type")
            if kind in (NOT_FOUND, BLOCKED):
                flagged = _gone(child, parent_id, root_id)
                if flagged:
                    gone.append(flagged)
            elif _dict(child.get("post")).get("uri"):
                views.append(child["post"])
                stack.append(child)


def _gone(node: dict, parent_id: str | None, root_id: str) -> Comment | None:
    """A deleted or blocked reply: a comment flagged deleted (its archived text is kept)."""
    parts = _split_uri(node.get("uri"))
    if parts is None:
        return None
    blocked = node.get("$type") == BLOCKED
    return Comment(id=make_id(SITE_ID, f"{parts[0]}/{parts[1]}"), site_id=SITE_ID,
                   source_id=f"{parts[0]}/{parts[1]}", post_id=root_id,
                   parent_id=None if parent_id == root_id else parent_id,
                   url=post_url(parts[0], parts[1]), deleted=True,
                   extra={"blocked": True} if blocked else {"not_found": True})


def _quote_posts(http, api: str, quoted: list[dict]) -> Iterator[Page]:
    """The posts quoting each of these (``getQuotes``, paged by cursor)."""
    for view in quoted:
        cursor = None
        for _ in range(MAX_PAGES):
            params = {"uri": view["uri"], "limit": PAGE}
            if cursor:
                params["cursor"] = cursor
            body = xrpc(http, api, "app.bsky.feed.getQuotes", params,
                        f"quotes of Bluesky post {view['uri']}")
            posts = [p for p in body.get("posts") or [] if isinstance(p, dict)]
            if posts:
                yield _page(posts)
            new_cursor = _str(body.get("cursor"))
            if not posts or not new_cursor or new_cursor == cursor:
                break
            cursor = new_cursor


# -- users -------------------------------------------------------------------------------------


def fetch_user(http, ref: UserRef, posts: int | None = None, comments: int | None = None,
               since: str | None = None, endpoint: str | None = None) -> Iterator[Page]:
    """The profile, then the user's posts and replies (``getAuthorFeed``), newest first.

    A reply comes with its thread's root (a stub post unless it is the user's) and its parent."""
    api = root(endpoint, PUBLIC)
    actor = ref.slug or ref.user_id or ""
    profile = xrpc(http, api, "app.bsky.actor.getProfile", {"actor": actor},
                   f"Bluesky user {actor!r}")
    user = profile_record(profile)
    if user is None:
        raise FetchError(f"Bluesky user {actor!r}: unexpected answer (no DID in the profile)")
    yield Page(sites=[site_record()], users=[user])
    left = {"posts": posts, "comments": comments}
    cursor = None
    for _ in range(MAX_PAGES):
        if all(v == 0 for v in left.values()):
            return
        params = {"actor": user.source_id, "limit": PAGE, "filter": "posts_with_replies"}
        if cursor:
            params["cursor"] = cursor
        body = xrpc(http, api, "app.bsky.feed.getAuthorFeed", params, f"Bluesky user {actor!r}")
        feed = [f for f in body.get("feed") or [] if isinstance(f, dict)]
        page, older = _feed_page(feed, user.id, left, since)
        if len(page):
            yield page
        new_cursor = _str(body.get("cursor"))
        if older or not feed or not new_cursor or new_cursor == cursor:
            return
        cursor = new_cursor


def profile_record(data: dict) -> User | None:
    user = user_record(data)
    if user is None:
        return None
    bio = _str(data.get("description"))
    user.bio_html = render_text(bio, None) if bio else None
    user.post_count = _int(data.get("postsCount"))
    user.created_at = iso_utc(_str(data.get("createdAt")))
    user.stub = False
    return user


def _feed_page(feed: list[dict], user_id: str, left: dict, since: str | None
               ) -> tuple[Page, bool]:
    """The user's own items of one feed page within the limits (a repost, ``reason``
    ``#reasonRepost``, is someone else's post and is left out); and whether ``since`` was passed
    (the feed is newest first, so nothing after it is wanted)."""
    views, context, older = [], [], False
    for entry in feed:
        post = _dict(entry.get("post"))
        own = item_record(post.get("uri"), _dict(post.get("author")),
                          _dict(post.get("record")), None, post)
        if own is None or own.user_id != user_id:
            continue
        if since and (own.posted_at or "") < since:
            older = True
            break
        kind = "posts" if isinstance(own, Post) else "comments"
        if left[kind] is not None:
            if left[kind] <= 0:
                continue
            left[kind] -= 1
        views.append(post)
        reply = _dict(entry.get("reply"))
        context += [_dict(reply.get(k)) for k in ("root", "parent")
                    if _dict(reply.get(k)).get("$type") in (None, "app.bsky.feed.defs#postView")
                    and _dict(reply.get(k)).get("uri")]
    page = _page(context + views)
    for item in page.posts:
        # The root of a thread the user replied in: archived as a stub until `archiver thread`.
        item.stub = item.user_id != user_id
    return page, older


SOURCE = ForumSource(
    name=NAME, title="Bluesky",
    # Its URLs are unambiguous; asked after the forums archiver started with (their --site
    # choices and bare-name defaults stay first), before the catch-all.
    priority=50,
    sites=(SiteSpec(SITE_ID, "Bluesky", aliases=SITE_NAMES[1:]),),
    thread_examples=("https://bsky.app/profile/alice.bsky.social/post/3kxyzabc2def2",
                     "https://bsky.app/profile/did:plc:abcdefghijklmnopqrstuvwx/post/3kxyzabc2def2",
                     "at://did:plc:abcdefghijklmnopqrstuvwx/app.bsky.feed.post/3kxyzabc2def2"),
    user_examples=("https://bsky.app/profile/alice.bsky.social",),
    parse_thread_url=parse_thread_url, fetch_thread=fetch_thread,
    site_record=lambda ref: site_record(),
    parse_user_url=parse_user_url, fetch_user=fetch_user,
    description="The public AppView's XRPC API (getPostThread, getQuotes, getAuthorFeed).",
)
