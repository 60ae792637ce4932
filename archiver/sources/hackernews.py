"""Hacker News: a story and its whole comment tree, and users with their submissions.

The Algolia HN API (``https://hn.algolia.com/api/v1``) returns a story's entire tree in one
request (``/items/{id}``, nested ``children``). When it fails (it lags a few minutes behind new
items, and has outages) the official Firebase API (``https://hacker-news.firebaseio.com/v0``,
``/item/{id}.json`` with ``kids``) is walked item by item instead: same records, many requests.
``--endpoint`` names the Algolia root, or a Firebase root (ending in ``/v0``) to use only that.
With an Algolia ``--endpoint``, the fallback goes only to a Firebase root the user configured
(``firebase``: ``--fallback`` or ``hackernews_fallback`` under ``[endpoints]``), never to the
public one; without any endpoint the public Firebase API is the fallback.

HN bodies are HTML whose paragraphs are separated by ``<p>``; a quote is a paragraph starting with
">" (escaped as ``&gt;``). Those paragraphs become real ``<blockquote>`` elements so quotes survive
in HTML, Markdown and plain text; the original HN HTML is kept in ``extra["text_original"]``.

Ids: ``hackernews:<item id>`` for stories and comments, ``hackernews:<username>`` for users.
A dead item (killed by flags or moderators) is kept with ``extra["dead"] = true``; a deleted one
arrives without author or text and is flagged ``deleted`` (any text archived before is kept).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import cast
from urllib.parse import parse_qs, urlsplit

from archiver.kernel.coerce import as_bool, as_id, as_int, as_str, as_time, dicts, each
from archiver.kernel.errors import FetchError, NotFound, UsageError
from archiver.kernel.records import Comment, Page, Post, Site, User, make_id
from archiver.sources.contract import ForumSource, SiteSpec, ThreadRef, ThreadSignature, UserRef
from archiver.sources.paging import paged
from archiver.sources.webapi import fallback_root, get_json, root

NAME = "hackernews"
SITE_ID = "hackernews"
BASE = "https://news.ycombinator.com"
ALGOLIA = "https://hn.algolia.com/api/v1"
FIREBASE = "https://hacker-news.firebaseio.com/v0"
HOSTS = {"news.ycombinator.com", "ycombinator.com", "www.ycombinator.com"}
STORY_TYPES = {"story", "job", "poll"}
PAGE_SIZE = 500  # comments per stored page
HITS = 1000  # Algolia's maximum hitsPerPage

log = logging.getLogger("archiver.hackernews")


def site_record() -> Site:
    return Site(id=SITE_ID, name="Hacker News", url=BASE, kind=NAME, api_url=ALGOLIA)


# -- URLs --------------------------------------------------------------------------------------


def parse_thread_url(url: str) -> ThreadRef | None:
    """``https://news.ycombinator.com/item?id=N`` (a story or any comment in it) or ``hackernews:N``."""
    bare = re.fullmatch(r"(?:hackernews|hn):(\d+)", url.strip())
    if bare:
        return _ref(bare.group(1))
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or parts.netloc.lower() not in HOSTS:
        return None
    item = parse_qs(parts.query).get("id", [""])[0]
    if parts.path.rstrip("/") != "/item" or not item.isdigit():
        raise UsageError(f"{url}: a Hacker News URL, but not an item; expected "
                         "https://news.ycombinator.com/item?id=<number>")
    return _ref(item)


def _ref(item_id: str) -> ThreadRef:
    return ThreadRef(SITE_ID, item_id, f"{BASE}/item?id={item_id}")


def parse_user_url(url: str, site: str | None = None) -> UserRef | None:
    parts = urlsplit(url.strip())
    if site == SITE_ID and re.fullmatch(r"[A-Za-z0-9_-]+", url.strip()):  # a bare name
        return UserRef(SITE_ID, slug=url.strip(), user_id=url.strip(),
                       url=f"{BASE}/user?id={url.strip()}")
    if parts.scheme not in ("http", "https") or parts.netloc.lower() not in HOSTS:
        return None
    name = parse_qs(parts.query).get("id", [""])[0]
    if parts.path.rstrip("/") not in ("/user", "/submitted", "/threads") or not name:
        raise UsageError(f"{url}: a Hacker News URL, but not a user; expected "
                         "https://news.ycombinator.com/user?id=<name>")
    return UserRef(SITE_ID, slug=name, user_id=name, url=f"{BASE}/user?id={name}")


