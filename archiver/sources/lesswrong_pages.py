"""LessWrong post pages saved from a browser: today's site (ForumMagnum, "LessWrong 2.0", also the
Alignment Forum and the EA Forum) and the legacy LessWrong 1.0 (2009-2017, a fork of Reddit's
code, still common in old saves and Wayback Machine captures).

These are parsers for ``forummagnum``'s saved-file capability, not a source of their own: both kinds
of page hold rows of the sites the ForumMagnum source owns (``lesswrong``, ``eaforum``), and LessWrong
1.0 has no live API to fetch from, so a second ``ForumSource`` would have no ``fetch_thread``.

ForumMagnum page (React, class names ``<Component>-<rule>``): title ``h1.PostsPageTitle-root``,
author ``.PostsAuthors-authorName a[href^=/users/]``, date ``time[datetime]`` in the post header,
body ``#postContent`` / ``.PostsPage-postContent``, tags ``.FooterTag-name``; each comment a
``div.CommentsNode-root`` whose ``id`` is the comment's ``_id`` (the ``#<commentId>`` anchor),
replies nested inside it, author ``.CommentUserName-author``, body ``.CommentBody-root``, score
``.OverallVoteAxis-voteScore``. The post id comes from the page's canonical URL (or ``--url``).
Users have no ``_id`` on the page, so they are filed by slug (``lesswrong:slug:<slug>``), as
GreaterWrong pages without ``data-userid`` are.

LessWrong 1.0 page: the post ``div.post`` (``h2`` title, ``a.author``, ``.md`` body, ``span.votes``),
comments ``div.comment`` with the id in ``id="comment-<id>"`` or the class ``id-t1_<id>``, author
``a.author``, body ``.md``, score ``span.votes`` / ``.score``, replies in a nested ``div.child``.
Ids are the legacy base-36 ids, prefixed ``lw1-`` so they never meet ForumMagnum's 17-character
ids: post ``lesswrong:lw1-<id>``, comment ``lesswrong:lw1-<id>``.

A saved page is a snapshot (and often shows only part of a long thread): nothing here sets
``complete_post_ids``, so comments absent from the page are never flagged missing.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

LW2_MARKS = ("PostsPageTitle-root", "PostsPage-postContent", "CommentsNode-root")
LW1_POST_URL = re.compile(r"^/lw/([a-z0-9]+)(?:/[^/]*)?/?$")


def is_forummagnum_page(text: str) -> bool:
    return text.lstrip()[:1] not in ("{", "[") and any(mark in text for mark in LW2_MARKS)


def is_lesswrong1_page(text: str) -> bool:
    """LessWrong 1.0 markup: a ``div.post`` with Reddit-style ``t3_`` / ``t1_`` thing ids, on a
    lesswrong.com ``/lw/<id>/`` page."""
    if text.lstrip()[:1] in ("{", "["):
        return False
    if "body-text post-body" in text:  # GreaterWrong's markup (it also has li#comment-<id>)
        return False
    return bool(re.search(r"<div[^>]+class=[\"'](?:[^\"']* )?post\b", text)
                and re.search(r"\bid-t[13]_[a-z0-9]+|\b(?:entry|thingrow)_t[13]_[a-z0-9]+"
                              r"|<link[^>]+lesswrong\.com/lw/[a-z0-9]+", text))


def _soup(text: str):
    from bs4 import BeautifulSoup

    return BeautifulSoup(text, "lxml")


def _canonical(soup, url: str | None) -> str | None:
    if url:
        return url
    link = soup.find("link", rel="canonical") or soup.find("meta", property="og:url")
    return (link.get("href") or link.get("content")) if link else None


def _text(node) -> str | None:
    return " ".join(node.get_text(" ").split()) or None if node is not None else None


def _int(node) -> int | None:
    match = re.search(r"-?\d+", node.get_text(" ")) if node is not None else None
    return int(match.group(0)) if match else None


def _user(link, name: str | None = None) -> dict | None:
    """A ForumMagnum-shaped user from a profile link (``/users/<slug>``; 1.0: ``/user/<name>/``)."""
    href = link.get("href") if link is not None else None
    match = re.search(r"/users?/([A-Za-z0-9_.-]+)", href or "")
    name = name or (_text(link) if link is not None else None)
    if not match:  # a name without a profile link: the author's name, but no user row
        return {"displayName": name} if name else None
    slug = match.group(1)
    return {"_id": f"slug:{slug}", "slug": slug, "displayName": name or slug}


def _has(*names: str):
    """A test: the element has one of these classes."""
    return lambda node: any(name in (node.get("class") or []) for name in names)


def _own(node, test, nested) -> object | None:
    """The first element under ``node`` passing ``test``, not looking inside elements that hold
    nested comments (``nested``): each comment's own fields, in time linear in its own markup
    (a thread nested thousands deep must not take quadratic time)."""
    stack = _elements(node)[::-1]
    while stack:  # depth-first, in document order
        found = stack.pop()
        if nested(found):
            continue
        if test(found):
            return found
        stack.extend(_elements(found)[::-1])
    return None


def _elements(node) -> list:
    return [c for c in node.children if getattr(c, "attrs", None) is not None]


def _comments_with_parents(soup, is_comment) -> list[tuple]:
    """(comment element, its parent comment element or None), in document order, in one walk."""
    found, stack = [], [(soup, None, False)]
    while stack:
        node, parent, comment = stack.pop()
        if comment:
            found.append((node, parent))
            parent = node
        stack.extend((child, parent, is_comment(child)) for child in reversed(_elements(node)))
    return found


def _when(node) -> str | None:
    """An ISO ``time[datetime]``; anything else (hand-edited, hostile) is left out, not stored."""
    stamp = node.select_one("time[datetime]") if node is not None else None
    value = stamp["datetime"].strip() if stamp else ""
    return value if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?",
                                 value) else None


# -- ForumMagnum (LessWrong 2.0) -----------------------------------------------------------------


def forummagnum_page(text: str, url: str | None, post_id_of) -> tuple | None:
    """(page URL, post, comments) as ForumMagnum-shaped dicts, or None if the page has no post
    id (no canonical URL and no ``--url``). ``post_id_of(url)`` reads a post URL's id."""
    soup = _soup(text)
    page_url = _canonical(soup, url)
    post_id = post_id_of(page_url)
    if not post_id or page_url is None:  # no id without a URL; the check is for the checker
        return None
    title = soup.select_one("h1.PostsPageTitle-root, .PostsPageTitle-root")
    header = soup.select_one(".PostsPagePostHeader-root, .PostsPage-header") or soup
    author = soup.select_one(".PostsAuthors-authorName a[href*='/users/']")
    body = soup.select_one("#postContent, .PostsPage-postContent")
    post = {"_id": post_id, "title": _text(title), "pageUrl": page_url.split("#")[0].split("?")[0],
            "postedAt": _when(header.select_one(".PostsPageDate-date") or header),
            "user": _user(author),
            "htmlBody": body.decode_contents().strip() if body is not None else None,
            "baseScore": _int(soup.select_one(".PostsVoteDefault-voteScore, "
                                              ".LWPostsPageTopHeaderVote-voteScore")),
            "tags": _lw2_tags(soup)}
    found = _comments_with_parents(soup, _lw2_node)
    comments = [_lw2_comment(node, parent, post_id) for node, parent in found]
    return page_url, post, comments


