"""LessWrong, the Alignment Forum and the EA Forum (ForumMagnum's GraphQL API).

LessWrong and the Alignment Forum share one document store (same ``_id``s; ``af`` marks AF
content), so both are archived under site ``lesswrong`` with an ``af`` flag, fetched from the
LessWrong endpoint, which returns the superset. The EA Forum is site ``eaforum``.

Queries are sent in the modern style (``post(selector: {_id})``) and fall back to the legacy style
(``post(input: {selector: ...})``, ``comments(input: {terms: ...})``) on a validation error: the EA
Forum has run older code. Long lists page by date, never by offset (offsets over 2,000 are refused).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from archiver.kernel.coerce import as_dict, as_id, as_str, as_time, dicts, each
from archiver.kernel.errors import FetchError, NotFound, UsageError
from archiver.kernel.records import Comment, Page, Post, Site, Tag, User, make_id
from archiver.sources import lesswrong_pages
from archiver.sources.contract import ForumSource, SiteSpec, ThreadRef, ThreadSignature, UserRef
from archiver.sources.paging import paged

NAME = "forummagnum"
log = logging.getLogger("archiver.forummagnum")

PAGE_LIMIT = 5000  # the API's cap on `limit`


@dataclass(frozen=True)
class ForumSite:
    id: str
    name: str
    base: str

    @property
    def endpoint(self) -> str:
        return self.base + "/graphql"

    def record(self) -> Site:
        return Site(id=self.id, name=self.name, url=self.base, kind=NAME, api_url=self.endpoint)


LESSWRONG = ForumSite("lesswrong", "LessWrong and the Alignment Forum", "https://www.lesswrong.com")
EAFORUM = ForumSite("eaforum", "Effective Altruism Forum", "https://forum.effectivealtruism.org")
SITES = {"lesswrong": LESSWRONG, "eaforum": EAFORUM}

# Every host and bare-id prefix we accept, mapped to the document store it belongs to.
HOSTS = {
    "lesswrong.com": "lesswrong", "www.lesswrong.com": "lesswrong",
    "alignmentforum.org": "lesswrong", "www.alignmentforum.org": "lesswrong",
    "greaterwrong.com": "lesswrong", "www.greaterwrong.com": "lesswrong",
    "forum.effectivealtruism.org": "eaforum", "ea.greaterwrong.com": "eaforum",
    "forum-bots.effectivealtruism.org": "eaforum",
}
PREFIXES = {
    "lesswrong": "lesswrong", "lw": "lesswrong", "alignmentforum": "lesswrong", "af": "lesswrong",
    "eaforum": "eaforum", "ea": "eaforum",
}
SITE_OPTION = {"lesswrong": "lesswrong", "alignmentforum": "lesswrong", "eaforum": "eaforum"}

DOC_ID = r"[A-Za-z0-9]{8,24}"
POST_PATH = re.compile(rf"^/(?:s/{DOC_ID}/p|posts|events)/({DOC_ID})(?:/[^/]*)?/?$")
USER_PATH = re.compile(r"^/users/([A-Za-z0-9_.-]+)/?")

USER_FIELDS = "_id slug username displayName"
POST_FIELDS = (
    "_id slug title pageUrl postedAt modifiedAt baseScore voteCount commentCount af question "
    f"url user {{ {USER_FIELDS} }} coauthors {{ {USER_FIELDS} }} tags {{ _id name slug }} "
    "contents { html markdown }"
)
COMMENT_FIELDS = (
    "_id postId parentCommentId parentAnswerId topLevelCommentId postedAt lastEditedAt baseScore "
    f"voteCount af deleted answer user {{ {USER_FIELDS} }} contents {{ html markdown }}"
)
PROFILE_FIELDS = (
    "_id slug username displayName bio htmlBio karma afKarma postCount commentCount createdAt"
)
STUB_POST_FIELDS = "_id slug title pageUrl postedAt af"


# -- URLs --------------------------------------------------------------------------------------


def parse_thread_url(url: str) -> ThreadRef | None:
    """Post URLs of the four hosts (any path form, anchors, query strings) or ``site:postId``."""
    bare = re.fullmatch(rf"([a-z]+):({DOC_ID})", url.strip())
    if bare and bare.group(1) in PREFIXES:
        site = SITES[PREFIXES[bare.group(1)]]
        post_id = bare.group(2)
        return ThreadRef(site.id, post_id, f"{site.base}/posts/{post_id}")
    parts = urlsplit(url.strip())
    host = parts.netloc.lower()
    if parts.scheme not in ("http", "https") or host not in HOSTS:
        return None
    match = POST_PATH.match(parts.path)
    if not match:
        raise UsageError(f"{url}: a {host} URL, but not a post; expected /posts/<id>/<slug>, "
                         "/posts/<id> or /s/<sequence>/p/<id>")
    site = SITES[HOSTS[host]]
    post_id = match.group(1)
    comment = parse_qs(parts.query).get("commentId", [None])[0] or parts.fragment or None
    extra = {"af": "alignmentforum" in host, "comment": comment}
    return ThreadRef(site.id, post_id, f"{site.base}/posts/{post_id}", extra)


def parse_user_url(url: str, site: str | None = None) -> UserRef | None:
    value = url.strip()
    parts = urlsplit(value)
    if parts.scheme in ("http", "https"):
        host = parts.netloc.lower()
        if host not in HOSTS:
            return None
        match = USER_PATH.match(parts.path)
        if not match:
            raise UsageError(f"{url}: a {host} URL, but not a user profile (/users/<slug>)")
        forum = SITES[HOSTS[host]]
        return UserRef(forum.id, slug=match.group(1), url=f"{forum.base}/users/{match.group(1)}")
    if re.fullmatch(r"[A-Za-z0-9_.-]+", value) and site is not None:
        if site not in SITE_OPTION:
            raise UsageError(f"unknown site {site!r}; use one of: {', '.join(SITE_OPTION)}")
        forum = SITES[SITE_OPTION[site]]
        return UserRef(forum.id, slug=value, url=f"{forum.base}/users/{value}")
    if re.fullmatch(r"[A-Za-z0-9_.-]+", value):
        return UserRef("lesswrong", slug=value, url=f"{LESSWRONG.base}/users/{value}")
    return None


# -- GraphQL -----------------------------------------------------------------------------------


def gql(value) -> str:
    """Render a Python value as a GraphQL literal (strings JSON-escaped, object keys bare)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {gql(v)}" for k, v in value.items() if v is not None) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(str(value))