# -- bodies ------------------------------------------------------------------------------------

_PRE = re.compile(r"<pre>.*?</pre>", re.S | re.I)
_QUOTE_START = re.compile(r"^(<i>)?\s*(?:&gt;|>)\s?")


def quotes_to_blockquotes(text: str | None) -> tuple[str | None, bool]:
    """HN HTML with "> " paragraphs as ``<blockquote>``; returns (html, whether anything changed).

    HN separates paragraphs with a bare ``<p>`` and never closes them; code blocks are
    ``<pre><code>`` and are left alone. Consecutive quoted paragraphs form one blockquote. A quote
    written in italics (``<i>&gt; text</i>``) keeps its italics inside the blockquote.
    """
    if not text:
        return text, False
    blocks: list[str] = []

    def hold(match: re.Match) -> str:
        blocks.append(match.group(0))
        return f"\x00{len(blocks) - 1}\x00"

    work = _PRE.sub(hold, text)
    out: list[str] = []
    quoted: list[str] = []
    changed = False
    for para in (p.strip() for p in re.split(r"</?p>", work, flags=re.I)):
        if not para:
            continue
        match = _QUOTE_START.match(para)
        if match and para[match.end():].strip():
            quoted.append((match.group(1) or "") + para[match.end():])
            changed = True
            continue
        _flush(quoted, out)
        out.append(para if para.startswith("\x00") else f"<p>{para}</p>")
    _flush(quoted, out)
    html = "".join(out)
    html = re.sub(r"\x00(\d+)\x00", lambda m: blocks[int(m.group(1))], html)
    return html, changed


def _flush(quoted: list[str], out: list[str]) -> None:
    if quoted:
        out.append("<blockquote>" + "".join(f"<p>{q}</p>" for q in quoted) + "</blockquote>")
        quoted.clear()


def _body(text: str | None) -> tuple[str | None, dict]:
    html, changed = quotes_to_blockquotes(text)
    return html, ({"text_original": text} if changed else {})


# -- records -----------------------------------------------------------------------------------


def user_stub(name) -> User | None:
    name = as_str(name, "Hacker News author")
    if not name:
        return None
    return User(id=make_id(SITE_ID, name), site_id=SITE_ID, source_id=name, slug=name, name=name,
                url=f"{BASE}/user?id={name}")


def story_record(item: dict, comment_count: int | None) -> Post:
    """A story/job/poll from either API (Algolia ``author/points/created_at_i`` or Firebase
    ``by/score/time``)."""
    item_id = as_id(item.get("id"), "Hacker News story id")
    author = _author(item)
    html, extra = _body(as_str(item.get("text"), "Hacker News text"))
    link = as_str(item.get("url"), "Hacker News url")
    extra.update({k: v for k, v in (("link_url", link), ("type", item.get("type")),
                                    ("dead", item.get("dead"))) if v})
    return Post(
        id=make_id(SITE_ID, item_id), site_id=SITE_ID, source_id=item_id,
        url=f"{BASE}/item?id={item_id}", title=item.get("title"),
        user_id=make_id(SITE_ID, author) if author else None, author=author,
        posted_at=_when(item), score=_score(item), comment_count=comment_count,
        kind="link" if link else "post", body_html=html, extra=extra or None,
    )


def comment_record(item: dict, story_id: int | str, parent_id: int | str | None) -> Comment:
    item_id = as_id(item.get("id"), "Hacker News comment id")
    author = _author(item)
    text = as_str(item.get("text"), "Hacker News text")
    deleted = as_bool(item.get("deleted")) or (not author and not text)
    html, extra = _body(None if deleted else text)
    if as_bool(item.get("dead")):
        extra["dead"] = True
    parent = as_str(parent_id)
    parent = parent if parent and parent != str(story_id) else None
    return Comment(
        id=make_id(SITE_ID, item_id), site_id=SITE_ID, source_id=item_id,
        post_id=make_id(SITE_ID, story_id), parent_id=make_id(SITE_ID, parent) if parent else None,
        user_id=make_id(SITE_ID, author) if author else None, author=author,
        url=f"{BASE}/item?id={item_id}", posted_at=_when(item), score=_score(item),
        deleted=deleted, body_html=html, extra=extra or None,
    )


