"""A loopback GreaterWrong: renders a FakeForum's posts as lw2-viewer's HTML.

The markup follows lw2-viewer (src/data-viewers/post.lisp, comment.lisp, comment-threads.lisp,
interface-utils.lisp): ``main.post`` with ``h1.post-title`` and a ``.post-meta`` (``a.author
data-userid``, ``span.date data-js-date`` in epoch ms, ``.karma.voting-controls .karma-value``,
``a.comment-count``, ``a.lw2-link``, ``#tags``), ``.body-text.post-body``; comments as nested
``ul.comment-thread > li#comment-<id>.comment-item > div.comment`` with ``.comment-meta``
(``a.author``, ``a.date``, ``.karma-value``, ``span.alignment-forum``, ``a.permalink`` with
``/comment/`` or ``/answer/``) and ``.body-text.comment-body``; deleted comments as
``div.comment.deleted-comment``. Like GreaterWrong it hyphenates body text with soft hyphens and
redirects ``/posts/<id>`` to ``/posts/<id>/<slug>``.
"""

from __future__ import annotations

import html
import re
from datetime import datetime

from werkzeug.wrappers import Request, Response

from tests.fakes.forummagnum import FakeForum


def _ms(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()) * 1000


def gw_html(fragment: str) -> str:
    """A body as GreaterWrong serves it: soft hyphens inside long words of text nodes, and links
    to LessWrong turned into links within GreaterWrong."""
    def words(text: str) -> str:
        return re.sub(r"\b([A-Za-z]{3})([A-Za-z]{5,})\b", "\\1\u00ad\\2", text)

    fragment = fragment.replace('href="https://www.lesswrong.com/', 'href="/')
    return re.sub(r">([^<]+)<", lambda m: ">" + words(m.group(1)) + "<", f">{fragment}<")[1:-1]


def _author(user: dict | None) -> str:
    if not user:
        return '<span class="author">[deleted]</span>'
    return (f'<a class="author" href="/users/{user["slug"]}" data-userid="{user["_id"]}" '
            f'data-full-name="">{html.escape(user["displayName"])}</a>')


def _karma(score: int, votes: int, post_id: str | None = None) -> str:
    data = f"data-post-id='{post_id}' " if post_id else ""
    return (f'<div class="karma voting-controls" {data}><button type="button" class="vote upvote" '
            f'data-vote-type="upvote" disabled></button><span class="karma-value" '
            f'title="{votes} votes">{score}<span> points</span></span><button type="button" '
            f'class="vote downvote" disabled></button></div>')


def render_post(forum: FakeForum, post_id: str) -> str:
    post = forum.posts[post_id]
    classes = "post" + (" question-post" if post.get("question") else "") + \
        (" link-post" if post.get("url") else "")
    prefix = '<span class="post-type-prefix">[Question] </span>' if post.get("question") else ""
    tags = "".join(f'<a href="/tag/{t["slug"]}">{html.escape(t["name"])}</a>' for t in post["tags"])
    section = ('<a class="post-section alignment-forum" title="View Alignment Forum posts" '
               'href="/index?view=alignment-forum"></a>') if post.get("af") else ""
    link = (f'<p><a class="link-post-link" href="{post["url"]}">Link post</a></p>'
            if post.get("url") else "")
    meta = (f'<div class="post-meta top-post-meta">{_author(post["user"])}'
            f'<span class="date hide-until-init" data-js-date={_ms(post["postedAt"])}>'
            f'01 May 2024 12:00 UTC</span>{_karma(post["baseScore"], post["voteCount"], post_id)}'
            f'<a class="comment-count" href="#comments">{post["commentCount"]}<span> comments'
            f'</span></a><a class="lw2-link" href="{post["pageUrl"]}">LW<span> link</span></a>'
            f'{section}<div id="tags">{tags}</div></div>')
    toc = ('<nav class="contents"><div class="contents-head">Contents</div><ul>'
           '<li><a href="#summary">Summary</a></li></ul></nav>')
    body = (f'<div class="body-text post-body">{link}{toc}'
            f'{gw_html(post["contents"]["html"] or "")}</div>')
    comments = [c for c in forum.comments if c["postId"] == post_id]
    answers = [c for c in comments if c.get("answer") or c.get("parentAnswerId")]
    plain = [c for c in comments if c not in answers]
    threads = ""
    if answers:
        threads += f'<div id="answers" class="comments">{_tree(answers, None, post)}</div>'
    threads += f'<div id="comments" class="comments">{_tree(plain, None, post)}</div>'
    return (f'<!DOCTYPE html><html lang="en-US"><head><title>{html.escape(post["title"])}</title>'
            f'</head><body><div id="content" class="post-page comment-thread-page">'
            f'<main class="{classes}"><h1 class="post-title">{prefix}{html.escape(post["title"])}'
            f'</h1>{meta}{body}</main>{threads}</div></body></html>')