class Client:
    """Runs queries against one endpoint, remembering which query style it accepts."""

    def __init__(self, http, site: ForumSite, endpoint: str | None = None):
        self.http = http
        self.site = site
        self.endpoint = endpoint or site.endpoint
        self.legacy = False

    def single(self, collection: str, doc_id: str, fields: str) -> dict | None:
        modern = f"{{ {collection}(selector: {{_id: {gql(doc_id)}}}) {{ result {{ {fields} }} }} }}"
        legacy = (f"{{ {collection}(input: {{selector: {{_id: {gql(doc_id)}}}}}) "
                  f"{{ result {{ {fields} }} }} }}")
        data = self._run(modern, legacy)
        return as_dict(as_dict(data.get(collection), collection).get("result"), collection) or None

    def multi(self, collection: str, view: str, terms: dict, limit: int, fields: str) -> list[dict]:
        modern = (f"{{ {collection}(selector: {{{view}: {gql(terms)}}}, limit: {limit}) "
                  f"{{ results {{ {fields} }} }} }}")
        legacy_terms = {"view": view, **terms, "limit": limit}
        legacy = f"{{ {collection}(input: {{terms: {gql(legacy_terms)}}}) {{ results {{ {fields} }} }} }}"
        data = self._run(modern, legacy)
        return dicts(as_dict(data.get(collection), collection).get("results"), collection)

    def _run(self, modern: str, legacy: str) -> dict:
        if not self.legacy:
            status, body = self._post(modern)
            if _is_validation_error(status, body):
                log.info("%s rejected the modern query style; using the legacy style",
                         self.endpoint)
                self.legacy = True
            else:
                return self._data(body)
        status, body = self._post(legacy)
        return self._data(body)

    def _post(self, query: str):
        return self.http.post_json_response(self.endpoint, {"query": query}, allow_status=(400,))

    def _data(self, body) -> dict:
        if not isinstance(body, dict):
            raise FetchError(f"{self.endpoint}: unexpected response (not a GraphQL object)")
        errors = dicts(body.get("errors"), "errors")
        if errors and not body.get("data"):
            message = "; ".join(str(e.get("message", e)) for e in errors[:3])
            raise FetchError(f"{self.site.name} API error: {message}"[:500])
        for error in errors:
            log.info("%s API note: %s", self.site.name, str(error.get("message", error))[:500])
        data = body.get("data")
        if not isinstance(data, dict):
            raise FetchError(f"{self.endpoint}: the response has no data")
        return data