def _author(item: dict) -> str | None:
    return as_str(item.get("author") or item.get("by"), "Hacker News author")


def _when(item: dict) -> str | None:
    for key in ("created_at_i", "time", "created_at"):
        if item.get(key) is not None:
            return as_time(item[key], f"Hacker News {key}")
    return None


def _score(item: dict) -> int | None:
    return as_int(item.get("points", item.get("score")), "Hacker News score")


def _users(items) -> list[User]:
    found = {}
    for item in items:
        user = user_stub(_author(item))
        if user:
            found[user.id] = user
    return list(found.values())


# -- threads -----------------------------------------------------------------------------------


def fetch_thread(http, ref: ThreadRef, endpoint: str | None = None,
                 fallback: str | None = None) -> Iterator[Page]:
    """The story and every comment. A comment URL archives the whole story it belongs to."""
    if endpoint and endpoint.rstrip("/").endswith("/v0"):
        yield from _firebase_thread(http, ref, root(endpoint, FIREBASE))
        return
    algolia = root(endpoint, ALGOLIA)
    try:
        tree = _algolia_story(http, algolia, ref.thread_id)
    except (FetchError, NotFound) as exc:  # Algolia lags minutes behind new items: 404 too
        target = _firebase_fallback(endpoint, fallback, exc)
        log.warning("Algolia HN API failed (%s); walking the Firebase API at %s instead", exc,
                    target)
        yield from _firebase_thread(http, ref, target)
        return
    _repoint(ref, tree["id"])
    yield from _pages_from_tree(tree)


def _firebase_fallback(endpoint: str | None, firebase: str | None, failure: Exception) -> str:
    return fallback_root(endpoint, firebase, FIREBASE, "the Firebase fallback",
                         "hackernews_fallback", failure)


def _repoint(ref: ThreadRef, story_id) -> None:
    """A comment URL names a comment: point the ref at its story (the thread archived)."""
    if str(story_id) != ref.thread_id:
        ref.extra["comment"] = ref.thread_id
        ref.thread_id = str(story_id)
        ref.url = f"{BASE}/item?id={story_id}"


def _algolia_story(http, algolia: str, item_id: str) -> dict:
    tree = get_json(http, f"{algolia}/items/{item_id}", what=f"Hacker News item {item_id}")
    if not isinstance(tree, dict) or "id" not in tree:
        raise FetchError(f"{algolia}/items/{item_id}: unexpected answer (no item)")
    story_id = tree.get("story_id")
    if tree.get("type") not in STORY_TYPES and story_id and str(story_id) != str(tree["id"]):
        tree = get_json(http, f"{algolia}/items/{story_id}", what=f"Hacker News story {story_id}")
    return tree


def _flatten(children: object, parent_id) -> list[tuple[dict, int | None]]:
    """(item, parent id) of a tree's descendants, depth-first."""
    flat: list[tuple[dict, int | None]] = []
    stack = [(child, parent_id) for child in reversed(dicts(children, "children"))]
    while stack:  # depth-first, iteratively: threads can nest hundreds deep
        item, parent = stack.pop()
        if not isinstance(item, dict) or "id" not in item or item.get("type") == "pollopt":
            continue
        flat.append((item, parent))
        stack.extend((child, item.get("id"))
                     for child in reversed(dicts(item.get("children"), "children")))
    return flat