def _parent(comment: dict) -> str | None:
    return comment.get("parentCommentId") or comment.get("parentAnswerId")


def _tree(comments: list[dict], parent: str | None, post: dict, kids: dict | None = None) -> str:
    if kids is None:
        kids = {}
        for c in comments:
            kids.setdefault(_parent(c), []).append(c)
    level = kids.get(parent, [])
    if not level:
        return ""
    items = "".join(f'<li id="comment-{c["_id"]}" class="comment-item depth-odd">'
                    f'{_comment(c, post)}{_tree(comments, c["_id"], post, kids)}</li>' for c in level)
    return f'<ul class="comment-thread">{items}</ul>'


def _comment(comment: dict, post: dict) -> str:
    if comment.get("deleted"):
        return ('<div class="comment deleted-comment"><div class="comment-meta"><span '
                'class="deleted-meta">[ ]</span></div><div class="body-text comment-body">'
                '[deleted]</div></div>')
    kind = "answer" if comment.get("answer") or comment.get("parentAnswerId") else "comment"
    link = f'/posts/{post["_id"]}/{post["slug"]}/{kind}/{comment["_id"]}'
    parent = _parent(comment)
    return (f'<div class="comment" data-post-id="{post["_id"]}"><div class="comment-meta">'
            f'{_author(comment["user"])}<a class="date" href="{link}" '
            f'data-js-date={_ms(comment["postedAt"])}>01 May 2024</a>'
            f'{_karma(comment["baseScore"], comment["voteCount"])}'
            + ('<span class="alignment-forum">AF</span>' if comment.get("af") else "")
            + f'<a class="permalink" href="{link}" title="Permalink"></a>'
            f'<a class="lw2-link" href="{post["pageUrl"]}#{comment["_id"]}" title="LW"></a>'
            + (f'<a class="comment-parent-link" href="#comment-{parent}">Parent</a>' if parent else "")
            + f'<div class="comment-minimize-button" data-child-count="0"></div></div>'
            f'<div class="body-text comment-body">{gw_html(comment["contents"]["html"] or "")}'
            f'</div></div>')


class FakeGreaterWrong:
    def __init__(self, forum: FakeForum, challenge: bool = False):
        self.forum = forum
        self.challenge = challenge
        self.requests: list[str] = []

    def handler(self, request: Request) -> Response:
        self.requests.append(request.path)
        if self.challenge:
            return Response("<html><head><title>Just a moment...</title></head><body>Checking your "
                            "browser</body></html>", status=200, content_type="text/html")
        match = re.fullmatch(r"/posts/([A-Za-z0-9]+)(/[^/]+)?/?", request.path)
        if not match or match.group(1) not in self.forum.posts:
            return Response("<html><body><h1>Not found</h1></body></html>", status=404,
                            content_type="text/html")
        post = self.forum.posts[match.group(1)]
        if not match.group(2):
            return Response("", status=301, headers={"Location": f"/posts/{post['_id']}/{post['slug']}"})
        return Response(render_post(self.forum, post["_id"]), content_type="text/html; charset=utf-8")
