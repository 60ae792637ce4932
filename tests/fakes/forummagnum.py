"""A loopback ForumMagnum: answers GraphQL the way LessWrong / the EA Forum do.

It understands the queries archiver sends (modern ``selector`` style and legacy ``input: {terms}``
style), with the real API's quirks: views return 5 results when no limit is given, ``limit`` is
capped at 5,000, an ``offset`` over 2,000 is an error, ``after`` is inclusive and ``before``
exclusive, ``postCommentsOld`` leaves out answers and their replies, a missing document is an
``app.missing_document`` error, and a server running old code rejects the modern style with a
GRAPHQL_VALIDATION_FAILED 400.

Bodies come as the real API sends them: ``contents { html markdown }``, where ``markdown`` is
never null for a body that has one. ForumMagnum's Revision resolver returns
``dataToMarkdown(originalContents)``: the author's own Markdown for Markdown-editor comments,
Turndown's conversion of the HTML for the rest (server/editor/conversionUtils.ts). The builders
below derive it the Turndown way (``*`` bullets, underlined headings, escaped ``_`` and ``*``),
independently of archiver's own converter; pass ``markdown=`` to give an author's own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime

import markdownify
from werkzeug.wrappers import Request, Response


def _literal_to_json(text: str):
    """Turn the GraphQL literals archiver renders ({key: "v", n: 5, b: true}) into Python."""
    return json.loads(re.sub(r'([{,]\s*)([A-Za-z_]\w*)\s*:', r'\1"\2":', text))


def _balanced(text: str, start: int) -> str:
    depth = 0
    in_string = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if ch == "\\":
                continue
            if ch == '"' and text[i - 1] != "\\":
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start:i + 1]
    raise ValueError("unbalanced")


def _when(stamp: str) -> datetime:
    """The API compares dates as dates, not strings."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@dataclass
