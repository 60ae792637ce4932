"""GreaterWrong (www.greaterwrong.com, ea.greaterwrong.com): LessWrong and the EA Forum as
server-rendered HTML, used when the ForumMagnum API refuses us (``--via greaterwrong``, or
automatically after a 403/429 or a challenge page; see ``archiver.app.forums.archive_thread``).

It yields the same rows as the API path: post ``lesswrong:<postId>``, comments
``lesswrong:<commentId>`` with the same parents (from the nesting of ``li#comment-<id>``), users by
their ForumMagnum ``_id``, which GreaterWrong prints on every author link (``a.author
data-userid``), so a thread archived one way and refreshed the other way lines up. Only when a page
lacks ``data-userid`` (a hand-edited saved page) is a user filed as ``lesswrong:slug:<slug>``.

What the HTML cannot give, the rows leave empty or approximate: no Markdown (the store derives it
from the HTML), no edit time, tags keyed by slug (``lesswrong:tag-slug:<slug>``) because tag ids
are not shown, and bodies as GreaterWrong renders them (it inserts soft hyphens, which are removed
here, and typographic quotes, which are not). Deleted comments appear as bare "[deleted]"
placeholders without date or author: they count as seen (never flagged missing) and any archived
text is left as it was.

Markup (lw2-viewer): ``main.post`` (``question-post``, ``link-post``), ``h1.post-title``,
``.post-meta`` with ``a.author[data-userid]``, ``span.date[data-js-date]`` (epoch ms),
``.karma-value`` ("42 points" or "LW: 42 AF: 10", title "20 votes"), ``a.comment-count``,
``a.lw2-link`` (the canonical page URL), ``#tags a``, ``.body-text.post-body``; comments
``li#comment-<id>.comment-item > div.comment`` with ``.comment-meta`` (``a.author``, ``a.date``,
``a.permalink`` ending ``/answer/<id>`` for answers and their replies, ``span.alignment-forum``),
``.body-text.comment-body``, replies in a nested ``ul.comment-thread``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from archiver.kernel.errors import UsageError
from archiver.kernel.http import ChallengeError
from archiver.kernel.records import Comment, Page, Post, Tag, User, iso_utc, make_id
from archiver.sources import forummagnum
from archiver.sources.contract import ForumSource, ThreadRef
from archiver.sources.forummagnum import SITES, ForumSite
from archiver.sources.webapi import root

NAME = "greaterwrong"
ROOTS = {"lesswrong": "https://www.greaterwrong.com", "eaforum": "https://ea.greaterwrong.com"}
SITE_OF_HOST = {"www.greaterwrong.com": "lesswrong", "greaterwrong.com": "lesswrong",
                "ea.greaterwrong.com": "eaforum"}
PAGE_SIZE = 500
SOFT_HYPHEN = "\u00ad"
POST_ID = re.compile(r"/posts/([A-Za-z0-9]{8,24})")


def fetch_thread(http, ref: ThreadRef, endpoint: str | None = None) -> Iterator[Page]:
    """The post and every comment from its GreaterWrong page (one request)."""
    if ref.site not in ROOTS:
        raise UsageError(f"{ref.url}: GreaterWrong mirrors only LessWrong/the Alignment Forum and "
                         "the EA Forum")
    base = root(endpoint, ROOTS[ref.site])
    text = http.get_text(f"{base}/posts/{ref.thread_id}")
    post, comments, users, seen = parse_post_page(text, SITES[ref.site], ref.thread_id)
    yield Page(sites=[SITES[ref.site].record()], users=users, posts=[post])
    for start in range(0, len(comments), PAGE_SIZE):
        yield Page(comments=comments[start:start + PAGE_SIZE])
    yield Page(complete_post_ids=[post.id], seen_comment_ids=seen)


def parse_saved_html(text: str, url: str | None = None) -> list[Page] | None:
    """A GreaterWrong post page saved from a browser, else None. A saved page is a snapshot, so
    comments missing from it are not flagged as vanished."""
    doc = _document(text)
    if doc is None or _one(doc, "main", "post") is None or not _all(doc, "a", "author"):
        return None
    site = _site_of(url, doc)
    post, comments, users, _seen = _parse(doc, site, None)
    return [Page(sites=[site.record()], users=users, posts=[post], comments=comments)]


def sniff_saved(text: str, url: str | None = None) -> bool:
    """A GreaterWrong post page: lw2-viewer's ``main.post`` with a ``.body-text.post-body``."""
    if text.lstrip()[:1] in ("{", "["):
        return False
    return bool(re.search(r"<main[^>]+class=[\"'][^\"']*\bpost\b", text)
                and re.search(r"class=[\"']body-text post-body", text))