def _is_validation_error(status: int, body) -> bool:
    if not isinstance(body, dict) or not body.get("errors") or body.get("data"):
        return False
    for error in dicts(body["errors"]):
        code = as_str(as_dict(error.get("extensions")).get("code")) or ""
        message = as_str(error.get("message")) or ""
        if code == "GRAPHQL_VALIDATION_FAILED" or re.search(
                r"Unknown argument|Cannot query field|is not defined by type|Unknown type", message):
            return True
    return False


# -- records -----------------------------------------------------------------------------------


def user_record(site: ForumSite, data: dict | None, profile: bool = False) -> User | None:
    data = as_dict(data, "user")
    uid = as_str(data.get("_id"), "user._id")
    if not uid:
        return None
    slug = as_str(data.get("slug"), "user.slug")
    return User(
        id=make_id(site.id, uid), site_id=site.id, source_id=uid, slug=slug,
        name=data.get("displayName") or data.get("username") or slug,
        url=f"{site.base}/users/{slug}" if slug else None,
        bio_html=data.get("htmlBio") if profile else None,
        bio_markdown=data.get("bio") if profile else None,
        karma=data.get("karma"), af_karma=data.get("afKarma"), post_count=data.get("postCount"),
        comment_count=data.get("commentCount"), created_at=as_time(data.get("createdAt")),
        stub=not profile,
    )


def post_record(site: ForumSite, data: dict, stub: bool = False) -> Post:
    post_id = as_id(data.get("_id"), "post _id")
    contents = as_dict(data.get("contents"), "post contents")
    user, user_id = _author(data)
    url = as_str(data.get("pageUrl")) or \
        f"{site.base}/posts/{post_id}/{as_str(data.get('slug')) or ''}"
    coauthors = [c.get("displayName") for c in dicts(data.get("coauthors"), "coauthors")]
    return Post(
        id=make_id(site.id, post_id), site_id=site.id, source_id=post_id, url=url,
        title=data.get("title"), user_id=make_id(site.id, user_id) if user_id else None,
        author=user.get("displayName") or user.get("username"),
        posted_at=as_time(data.get("postedAt")), edited_at=as_time(data.get("modifiedAt")),
        score=data.get("baseScore"), vote_count=data.get("voteCount"),
        comment_count=data.get("commentCount"), af=bool(data.get("af")),
        question=bool(data.get("question")), kind="question" if data.get("question") else "post",
        body_html=contents.get("html") or data.get("htmlBody"),
        body_markdown=contents.get("markdown"),
        tags=[Tag(id=make_id(site.id, tag_id), site_id=site.id, name=name, slug=t.get("slug"))
              for t in dicts(data.get("tags"), "tags")
              if (tag_id := as_str(t.get("_id"))) and (name := as_str(t.get("name")))],
        stub=stub,
        extra={"coauthors": coauthors, "link_url": data.get("url")} if (coauthors or data.get("url")) else None,
    )


def comment_record(site: ForumSite, data: dict, post_url: str | None) -> Comment:
    comment_id = as_id(data.get("_id"), "comment _id")
    post_id = as_id(data.get("postId"), "comment postId")
    contents = as_dict(data.get("contents"), "comment contents")
    user, user_id = _author(data)
    parent = as_str(data.get("parentCommentId") or data.get("parentAnswerId"), "parent id")
    post_url = as_str(post_url)
    return Comment(
        id=make_id(site.id, comment_id), site_id=site.id, source_id=comment_id,
        post_id=make_id(site.id, post_id),
        parent_id=make_id(site.id, parent) if parent else None,
        user_id=make_id(site.id, user_id) if user_id else None,
        author=user.get("displayName") or user.get("username"),
        url=f"{post_url}?commentId={comment_id}" if post_url else None,
        posted_at=as_time(data.get("postedAt")), edited_at=as_time(data.get("lastEditedAt")),
        score=data.get("baseScore"), vote_count=data.get("voteCount"), af=bool(data.get("af")),
        answer=bool(data.get("answer")), deleted=bool(data.get("deleted")),
        body_html=contents.get("html") or data.get("htmlBody"),
        body_markdown=contents.get("markdown"),
    )