def _pages_from_tree(tree: dict, complete: bool = True) -> Iterator[Page]:
    """The story and its comments; ``complete`` (a fetch, not a saved file) lets the store flag
    comments that are no longer in the tree."""
    post = story_record(tree, comment_count=None)
    story_id = post.source_id
    flat = _flatten(tree.get("children"), story_id)
    post.comment_count = sum(1 for item, _ in flat if item.get("text"))
    yield Page(sites=[site_record()], users=_users([tree]), posts=[post])
    seen: list[str] = []
    for start in range(0, len(flat), PAGE_SIZE):
        batch = flat[start:start + PAGE_SIZE]
        comments = each(lambda pair: comment_record(pair[0], story_id, pair[1]), batch,
                        "Hacker News comment")
        seen.extend(c.id for c in comments)
        yield Page(users=_users(item for item, _ in batch), comments=comments)
    if complete:
        yield Page(complete_post_ids=[post.id], seen_comment_ids=seen)


def _firebase_item(http, firebase: str, item_id) -> dict | None:
    return get_json(http, f"{firebase}/item/{item_id}.json", what=f"Hacker News item {item_id}")


def _firebase_thread(http, ref: ThreadRef, firebase: str) -> Iterator[Page]:
    item = _firebase_item(http, firebase, ref.thread_id)
    if not item:
        raise NotFound(f"no Hacker News item {ref.thread_id} ({ref.url})")
    hops = 0
    while item.get("type") not in STORY_TYPES and item.get("parent") and hops < 10_000:
        item = _firebase_item(http, firebase, item["parent"]) or {}
        hops += 1
    if "id" not in item:
        raise NotFound(f"the story of Hacker News item {ref.thread_id} is gone ({ref.url})")
    story = item
    _repoint(ref, story["id"])
    post = story_record(story, comment_count=story.get("descendants"))
    yield Page(sites=[site_record()], users=_users([story]), posts=[post])
    seen: list[str] = []
    batch: list[Comment] = []
    batch_items: list[dict] = []
    queue = [(kid, story["id"]) for kid in story.get("kids") or []]
    while queue:
        kid, parent = queue.pop(0)
        child = _firebase_item(http, firebase, kid)
        if not child or child.get("type") == "pollopt":
            continue
        comment = comment_record(child, story["id"], parent)
        batch.append(comment)
        batch_items.append(child)
        seen.append(comment.id)
        queue.extend((k, child["id"]) for k in child.get("kids") or [])
        if len(batch) >= 100:
            yield Page(users=_users(batch_items), comments=batch)
            batch, batch_items = [], []
    if batch:
        yield Page(users=_users(batch_items), comments=batch)
    yield Page(complete_post_ids=[post.id], seen_comment_ids=seen)


# -- users -------------------------------------------------------------------------------------


def fetch_user(http, ref: UserRef, posts: int | None = None, comments: int | None = None,
               since: str | None = None, endpoint: str | None = None,
               fallback: str | None = None) -> Iterator[Page]:
    """The profile, then the user's stories and comments (newest first) from Algolia search.

    Each comment links to its story, archived as a stub (title and URL) until archived itself.
    """
    algolia = root(endpoint, ALGOLIA)
    profile = _profile(http, algolia, endpoint, fallback,
                       cast(str, ref.slug))  # parse_user_url always sets it
    yield Page(sites=[site_record()], users=[profile])
    since_i = _epoch(since)
    if posts != 0:
        for hits in _search(http, algolia, f"story,author_{ref.slug}", posts, since_i):
            stories = [story_record(_story_hit(h), h.get("num_comments")) for h in hits]
            yield Page(users=_users(_story_hit(h) for h in hits), posts=stories)
    if comments != 0:
        for hits in _search(http, algolia, f"comment,author_{ref.slug}", comments, since_i):
            yield _comment_hits_page(hits)


def _profile(http, algolia: str, endpoint: str | None, firebase: str | None, name: str) -> User:
    try:
        data = get_json(http, f"{algolia}/users/{name}", what=f"Hacker News user {name!r}")
        created = data.get("created_at_i") or data.get("created_at")
        about, karma = data.get("about"), data.get("karma")
        name = data.get("username") or name
        counts = (data.get("submission_count"), data.get("comment_count"))
    except (FetchError, NotFound) as exc:
        firebase = _firebase_fallback(endpoint, firebase, exc)
        log.warning("Algolia HN user lookup failed (%s); using the Firebase API at %s", exc,
                    firebase)
        data = get_json(http, f"{firebase}/user/{name}.json", what=f"Hacker News user {name!r}")
        if not data:
            raise NotFound(f"no Hacker News user {name!r}; user names are case-sensitive") from exc
        created, about, karma, counts = data.get("created"), data.get("about"), \
            data.get("karma"), (None, None)
    return User(id=make_id(SITE_ID, name), site_id=SITE_ID, source_id=name, slug=name, name=name,
                url=f"{BASE}/user?id={name}", bio_html=about, karma=karma,
                post_count=counts[0], comment_count=counts[1], created_at=as_time(created),
                stub=False)