def parse_saved(text: str, url: str | None = None) -> list[Page] | None:
    if not sniff_saved(text, url):
        return None
    pages = parse_saved_html(text, url)
    if pages is None:
        raise UsageError("a GreaterWrong page without a post and its author (save the post page)")
    return pages


def _site_of(url: str | None, doc) -> ForumSite:
    host = urlsplit(url or "").netloc.lower()
    if host in SITE_OF_HOST:
        return SITES[SITE_OF_HOST[host]]
    link = _one(doc, "a", "lw2-link")
    if link is not None and "effectivealtruism" in (link.get("href") or ""):
        return SITES["eaforum"]
    return SITES["lesswrong"]


# -- parsing (lxml: a 5,000-comment page parses in well under a second) ------------------------


def _document(text: str):
    try:
        return lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError):
        return None


def _has_class(cls: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {cls} ')"


def _all(node, tag: str, cls: str | None = None, deep: bool = True) -> list:
    axis = ".//" if deep else "./"
    return node.xpath(f"{axis}{tag}[{_has_class(cls)}]" if cls else f"{axis}{tag}")


def _one(node, tag: str, cls: str | None = None, deep: bool = True):
    found = _all(node, tag, cls, deep)
    return found[0] if found else None


def _classes(node) -> list[str]:
    return (node.get("class") or "").split()


def _text(node) -> str:
    return " ".join(node.text_content().split()) if node is not None else ""


def parse_post_page(text: str, site: ForumSite, post_id: str | None):
    """(post, comments, users, seen comment ids) from a GreaterWrong post page."""
    doc = _document(text)
    if doc is None:
        raise ChallengeError("GreaterWrong answered with an empty page; try later")
    return _parse(doc, site, post_id)


def _parse(doc, site: ForumSite, post_id: str | None):
    main = _one(doc, "main", "post")
    if main is None:
        raise ChallengeError("GreaterWrong answered with a page that is not a post (a challenge "
                             "or an error page?); try later or raise --delay")
    users: dict[str, User] = {}
    post = _post(main, site, post_id, users)
    comments, seen = [], []
    for item in _all(doc, "li", "comment-item"):
        comment = _comment(item, site, post, users)
        if comment is None:
            continue
        seen.append(comment.id)
        if not comment.deleted:
            comments.append(comment)
    return post, comments, list(users.values()), seen


def _post(main, site: ForumSite, post_id: str | None, users: dict) -> Post:
    meta = _one(main, "div", "post-meta")
    page_url = _href(_one(main, "a", "lw2-link"))
    post_id = post_id or _post_id(main, page_url)
    if not post_id:
        raise UsageError("this GreaterWrong page names no post id; save the page of one post")
    found = [_user(a, site, users) for a in (_all(meta, "a", "author") if meta is not None else [])]
    authors = [a for a in found if a]
    title_node = _one(main, "h1", "post-title")
    for prefix in _all(title_node, "span", "post-type-prefix") if title_node is not None else []:
        _drop(prefix)
    body = _one(main, "div", "post-body")
    link = _href(_one(body, "a", "link-post-link")) if body is not None else None
    if body is not None:
        for gw_only in _all(body, "nav", "contents") + _all(body, "a", "link-post-link"):
            parent = gw_only.getparent()
            _drop(gw_only)
            if parent is not None and parent.tag == "p" and not _text(parent):
                _drop(parent)
    score, votes = _karma(meta)
    url = page_url or f"{site.base}/posts/{post_id}"
    coauthors = [a.name for a in authors[1:]]
    question = "question-post" in _classes(main)
    return Post(
        id=make_id(site.id, post_id), site_id=site.id, source_id=post_id, url=url,
        title=_clean(_text(title_node)) or None,
        user_id=authors[0].id if authors else None, author=authors[0].name if authors else None,
        posted_at=_date(meta), score=score, vote_count=votes,
        comment_count=_int_in(_text(_one(main, "a", "comment-count"))),
        af=bool(_all(main, "a", "alignment-forum")), question=question,
        kind="question" if question else "post", body_html=_body(body, site),
        tags=_tags(main, site),
        extra={"coauthors": coauthors, "link_url": link} if (coauthors or link) else None,
    )


def _post_id(main, page_url: str | None) -> str | None:
    voting = main.xpath(".//*[@data-post-id]")
    if voting and voting[0].get("data-post-id"):
        return voting[0].get("data-post-id")
    match = POST_ID.search(page_url or "")
    return match.group(1) if match else None


def _comment(item, site: ForumSite, post: Post, users: dict) -> Comment | None:
    cid = (item.get("id") or "").removeprefix("comment-")
    if not cid:
        return None
    box = _one(item, "div", "comment", deep=False)
    parent_item = next((a for a in item.iterancestors("li") if "comment-item" in _classes(a)), None)
    parent = (parent_item.get("id") or "").removeprefix("comment-") if parent_item is not None else None
    base: dict[str, Any] = dict(id=make_id(site.id, cid), site_id=site.id, source_id=cid, post_id=post.id,
                parent_id=make_id(site.id, parent) if parent else None)
    if box is None or "deleted-comment" in _classes(box):
        return Comment(**base, deleted=True)
    meta = _one(box, "div", "comment-meta", deep=False)
    author = _user(_one(meta, "a", "author") if meta is not None else None, site, users)
    permalink = _href(_one(meta, "a", "permalink") if meta is not None else None) or ""
    score, votes = _karma(meta)
    return Comment(
        **base, user_id=author.id if author else None, author=author.name if author else None,
        url=f"{post.url}?commentId={cid}", posted_at=_date(meta), score=score, vote_count=votes,
        af=bool(meta is not None and _all(meta, "span", "alignment-forum")),
        answer="/answer/" in permalink and parent is None,
        body_html=_body(_one(box, "div", "comment-body", deep=False), site),
    )


def _user(anchor, site: ForumSite, users: dict) -> User | None:
    if anchor is None:
        return None  # "[deleted]" authors are a span, not a link
    slug = (_href(anchor) or "").rstrip("/").rsplit("/users/", 1)[-1] or None
    uid = anchor.get("data-userid")
    source_id = uid or f"slug:{slug}"
    user = User(id=make_id(site.id, source_id), site_id=site.id, source_id=source_id, slug=slug,
                name=_clean(_text(anchor)) or slug,
                url=f"{site.base}/users/{slug}" if slug else None)
    users.setdefault(user.id, user)
    return user


def _tags(main, site: ForumSite) -> list[Tag]:
    tags = []
    for anchor in main.xpath(".//*[@id='tags']//a"):
        slug = (_href(anchor) or "").rstrip("/").rsplit("/", 1)[-1]
        if slug:
            tags.append(Tag(id=make_id(site.id, f"tag-slug:{slug}"), site_id=site.id,
                            name=_clean(_text(anchor)), slug=slug))
    return tags


def _body(node, site: ForumSite) -> str | None:
    if node is None:
        return None
    for anchor in node.xpath(".//a[@href]"):
        href = anchor.get("href")
        if href.startswith("/") and not href.startswith("//"):
            anchor.set("href", urljoin(site.base, href))
    inner = html.escape(node.text or "", quote=False) + "".join(
        lxml.html.tostring(child, encoding="unicode") for child in node)
    return _clean(inner).strip() or None


def _drop(node) -> None:
    """Remove a node but keep the text that followed it."""
    node.drop_tree()


def _clean(value: str | None) -> str:
    return (value or "").replace(SOFT_HYPHEN, "")


def _href(anchor) -> str | None:
    return anchor.get("href") if anchor is not None else None


def _date(meta) -> str | None:
    nodes = meta.xpath(".//*[@data-js-date]") if meta is not None else []
    value = nodes[0].get("data-js-date") if nodes else None
    return iso_utc(int(value) / 1000) if value and value.isdigit() else None


def _karma(meta) -> tuple[int | None, int | None]:
    """("42 points" or "LW: 42 AF: 10", title "20 votes") -> (42, 20)."""
    if meta is None:
        return None, None
    karma = _one(meta, "div", "karma")  # not the agreement votes that may follow it
    node = _one(karma if karma is not None else meta, "span", "karma-value")
    if node is None:
        return None, None
    return _int_in(_text(node)), _int_in(node.get("title") or "")


def _int_in(text: str) -> int | None:
    match = re.search(r"([-\u2212]?)\s*(\d[\d,]*)", text or "")
    if not match:
        return None
    value = int(match.group(2).replace(",", ""))
    return -value if match.group(1) else value


def parse_thread_url(url: str) -> ThreadRef | None:
    """A GreaterWrong post URL, as the ForumMagnum post it mirrors (same site and ids)."""
    host = (urlsplit(url.strip()).hostname or "").lower()
    return forummagnum.parse_thread_url(url) if host in SITE_OF_HOST else None


# GreaterWrong mirrors ForumMagnum's documents: ForumMagnum (higher priority) claims the URLs and
# names this source as its fallback; it is used through that, or --via greaterwrong.
SOURCE = ForumSource(
    name=NAME, title="GreaterWrong",
    priority=50,
    thread_examples=("https://www.greaterwrong.com/posts/uMQ3cqWDPHhjtiesc/agi-ruin",
                     "https://ea.greaterwrong.com/posts/abcdefgh12345678/a-post"),
    parse_thread_url=parse_thread_url, fetch_thread=fetch_thread,
    site_record=lambda ref: SITES[ref.site].record(),
    public_root=ROOTS.get, sniff_saved=sniff_saved, parse_saved=parse_saved,
    description="The HTML mirror of LessWrong and the EA Forum; one request per thread.",
)