def _author(data: dict) -> tuple[dict, str | None]:
    user = as_dict(data.get("user"), "user")
    return user, as_str(user.get("_id"), "user._id")


def _users_of(site: ForumSite, items: list[dict]) -> list[User]:
    users = {}
    for item in items:
        for data in [item.get("user")] + dicts(item.get("coauthors"), "coauthors"):
            user = user_record(site, data)
            if user:
                users[user.id] = user
    return list(users.values())


# -- threads -----------------------------------------------------------------------------------


def fetch_thread(http, ref: ThreadRef, endpoint: str | None = None) -> Iterator[Page]:
    """The post, then every comment (and, for questions, every answer and reply)."""
    site, client, post, first = _open_thread(http, ref, endpoint)
    yield first
    seen: list[str] = []
    views = ["postCommentsOld"] + (["answersAndReplies"] if post.question else [])
    for view in views:
        for batch in _comments_by_date(client, view, {"postId": ref.thread_id}):
            comments = each(lambda c: comment_record(site, c, post.url), batch, "comment")
            seen.extend(c.id for c in comments)
            yield Page(users=_users_of(site, batch), comments=comments)
    yield Page(complete_post_ids=[post.id], seen_comment_ids=seen)


def _open_thread(http, ref: ThreadRef, endpoint: str | None):
    """Fetch the post: (site, client, post record, first page) or NotFound."""
    site = SITES[ref.site]
    client = Client(http, site, endpoint)
    data = client.single("post", ref.thread_id, POST_FIELDS)
    if not data:
        raise NotFound(f"no post {ref.thread_id} on {site.name} ({ref.url})")
    post = post_record(site, data)
    return site, client, post, Page(sites=[site.record()], users=_users_of(site, [data]),
                                    posts=[post])


def _by_date(fetch, limit: int | None = None, newest_first: bool = False):
    """Page a date-sorted view: ``fetch(cursor, size)`` returns up to ``size`` documents.

    The cursor is a date (``after`` is inclusive, ``before`` exclusive, so a ``before`` cursor is
    moved 1 ms past the oldest date to keep ties), and it stops at ``limit`` documents or when a
    page comes back short.
    """
    def page(cursor: str | None, remaining: int | None):
        size = PAGE_LIMIT if remaining is None else min(PAGE_LIMIT, remaining)
        results = fetch(cursor, size)
        stamps = [s for s in (d.get("postedAt") for d in results)
                  if isinstance(s, str) and as_time(s, "postedAt")]  # kept to the millisecond
        if len(results) < size or not stamps:
            return results, None
        return results, (_bump(min(stamps), +1) if newest_first else max(stamps))

    return paged(page, lambda d: d.get("_id"), limit)


def _comments_by_date(client: Client, view: str, terms: dict, limit: int | None = None,
                      newest_first: bool = False, since: str | None = None):
    def fetch(cursor: str | None, size: int) -> list[dict]:
        page_terms = dict(terms)
        if since:
            page_terms["after"] = since
        if cursor:
            page_terms["before" if newest_first else "after"] = cursor
        return client.multi("comments", view, page_terms, size, _fields_for(view))

    return _by_date(fetch, limit, newest_first)


def _fields_for(view: str) -> str:
    if view == "allRecentComments":
        return COMMENT_FIELDS + f" post {{ {STUB_POST_FIELDS} }}"
    return COMMENT_FIELDS


def _bump(stamp: str, millis: int) -> str:
    """Move an ISO timestamp by ``millis`` ms: ``before`` is exclusive, so ties are not lost."""
    from datetime import datetime, timedelta

    dt = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(milliseconds=millis)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


# -- users -------------------------------------------------------------------------------------