def _lw2_tags(soup) -> list[dict]:
    """Tags by slug (their ids are not on the page), as GreaterWrong pages file them."""
    tags = {}
    for name in soup.select(".FooterTag-name"):
        link = name.find_parent("a")
        match = re.search(r"/(?:tag|topics)/([A-Za-z0-9_-]+)", link.get("href") or "") if link else None
        if match:
            tags[match.group(1)] = {"_id": f"tag-slug:{match.group(1)}", "slug": match.group(1),
                                    "name": _text(name)}
    return list(tags.values())


def _lw2_node(node) -> bool:
    """A comment's node: ``CommentsNode-root`` (``CommentFrame-node`` in newer builds,
    ``CommentsNode-node`` in older ones) whose id is the comment's ``_id``."""
    return (node.name == "div"
            and _has("CommentsNode-root", "CommentFrame-node", "CommentsNode-node")(node)
            and bool(re.fullmatch(r"[A-Za-z0-9]{8,24}", node.get("id") or "")))


def _lw2_comment(node, parent, post_id: str) -> dict:
    def own(*names: str):
        return _own(node, _has(*names), _lw2_node)

    author = own("CommentUserName-author")
    body = own("CommentBody-root")
    link = author if author is not None and author.name == "a" else (
        author.find("a") if author is not None else None)
    return {"_id": node["id"], "postId": post_id,
            "parentCommentId": parent["id"] if parent is not None else None,
            "user": _user(link, _text(author)) if author is not None else None,
            "postedAt": _when(own("CommentsItemDate-root")),
            "baseScore": _int(own("OverallVoteAxis-voteScore")),
            "htmlBody": body.decode_contents().strip() if body is not None else None,
            "deleted": body is None and author is None}