class FakeForum:
    posts: dict[str, dict] = field(default_factory=dict)
    comments: list[dict] = field(default_factory=list)
    users: dict[str, dict] = field(default_factory=dict)
    legacy_only: bool = False  # behave like the EA Forum's older code
    queries: list[str] = field(default_factory=list)

    # -- the HTTP side ----------------------------------------------------------------------

    def handler(self, request: Request) -> Response:
        body = json.loads(request.get_data(as_text=True))
        query = body["query"]
        self.queries.append(query)
        modern = "selector:" in query and "input:" not in query
        if modern and self.legacy_only:
            return self._json({"errors": [{
                "message": 'Unknown argument "selector" on field "Query.post".',
                "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]}, 400)
        try:
            return self._json({"data": self._answer(query, modern)})
        except LookupError as exc:
            root = re.search(r"\{\s*(\w+)\(", query).group(1)
            return self._json({"errors": [{"message": str(exc), "path": [root]}], "data": {root: None}})
        except ValueError as exc:
            return self._json({"errors": [{"message": str(exc)}], "data": None})

    @staticmethod
    def _json(obj, status: int = 200) -> Response:
        return Response(json.dumps(obj), status=status, content_type="application/json")

    # -- the GraphQL side ---------------------------------------------------------------------

    def _answer(self, query: str, modern: bool) -> dict:
        if re.match(r"\{\s*p0:\s*post\(", query):
            return self._aliased_posts(query)
        root = re.search(r"\{\s*(\w+)\(", query).group(1)
        if root == "post":
            doc_id = re.search(r'_id:\s*"([^"]+)"', query).group(1)
            if doc_id not in self.posts:
                raise LookupError("app.missing_document")
            return {"post": {"result": self.posts[doc_id]}}
        view, terms = self._view_terms(query, modern)
        results = getattr(self, f"_view_{view}")(terms)
        limit = terms.get("limit", 5)
        offset = terms.get("offset", 0)
        if offset > 2000:
            raise ValueError("Exceeded maximum value for skip")
        return {root: {"results": results[offset:offset + min(limit, 5000)]}}

    def _aliased_posts(self, query: str) -> dict:
        """Many posts in one request (``p0: post(...) p1: post(...)``), as the change check asks;
        the counters are derived from the comments, like the real server maintains them."""
        out = {}
        for alias, doc_id in re.findall(r'(p\d+):\s*post\([^"]*"([^"]+)"', query):
            post = self.posts.get(doc_id)
            if post is None:
                out[alias] = None
                continue
            live = [c for c in self.comments if c["postId"] == doc_id and not c.get("deleted")]
            out[alias] = {"result": {
                "_id": doc_id, "commentCount": len(live), "modifiedAt": post.get("modifiedAt"),
                "lastCommentedAt": max((c["postedAt"] for c in live), default=None)}}
        return out

    @staticmethod
    def _view_terms(query: str, modern: bool) -> tuple[str, dict]:
        if modern:
            start = query.index("selector:") + len("selector:")
            selector = _literal_to_json(_balanced(query, query.index("{", start)))
            (view, terms), = selector.items()
            limit = re.search(r"limit:\s*(\d+)\)", query)
            if limit:
                terms["limit"] = int(limit.group(1))
            return view, terms
        start = query.index("terms:") + len("terms:")
        terms = _literal_to_json(_balanced(query, query.index("{", start)))
        return terms.pop("view"), terms

    @staticmethod
    def _dated(items: list[dict], terms: dict, newest_first: bool) -> list[dict]:
        if terms.get("after"):
            items = [c for c in items if _when(c["postedAt"]) >= _when(terms["after"])]
        if terms.get("before"):
            items = [c for c in items if _when(c["postedAt"]) < _when(terms["before"])]
        return sorted(items, key=lambda c: (c["postedAt"], c["_id"]), reverse=newest_first)

    def _view_postCommentsOld(self, terms):
        items = [c for c in self.comments if c["postId"] == terms["postId"]
                 and not c.get("answer") and not c.get("parentAnswerId")]
        return self._dated(items, terms, newest_first=False)

    def _view_answersAndReplies(self, terms):
        items = [c for c in self.comments if c["postId"] == terms["postId"]
                 and (c.get("answer") or c.get("parentAnswerId"))]
        return self._dated(items, terms, newest_first=False)

    def _view_allRecentComments(self, terms):
        items = [dict(c, post=self._stub(c["postId"])) for c in self.comments
                 if c["user"] and c["user"]["_id"] == terms.get("userId")]
        return self._dated(items, terms, newest_first=True)

    def _view_profileComments(self, terms):
        return self._view_allRecentComments(terms)

    def _view_userPosts(self, terms):
        items = [p for p in self.posts.values() if p["user"]["_id"] == terms["userId"]]
        return self._dated(items, terms, newest_first=True)

    def _view_usersProfile(self, terms):
        return [u for u in self.users.values() if u["slug"] == terms["slug"]]

    def _view_tagBySlug(self, terms):
        tags = {t["_id"]: t for p in self.posts.values() for t in p.get("tags") or []}
        return [t for t in tags.values() if t["slug"] == terms["slug"]]

    def _view_tagRelevance(self, terms):
        # A tag's posts; sortedBy "new" orders them by date, newest first, like the real view.
        items = [p for p in self.posts.values()
                 if any(t["_id"] == terms["tagId"] for t in p.get("tags") or [])]
        return self._dated(items, terms, newest_first=terms.get("sortedBy") == "new")

    def _stub(self, post_id: str) -> dict | None:
        post = self.posts.get(post_id)
        if post is None:
            return {"_id": post_id, "slug": "elsewhere", "title": f"Post {post_id}",
                    "pageUrl": f"https://www.lesswrong.com/posts/{post_id}/elsewhere",
                    "postedAt": "2020-01-01T00:00:00.000Z", "af": False}
        return {k: post[k] for k in ("_id", "slug", "title", "pageUrl", "postedAt", "af")}


# -- data builders ----------------------------------------------------------------------------

# Turndown's defaults as ForumMagnum uses them: setext headings, "*" bullets, escaped markup.
_TURNDOWN = markdownify.MarkdownConverter(heading_style="UNDERLINED", bullets="*")


def turndown(html: str | None) -> str | None:
    """What the real API sends as ``contents.markdown`` for an HTML body."""
    return None if html is None else _TURNDOWN.convert(html).strip()


_DERIVED = object()  # "markdown=" not given: derive it from the HTML, as the server does


def user(uid: str, slug: str, name: str, **extra) -> dict:
    base = {"_id": uid, "slug": slug, "username": slug, "displayName": name}
    return {**base, **extra}


def profile(uid: str, slug: str, name: str, karma: int = 1000) -> dict:
    return user(uid, slug, name, bio="I work on **alignment**.",
                htmlBio="<p>I work on <strong>alignment</strong>.</p>", karma=karma, afKarma=10,
                postCount=3, commentCount=42, createdAt="2015-03-01T10:00:00.000Z")


def post(pid: str, title: str, author: dict, html: str, posted: str = "2024-05-01T12:00:00.000Z",
         markdown=_DERIVED, **extra) -> dict:
    base = {
        "_id": pid, "slug": title.lower().replace(" ", "-"), "title": title,
        "pageUrl": f"https://www.lesswrong.com/posts/{pid}/{title.lower().replace(' ', '-')}",
        "postedAt": posted, "modifiedAt": posted, "baseScore": 42, "voteCount": 20,
        "commentCount": 0, "af": False, "question": False, "url": None,
        "user": {k: author[k] for k in ("_id", "slug", "username", "displayName")},
        "coauthors": [], "tags": [{"_id": "tagSAE0000001", "name": "Sparse Autoencoders",
                                    "slug": "sparse-autoencoders"}],
        "contents": contents(html, markdown),
    }
    return {**base, **extra}


def comment(cid: str, post_id: str, author: dict | None, html: str, posted: str,
            parent: str | None = None, markdown=_DERIVED, **extra) -> dict:
    base = {
        "_id": cid, "postId": post_id, "parentCommentId": parent, "parentAnswerId": None,
        "topLevelCommentId": None, "postedAt": posted, "lastEditedAt": None, "baseScore": 5,
        "voteCount": 3, "af": False, "deleted": False, "answer": False,
        "user": {k: author[k] for k in ("_id", "slug", "username", "displayName")} if author else None,
        "contents": contents(html, markdown),
    }
    return {**base, **extra}


def contents(html: str | None, markdown=_DERIVED) -> dict:
    """A body as the API sends it; ``markdown=None`` for a response without Markdown."""
    return {"html": html, "markdown": turndown(html) if markdown is _DERIVED else markdown}


def stamp(n: int, base_day: int = 1) -> str:
    """A distinct, increasing ISO timestamp for the n-th item."""
    day = base_day + n // 86400
    rest = n % 86400
    return (f"2024-{5 + (day - 1) // 28:02d}-{(day - 1) % 28 + 1:02d}T"
            f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}.000Z")


def big_thread(forum: FakeForum, pid: str, n_comments: int, body_chars: int = 400,
               mixed: bool = False) -> None:
    """A post with ``n_comments`` comments, a third of them replies, some quoting their parent.

    Bodies are ``body_chars`` of plain paragraph, or with ``mixed`` what forum comments look
    like (``mixed_body``): a line to a few pages, links, emphasis, lists, quotes; ``mixed``
    threads also have ids like the real ones (17 random characters, so an index on them fills
    in random order) and users with real-looking ids."""
    authors = [user(meteor_id(i + 10**6) if mixed else f"user{i:011d}", f"user-{i}",
                    f"User {i}") for i in range(50)]

    def cid(i: int) -> str:
        return meteor_id(i) if mixed else f"{pid[:6]}c{i:010d}"

    forum.posts[pid] = post(pid, f"Big thread {pid}", authors[0], "<p>" + "word " * 200 + "</p>",
                            commentCount=n_comments)
    filler = ("Sparse autoencoders find interpretable features, but shrinkage biases the "
              "activations toward zero. ")
    for i in range(n_comments):
        parent = cid(i // 3) if i % 3 and i > 3 else None
        text = (filler * (body_chars // len(filler) + 1))[:body_chars]
        if mixed:
            html = mixed_body(i, quoting=bool(parent and i % 5 == 0))
        elif parent and i % 5 == 0:
            html = f"<blockquote><p>{text[:80]}</p></blockquote><p>{text}</p>"
        else:
            html = f"<p>{text} #{i}</p>"
        forum.comments.append(comment(cid(i), pid, authors[i % 50], html,
                                      stamp(i + 100), parent=parent))


_METEOR = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"


def meteor_id(n: int) -> str:
    """The ``n``-th of a fixed sequence of ids shaped like ForumMagnum's (Meteor's Random.id():
    17 characters from a 55-letter alphabet), in no particular order."""
    import random

    rng = random.Random(f"id{n}")
    return "".join(rng.choice(_METEOR) for _ in range(17))


_WORDS = ("the model features sparse autoencoder shrinkage gating interpretability we I think "
          "this that probably argument evidence training loss layer residual stream activation "
          "reward policy alignment seems clear not obviously because however if then would could "
          "result paper claim experiment data point disagree agree worth noting").split()


def mixed_body(i: int, quoting: bool = False) -> str:
    """The ``i``-th of a deterministic mix of comment bodies shaped like a forum's: lengths
    log-normal (HTML median ~650 characters, a line to ~9,000), paragraphs with links
    (to posts, papers, other sites), emphasis and bold, now and then a list, a quote of the
    parent when ``quoting``, an occasional heading or code span in long ones."""
    import random

    rng = random.Random(i)
    target = min(int(rng.lognormvariate(5.85, 0.9)), 12_000)
    parts = []
    if quoting:
        parts.append(f"<blockquote><p>{_sentence(rng, 12)}</p></blockquote>")
    size = 0
    while size < target:
        if target > 1500 and rng.random() < 0.08:
            block = f"<h3>{_sentence(rng, 4).rstrip('.')}</h3>"
        elif rng.random() < 0.12:
            items = "".join(f"<li>{_inline(rng, rng.randint(4, 14))}</li>"
                            for _ in range(rng.randint(2, 5)))
            tag = rng.choice(("ul", "ol"))
            block = f"<{tag}>{items}</{tag}>"
        else:
            block = f"<p>{_inline(rng, rng.randint(12, 70))}</p>"
        parts.append(block)
        size += len(block)
    return "".join(parts)


def _sentence(rng, n: int) -> str:
    words = [rng.choice(_WORDS) for _ in range(n)]
    return _capital(" ".join(words)) + "."


def _inline(rng, n: int) -> str:
    """``n`` words in sentences, some marked up the way comments are."""
    out = []
    for _ in range(n):
        word = rng.choice(_WORDS)
        roll = rng.random()
        if roll < 0.03:
            word = (f'<a href="https://www.lesswrong.com/posts/{rng.randrange(16**8):08x}x'
                    f'Yz{rng.randrange(10**6):06d}/some-post-title">{word} post</a>')
        elif roll < 0.045:
            word = (f'<a href="https://arxiv.org/abs/{rng.randint(1800, 2412)}.'
                    f'{rng.randint(1000, 29999):05d}">{word}</a>')
        elif roll < 0.05:
            word = f'<a href="https://en.wikipedia.org/wiki/{word.title()}_(topic)">{word}</a>'
        elif roll < 0.08:
            word = f"<em>{word}</em>"
        elif roll < 0.095:
            word = f"<strong>{word}</strong>"
        elif roll < 0.1:
            word = f"<code>{word}_fn()</code>"
        out.append(word)
        if rng.random() < 0.08:
            out[-1] += rng.choice((".", ",", "?", ";"))
    return _capital(" ".join(out)) + "."


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