def fetch_user(http, ref: UserRef, posts: int | None = None, comments: int | None = None,
               since: str | None = None, endpoint: str | None = None) -> Iterator[Page]:
    """The profile, then the user's posts and comments (newest first), each comment's post as a stub.

    ``posts``/``comments``: how many (None = all). ``since``: only items posted at/after it.
    """
    site = SITES[ref.site]
    client = Client(http, site, endpoint)
    found = client.multi("users", "usersProfile", {"slug": ref.slug}, 1, PROFILE_FIELDS)
    if not found:
        raise NotFound(f"no user {ref.slug!r} on {site.name}; check the slug in the profile URL")
    profile = user_record(site, found[0], profile=True)
    if profile is None:
        raise FetchError(f"{site.name} sent the profile of {ref.slug!r} without a usable user id; "
                         "try again later")
    yield Page(sites=[site.record()], users=[profile])
    if posts != 0:
        for batch in _posts_by_date(client, "userPosts", {"userId": profile.source_id}, posts,
                                    since):
            yield Page(users=_users_of(site, batch),
                       posts=each(lambda p: post_record(site, p), batch, "post"))
    if comments != 0:
        terms = {"userId": profile.source_id, "sortBy": "new"}
        for batch in _comments_by_date(client, "allRecentComments", terms, comments,
                                       newest_first=True, since=since):
            stubs = each(lambda c: post_record(site, c["post"], stub=True),
                         [c for c in batch if isinstance(c.get("post"), dict)], "post")
            yield Page(users=_users_of(site, batch), posts=stubs,
                       comments=each(lambda c: comment_record(site, c, _post_url(c)), batch,
                                     "comment"))


def _post_url(comment: dict) -> str | None:
    return as_str(as_dict(comment.get("post")).get("pageUrl"))


def _posts_by_date(client: Client, view: str, terms: dict, limit: int | None,
                   since: str | None, fields: str = POST_FIELDS):
    """A posts view, newest first, paged by date."""
    def fetch(cursor: str | None, size: int) -> list[dict]:
        page_terms = {**terms, "sortedBy": "new", "after": since, "before": cursor}
        return client.multi("posts", view, page_terms, size, fields)

    return _by_date(fetch, limit, newest_first=True)


# -- incremental fetches for `archiver sync` ------------------------------------------------------

TAG_POST_FIELDS = "_id slug title pageUrl postedAt baseScore commentCount af"


def fetch_thread_since(http, ref: ThreadRef, since: str,
                       endpoint: str | None = None) -> Iterator[Page]:
    """Re-check an archived thread: the post (score, edits) and the comments posted since ``since``.

    Cheaper than ``fetch_thread`` for a long active thread. It is not a complete fetch, so nothing
    is flagged missing; ``archiver sync`` still does a full fetch now and then.
    """
    site, client, post, first = _open_thread(http, ref, endpoint)
    yield first
    views = ["postCommentsOld"] + (["answersAndReplies"] if post.question else [])
    for view in views:
        for batch in _comments_by_date(client, view, {"postId": ref.thread_id}, since=since):
            yield Page(users=_users_of(site, batch),
                       comments=each(lambda c: comment_record(site, c, post.url), batch,
                                     "comment"))


def fetch_tag_posts(http, site: str, tag_slug: str, after: str, min_score: int | None = None,
                    endpoint: str | None = None,
                    tag_ids: dict[str, str] | None = None) -> Iterator[Post]:
    """Posts with a tag posted at/after ``after``, newest first, as stubs (id, title, URL, score).

    Only posts with at least ``min_score`` karma are yielded. The tag is found by slug
    (``tagBySlug``, skipped when ``tag_ids`` already holds it); its posts come from the
    ``tagRelevance`` view sorted by date and paged by date.
    """
    forum = SITES[SITE_OPTION.get(site, site)]
    client = Client(http, forum, endpoint)
    tag_ids = {} if tag_ids is None else tag_ids
    if not tag_ids.get(tag_slug):
        tags = client.multi("tags", "tagBySlug", {"slug": tag_slug}, 1, "_id name slug")
        if not tags:
            raise NotFound(f"no tag {tag_slug!r} on {forum.name}; check the slug in the tag's URL "
                           "(/tag/<slug>)")
        tag_ids[tag_slug] = tags[0]["_id"]
    pages = _posts_by_date(client, "tagRelevance", {"tagId": tag_ids[tag_slug]}, None, after,
                           TAG_POST_FIELDS)
    for batch in pages:
        for data in batch:
            if min_score is None or (data.get("baseScore") or 0) >= min_score:
                yield post_record(forum, data, stub=True)