# -- LessWrong 1.0 -------------------------------------------------------------------------------


def lesswrong1_page(text: str, url: str | None) -> tuple | None:
    """(post, comments) as ForumMagnum-shaped dicts with ``lw1-`` ids, or None."""
    soup = _soup(text)
    page_url = _canonical(soup, url) or ""
    parts = urlsplit(page_url)
    match = LW1_POST_URL.match(parts.path) if "lesswrong.com" in parts.netloc else None
    node = soup.select_one("div.post")
    if node is None:
        return None
    legacy = match.group(1) if match else _thing_id(node, "t3")
    if not legacy:
        return None
    post_id = f"lw1-{legacy}"
    title = node.select_one("h1, h2") or soup.select_one("h1, h2")
    body = node.select_one(".md") or node.select_one(".content")
    author = node.select_one("a.author")
    post = {"_id": post_id, "title": _text(title),
            "pageUrl": f"https://www.lesswrong.com/lw/{legacy}/" if not match else
            f"https://www.lesswrong.com{parts.path}",
            "postedAt": _when(node), "user": _user(author) if author is not None else None,
            "htmlBody": body.decode_contents().strip() if body is not None else None,
            "baseScore": _int(node.select_one("span.votes, .score"))}
    found = _comments_with_parents(soup, _lw1_node)
    comments = [_lw1_comment(node, parent, post_id) for node, parent in found]
    return post, comments


def _thing_id(node, kind: str) -> str | None:
    """A Reddit-fork thing id: ``id="comment-<id>"``/``entry_t1_<id>`` or class ``id-t1_<id>``."""
    ident = node.get("id") or ""
    match = re.fullmatch(rf"(?:comment-|entry_{kind}_|thingrow_{kind}_|{kind}_)([a-z0-9]+)", ident)
    if match:
        return match.group(1)
    for cls in node.get("class") or []:
        match = re.fullmatch(rf"id-{kind}_([a-z0-9]+)", cls)
        if match:
            return match.group(1)
    return None


def _lw1_node(node) -> bool:
    return node.name == "div" and _has("comment")(node) and _thing_id(node, "t1") is not None


def _lw1_comment(node, parent, post_id: str) -> dict:
    def own(test):
        return _own(node, test, _lw1_node)

    legacy, parent_id = _thing_id(node, "t1"), _thing_id(parent, "t1") if parent else None
    author = own(lambda n: n.name == "a" and _has("author")(n))
    body = own(_has("md"))
    deleted = body is None or (author is None and _text(body) in (None, "[deleted]"))
    return {"_id": f"lw1-{legacy}", "postId": post_id,
            "parentCommentId": f"lw1-{parent_id}" if parent_id else None,
            "user": _user(author) if author is not None else None,
            "postedAt": _when(own(_has("comment-date", "comment-meta", "tagline"))),
            "baseScore": _int(own(lambda n: n.name == "span" and _has("votes", "score")(n))),
            "htmlBody": None if deleted else body.decode_contents().strip(),
            "deleted": deleted}