def _epoch(since: str | None) -> int | None:
    if not since:
        return None
    from datetime import datetime

    return int(datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp())


def _search(http, algolia: str, tags: str, limit: int | None, since_i: int | None):
    """Pages of hits, newest first. Algolia serves at most 1,000 hits per query, so page by date
    (``created_at_i<=T``, deduplicated) rather than by page number."""
    def page(before: int | None, remaining: int | None):
        filters = [f"created_at_i<={before}"] if before is not None else []
        if since_i is not None:
            filters.append(f"created_at_i>={since_i}")
        params = {"tags": tags, "hitsPerPage": HITS}
        if filters:
            params["numericFilters"] = ",".join(filters)
        body = get_json(http, f"{algolia}/search_by_date", params=params, what="Hacker News search")
        hits = body.get("hits") or []
        stamps = [h["created_at_i"] for h in hits if isinstance(h.get("created_at_i"), int)]
        if not stamps or len(hits) < (body.get("hitsPerPage") or HITS):
            return hits, None
        return hits, min(stamps)

    return paged(page, lambda hit: hit.get("objectID"), limit)


def _story_hit(hit: dict) -> dict:
    """A search hit in the shape of an items-API story."""
    return {"id": int(hit["objectID"]), "type": "story", "author": hit.get("author"),
            "title": hit.get("title"), "url": hit.get("url"), "text": hit.get("story_text"),
            "points": hit.get("points"), "created_at_i": hit.get("created_at_i"),
            "created_at": hit.get("created_at")}


def _comment_hits_page(hits: list[dict]) -> Page:
    comments, stubs, items = [], {}, []
    for hit in hits:
        story_id = hit.get("story_id")
        if not story_id:
            continue
        item = {"id": int(hit["objectID"]), "author": hit.get("author"),
                "text": hit.get("comment_text"), "points": hit.get("points"),
                "created_at_i": hit.get("created_at_i"), "created_at": hit.get("created_at")}
        items.append(item)
        comments.append(comment_record(item, story_id, hit.get("parent_id")))
        stub = Post(id=make_id(SITE_ID, story_id), site_id=SITE_ID, source_id=str(story_id),
                    url=f"{BASE}/item?id={story_id}", title=hit.get("story_title"), stub=True,
                    extra={"link_url": hit["story_url"]} if hit.get("story_url") else None)
        stubs[stub.id] = stub
    return Page(users=_users(items), posts=list(stubs.values()), comments=comments)


# -- saved pages -------------------------------------------------------------------------------