# -- saved API responses -----------------------------------------------------------------------


def sniff_saved(text: str, url: str | None = None) -> bool:
    """A saved GraphQL response (``{"data": {"post"|"posts"|"comment(s)"|"user(s)": ...}}``), or
    a post page saved from a browser: ForumMagnum's own or a legacy LessWrong 1.0 page (see
    ``lesswrong_pages``)."""
    if lesswrong_pages.is_forummagnum_page(text) or lesswrong_pages.is_lesswrong1_page(text):
        return True
    obj = _json_object(text)
    data = obj.get("data") if isinstance(obj, dict) else None
    return isinstance(data, dict) and any(
        k in data for k in ("post", "posts", "comment", "comments", "user", "users"))


def _json_object(text: str):
    if text.lstrip()[:1] not in ("{", "["):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def parse_saved(text: str, url: str | None = None) -> list[Page] | None:
    """The posts, comments and users of a saved GraphQL response (any of the queries above) or
    saved post page. A saved file never sets ``complete_post_ids``: nothing is flagged missing."""
    if not sniff_saved(text, url):
        return None
    if text.lstrip()[:1] not in ("{", "["):
        return _saved_page(text, url)
    obj = _json_object(text)
    items = list(_graphql_items(obj))
    forum = _saved_site(url, items)
    users, posts, comments = {}, [], []
    for item in items:
        if "postId" in item:
            comments.append(comment_record(forum, item, f"{forum.base}/posts/{item['postId']}"))
        elif any(k in item for k in ("title", "pageUrl", "htmlBody", "contents")):
            item = dict(item)
            if not item.get("_id"):
                item["_id"] = _post_id_from_url(item.get("pageUrl"))
            if not item.get("_id"):
                continue
            posts.append(post_record(forum, item))
        elif item.get("_id") and any(k in item for k in ("slug", "username", "displayName")):
            user = user_record(forum, item, profile="bio" in item or "htmlBio" in item)
            if user:  # None when the _id is not text (odd data): the item is skipped
                users[user.id] = user
            continue
        for data in [item.get("user")] + list(item.get("coauthors") or []):
            user = user_record(forum, data) if isinstance(data, dict) else None
            if user and user.id not in users:
                users[user.id] = user
    if not (posts or comments or users):
        raise UsageError("a ForumMagnum response with no post, comment or user in it")
    return [Page(sites=[forum.record()], users=list(users.values()), posts=posts,
                 comments=comments)]


def _saved_page(text: str, url: str | None) -> list[Page]:
    if lesswrong_pages.is_forummagnum_page(text):
        found = lesswrong_pages.forummagnum_page(text, url, _post_id_from_url)
        if found is None:
            raise UsageError("a LessWrong/EA Forum page without its post's URL (no canonical "
                             "link); pass --url https://www.lesswrong.com/posts/<id>/<slug>")
        page_url, post, comments = found
        site = _saved_site(page_url, [])
    else:
        found = lesswrong_pages.lesswrong1_page(text, url)
        if found is None:
            raise UsageError("a LessWrong 1.0 page without its post (save the post's own page, "
                             "lesswrong.com/lw/<id>/<slug>/)")
        site, (post, comments) = LESSWRONG, found
    users = {u.id: u for u in (user_record(site, i.get("user")) for i in [post, *comments]) if u}
    records = [comment_record(site, c, post["pageUrl"]) for c in comments]
    for record in records:
        if record.source_id.startswith("lw1-"):  # 1.0 permalinks: /lw/<post>/<slug>/<comment>
            record.url = post["pageUrl"].rstrip("/") + "/" + record.source_id[4:]
    return [Page(sites=[site.record()], users=list(users.values()), posts=[post_record(site, post)],
                 comments=records)]


def _graphql_items(obj) -> Iterator[dict]:
    data = obj.get("data") if isinstance(obj, dict) else None
    for value in (data or {}).values():
        if isinstance(value, dict) and ("result" in value or "results" in value):
            value = value.get("result") or value.get("results")
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                yield item


def _saved_site(url: str | None, items: list[dict]) -> ForumSite:
    for candidate in [url] + [i.get("pageUrl") for i in items]:
        host = (urlsplit(candidate).hostname or "").lower() if isinstance(candidate, str) else ""
        if host in HOSTS:
            return SITES[HOSTS[host]]
    return LESSWRONG


def _post_id_from_url(url: str | None) -> str | None:
    if not isinstance(url, str):
        return None
    match = POST_PATH.match(urlsplit(url).path)
    return match.group(1) if match else None


# -- the source --------------------------------------------------------------------------------


def _site_record(ref: ThreadRef | UserRef) -> Site:
    return SITES[ref.site].record()


# -- the light change check ----------------------------------------------------------------------

CHECK_FIELDS = "_id commentCount lastCommentedAt modifiedAt"
CHECK_BATCH = 50  # posts per GraphQL request (one aliased field per post)


def check_threads(http, refs: list[ThreadRef],
                  endpoint: str | None = None) -> dict[str, ThreadSignature]:
    """Each post's comment count, last comment and modification stamp: one aliased GraphQL
    request per CHECK_BATCH posts of a site (``p0: post(...) p1: post(...)``)."""
    out: dict[str, ThreadSignature] = {}
    by_site: dict[str, list[ThreadRef]] = {}
    for ref in refs:
        by_site.setdefault(ref.site, []).append(ref)
    for site_id, group in by_site.items():
        client = Client(http, SITES[site_id], endpoint)
        for start in range(0, len(group), CHECK_BATCH):
            batch = group[start:start + CHECK_BATCH]
            data = client._run(_aliased(batch, legacy=False), _aliased(batch, legacy=True))
            for i, ref in enumerate(batch):
                found = (data.get(f"p{i}") or {}).get("result")
                if isinstance(found, dict):
                    out[ref.thread_id] = ThreadSignature(
                        _int_or_none(found.get("commentCount")),
                        _str_or_none(found.get("lastCommentedAt")),
                        _str_or_none(found.get("modifiedAt")))
    return out


def _aliased(refs: list[ThreadRef], legacy: bool) -> str:
    parts = []
    for i, ref in enumerate(refs):
        selector = f"{{_id: {gql(ref.thread_id)}}}"
        args = f"input: {{selector: {selector}}}" if legacy else f"selector: {selector}"
        parts.append(f"p{i}: post({args}) {{ result {{ {CHECK_FIELDS} }} }}")
    return "{ " + " ".join(parts) + " }"


def _int_or_none(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_or_none(value) -> str | None:
    return value[:64] if isinstance(value, str) else None


SOURCE = ForumSource(
    name=NAME, title="LessWrong, the Alignment Forum, the EA Forum",
    sites=(SiteSpec("lesswrong", LESSWRONG.name, aliases=("alignmentforum",)),
           SiteSpec("eaforum", EAFORUM.name)),
    thread_examples=("https://www.lesswrong.com/posts/uMQ3cqWDPHhjtiesc/agi-ruin-a-list-of-lethalities",
                     "lesswrong:uMQ3cqWDPHhjtiesc",
                     "https://www.alignmentforum.org/posts/uMQ3cqWDPHhjtiesc",
                     "https://forum.effectivealtruism.org/posts/abcdefgh12345678/a-post",
                     "https://www.greaterwrong.com/posts/uMQ3cqWDPHhjtiesc/agi-ruin"),
    user_examples=("https://www.lesswrong.com/users/eliezer_yudkowsky",),
    parse_thread_url=parse_thread_url, fetch_thread=fetch_thread, site_record=_site_record,
    parse_user_url=parse_user_url, fetch_user=fetch_user, fetch_thread_since=fetch_thread_since,
    fetch_tag_posts=fetch_tag_posts, sniff_saved=sniff_saved, parse_saved=parse_saved,
    check_threads=check_threads,
    fallback="greaterwrong",
    description="GraphQL API; GreaterWrong's HTML when the API refuses.",
)