def parse_saved_html(text: str, url: str | None = None) -> list[Page] | None:
    """A Hacker News item page saved from a browser, else None.

    Story: ``tr.athing.submission`` (``span.titleline > a``, ``span.score``, ``a.hnuser``,
    ``span.age[title="<ISO> <epoch>"]``, ``div.toptext``); comments: ``tr.athing.comtr`` with
    ``td.ind[indent=N]`` giving the nesting and ``div.commtext`` the body. A saved page may be
    one page of a long thread, so nothing is flagged as vanished.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "lxml")
    head = soup.select_one("tr.athing.submission, table.fatitem tr.athing")
    rows = soup.select("tr.athing.comtr")
    if head is None and not rows:
        return None
    story = _saved_story(soup, head) \
        if head is not None and "comtr" not in head.get_attribute_list("class") else None
    if story is None:
        return None  # a comment permalink page: its story id is not on the page reliably
    post = story_record(story, _saved_int(soup.select_one("a[href^='item?id=']:-soup-contains("
                                                             "'comment')")))
    items: list[dict] = []
    comments: list[Comment] = []
    stack: list[tuple[int, int]] = []  # (indent, comment id)
    for row in rows:
        indent_node = row.select_one("td.ind")
        indent = (as_int(indent_node.get("indent"), "comment indent") or 0) if indent_node else 0
        while stack and stack[-1][0] >= indent:
            stack.pop()
        item = _saved_comment(row)
        parent = stack[-1][1] if stack else story["id"]
        stack.append((indent, item["id"]))
        items.append(item)
        comments.append(comment_record(item, story["id"], parent))
    return [Page(sites=[site_record()], users=_users([story] + items), posts=[post],
                 comments=comments)]


def _saved_story(soup, head) -> dict:
    sub = soup.select_one("td.subtext, .subline")
    title = head.select_one("span.titleline > a, a.storylink")
    link = title.get("href") if title else None
    toptext = soup.select_one("div.toptext")
    return {"id": int(head["id"]), "type": "story",
            "title": " ".join(title.get_text(" ").split()) if title else None,
            "url": link if link and link.startswith("http") else None,
            "author": _saved_text(sub.select_one("a.hnuser")) if sub else None,
            "points": _saved_int(sub.select_one("span.score")) if sub else None,
            "created_at_i": _saved_age(sub.select_one("span.age")) if sub else None,
            "text": toptext.decode_contents().strip() if toptext else None}


def _saved_comment(row) -> dict:
    body = row.select_one("div.commtext, span.commtext")
    if body is not None:
        for reply in body.select(".reply"):
            reply.decompose()
    text = body.decode_contents().strip() if body is not None else None
    return {"id": int(row["id"]), "author": _saved_text(row.select_one("a.hnuser")),
            "created_at_i": _saved_age(row.select_one("span.age")),
            "text": None if text in (None, "", "[deleted]", "[flagged]") else text,
            "dead": "[dead]" in row.get_text(" ") or None}


def _saved_text(node) -> str | None:
    return node.get_text(strip=True) if node is not None else None


def _saved_int(node) -> int | None:
    match = re.search(r"\d+", node.get_text(" ")) if node is not None else None
    return int(match.group(0)) if match else None


def _saved_age(node) -> int | str | None:
    """``title="2024-05-01T12:00:00 1714564800"`` (older pages: the ISO part only, UTC)."""
    title = (node.get("title") or "").split() if node is not None else []
    if len(title) > 1 and title[1].isdigit():
        return int(title[1])
    return title[0] + "Z" if title else None


def sniff_saved(text: str, url: str | None = None) -> bool:
    """A saved item page (its host, or HN's ``tr.athing`` rows) or a saved API item: an Algolia
    ``items/<id>`` answer (numeric ``id``, ``children``, and ``story_id`` or ``created_at_i``)
    or a Firebase item (numeric ``id``, ``type``, and ``by`` or ``kids``). archiver's own JSONL
    lines have string ids (``hackernews:1``), so they are never taken for either."""
    head = text.lstrip()[:1]
    if head not in ("{", "["):
        host = (urlsplit(url).hostname or "").lower() if url else ""
        return host in HOSTS or 'class="athing' in text
    return _api_item(text) is not None


def _api_item(text: str) -> dict | None:
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if not isinstance(obj, dict) or type(obj.get("id")) is not int:
        return None
    algolia = isinstance(obj.get("children"), list) and ("story_id" in obj or "created_at_i" in obj)
    firebase = obj.get("type") in STORY_TYPES | {"comment"} and ("by" in obj or "kids" in obj)
    return obj if algolia or firebase else None


def parse_saved(text: str, url: str | None = None) -> list[Page] | None:
    """A saved item page (see ``parse_saved_html``) or API answer (an Algolia tree, a Firebase
    item). A saved file is a snapshot: no page sets ``complete_post_ids``, so comments that are
    not in it are never flagged as vanished."""
    if not sniff_saved(text, url):
        return None
    if text.lstrip()[:1] not in ("{", "["):
        pages = parse_saved_html(text, url)
        if pages is None:
            raise UsageError("a Hacker News page without a story (save the item?id= page of a "
                             "story)")
        return pages
    obj = _api_item(text)
    if obj is None:  # sniff_saved found an item; this narrows the type
        return None
    if "children" in obj:
        if obj.get("type") == "comment":
            return [_algolia_comment(obj)]
        return list(_pages_from_tree(obj, complete=False))
    if obj.get("type") == "comment":
        raise UsageError(f"a Firebase comment item ({obj['id']}) does not name its story; save "
                         "the story's item (or the Algolia items/<id> answer) instead")
    post = story_record(obj, obj.get("descendants"))
    return [Page(sites=[site_record()], users=_users([obj]), posts=[post])]


def _algolia_comment(item: dict) -> Page:
    """An Algolia ``items/<comment id>`` answer: the comment and its replies, under a stub of
    their story (``story_id``), never the comment stored as a post."""
    story_id = item.get("story_id")
    if type(story_id) is not int:
        raise UsageError(f"a Hacker News comment item ({item['id']}) without its story_id")
    flat = [(item, item.get("parent_id"))] + _flatten(item.get("children"), item["id"])
    stub = Post(id=make_id(SITE_ID, story_id), site_id=SITE_ID, source_id=str(story_id),
                url=f"{BASE}/item?id={story_id}", stub=True)
    return Page(sites=[site_record()], users=_users(i for i, _ in flat), posts=[stub],
                comments=[comment_record(i, story_id, parent) for i, parent in flat])


# -- the light change check ----------------------------------------------------------------------

CHECK_BATCH = 100  # stories per Algolia search (an OR-group of story_<id> tags)


def check_threads(http, refs: list[ThreadRef],
                  endpoint: str | None = None) -> dict[str, ThreadSignature]:
    """Each story's comment count: one Algolia search per CHECK_BATCH stories
    (``tags=story,(story_1,story_2)``, hits carry ``num_comments``); with a Firebase endpoint, the
    item's ``descendants``, one request per story. A comment URL's ref is not a story: it is
    left out, so that thread is fetched as if changed."""
    if endpoint and endpoint.rstrip("/").endswith("/v0"):
        return _firebase_signatures(http, root(endpoint, FIREBASE), refs)
    algolia = root(endpoint, ALGOLIA)
    out: dict[str, ThreadSignature] = {}
    for start in range(0, len(refs), CHECK_BATCH):
        batch = refs[start:start + CHECK_BATCH]
        group = ",".join(f"story_{ref.thread_id}" for ref in batch)
        body = get_json(http, f"{algolia}/search",
                        params={"tags": f"story,({group})", "hitsPerPage": len(batch)},
                        what="Hacker News change check")
        hits = body.get("hits") if isinstance(body, dict) else None
        for hit in hits if isinstance(hits, list) else []:
            if isinstance(hit, dict) and isinstance(hit.get("objectID"), str):
                out[hit["objectID"]] = ThreadSignature(_count(hit.get("num_comments")), None,
                                                       _text(hit.get("updated_at")))
    return out


def _firebase_signatures(http, firebase: str, refs: list[ThreadRef]) -> dict[str, ThreadSignature]:
    out = {}
    for ref in refs:
        item = _firebase_item(http, firebase, ref.thread_id)
        if isinstance(item, dict) and item.get("type") in STORY_TYPES:
            out[ref.thread_id] = ThreadSignature(_count(item.get("descendants")))
    return out


def _count(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value) -> str | None:
    return value[:64] if isinstance(value, str) else None


SOURCE = ForumSource(
    name=NAME, title="Hacker News",
    sites=(SiteSpec(SITE_ID, "Hacker News"),),
    thread_examples=("https://news.ycombinator.com/item?id=40000001", "hackernews:40000001",
                     "hn:8863"),
    user_examples=("https://news.ycombinator.com/user?id=pg",),
    parse_thread_url=parse_thread_url, fetch_thread=fetch_thread,
    site_record=lambda ref: site_record(),
    parse_user_url=parse_user_url, fetch_user=fetch_user, check_threads=check_threads,
    sniff_saved=sniff_saved, parse_saved=parse_saved,
    own_fallback="the official Firebase API",
    description="Algolia HN API, the official Firebase API when Algolia fails.",
)
