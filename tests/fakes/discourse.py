"""A loopback Discourse forum answering the public JSON routes the way Discourse does.

- ``/t/<id>.json``: the topic (``id title fancy_title slug posts_count created_at tags
  category_id ...``) with ``post_stream.posts`` holding the first ``chunk`` (20) posts and
  ``post_stream.stream`` the ids of all of them.
- ``/t/<id>/posts.json?post_ids[]=…``: ``{"post_stream": {"posts": [...]}, "id": <topic>}``.
- ``/posts/by_number/<topic>/<n>.json``: one post.
- ``/u/<name>.json`` (``{"user_badges": [], "user": {...}}``) and ``/user_actions.json``
  (``{"user_actions": [...]}``, 30 per page by ``offset``; filter 4 = topics, 5 = replies).
- Errors: 404 ``{"errors": [...], "error_type": "not_found"}``, a private topic 403
  ``{"errors": [...], "error_type": "invalid_access"}``.
Posts carry the fields of Discourse's ``topic_show_response`` schema.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from werkzeug.wrappers import Request, Response

START = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def stamp(n: int) -> str:
    return (START + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def quote(username: str, post_number: int, topic_id: int, text: str) -> str:
    """Discourse's cooked markup for a quote made with the quote button."""
    return (f'<aside class="quote no-group" data-username="{username}" data-post="{post_number}" '
            f'data-topic="{topic_id}">\n<div class="title">\n<div class="quote-controls"></div>\n'
            f'<img loading="lazy" alt="" width="24" height="24" src="/letter_avatar_proxy/v4/'
            f'letter/{username[0]}/3be4f8/48.png" class="avatar"> {username}:</div>\n'
            f"<blockquote>\n<p>{text}</p>\n</blockquote>\n</aside>\n")


@dataclass
class FakeDiscourse:
    topics: dict[int, dict] = field(default_factory=dict)
    posts: dict[int, dict] = field(default_factory=dict)  # post id -> post
    users: dict[str, dict] = field(default_factory=dict)
    private: set[int] = field(default_factory=set)
    chunk: int = 20
    requests: list[str] = field(default_factory=list)
    next_post_id: int = 1000

    # -- building ---------------------------------------------------------------------------

    def topic(self, tid: int, title: str, author: str, cooked: str, tags=("sae", "interp")) -> dict:
        self.topics[tid] = {
            "tags": list(tags), "tags_descriptions": {}, "id": tid, "title": title,
            "fancy_title": title.replace("&", "&amp;"), "posts_count": 0,
            "created_at": stamp(0), "views": 120, "reply_count": 0, "like_count": 3,
            "last_posted_at": stamp(0), "visible": True, "closed": False, "archived": False,
            "has_summary": False, "archetype": "regular",
            "slug": re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-"), "category_id": 5,
            "word_count": 100, "deleted_at": None, "user_id": self._uid(author),
            "featured_link": None, "pinned_globally": False, "pinned_at": None,
            "pinned_until": None, "image_url": None, "slow_mode_seconds": 0, "draft": None,
            "draft_key": f"topic_{tid}", "draft_sequence": 0, "unpinned": None, "pinned": False,
            "current_post_number": 1, "highest_post_number": 0, "deleted_by": None,
            "has_deleted": False, "actions_summary": [], "chunk_size": 20, "bookmarked": False,
            "timeline_lookup": [], "suggested_topics": [],
            "details": {"can_edit": False, "notification_level": 1, "participants": [],
                        "created_by": {"id": self._uid(author), "username": author,
                                       "name": author.title(), "avatar_template": ""}},
        }
        self.post(tid, author, cooked)
        return self.topics[tid]

    def post(self, tid: int, author: str, cooked: str, reply_to: int | None = None,
             likes: int = 0, **extra) -> dict:
        topic = self.topics[tid]
        number = topic["highest_post_number"] + 1
        topic["highest_post_number"] = number
        topic["posts_count"] += 1
        self.next_post_id += 1
        pid = self.next_post_id
        post = {
            "id": pid, "name": author.title(), "username": author,
            "avatar_template": f"/letter_avatar_proxy/v4/letter/{author[0]}/3be4f8/{{size}}.png",
            "created_at": stamp(number), "cooked": cooked, "post_number": number, "post_type": 1,
            "updated_at": stamp(number), "reply_count": 0, "reply_to_post_number": reply_to,
            "quote_count": 0, "incoming_link_count": 0, "reads": 10, "readers_count": 9,
            "score": 2.0, "yours": False, "topic_id": tid, "topic_slug": topic["slug"],
            "display_username": author.title(), "primary_group_name": None, "flair_name": None,
            "flair_url": None, "flair_bg_color": None, "flair_color": None, "version": 1,
            "can_edit": False, "can_delete": False, "can_recover": False, "can_wiki": False,
            "link_counts": [], "read": True, "user_title": None, "bookmarked": False,
            "actions_summary": [{"id": 2, "count": likes}] if likes else [],
            "moderator": False, "admin": False, "staff": False, "user_id": self._uid(author),
            "hidden": False, "trust_level": 1, "deleted_at": None, "user_deleted": False,
            "edit_reason": None, "can_view_edit_history": True, "wiki": False,
            "reviewable_id": 0, "reviewable_score_count": 0, "reviewable_score_pending_count": 0,
            **extra,
        }
        self.posts[pid] = post
        topic["last_posted_at"] = topic["bumped_at"] = post["created_at"]
        return post

    def by_number(self, tid: int, number: int) -> dict:
        return next(p for p in self.posts.values()
                    if p["topic_id"] == tid and p["post_number"] == number)

    @staticmethod
    def _uid(username: str) -> int:
        return sum(ord(ch) for ch in username)

    # -- HTTP -------------------------------------------------------------------------------

    def handler(self, request: Request) -> Response:
        self.requests.append(request.full_path)
        path = request.path
        match = re.fullmatch(r"/t/(\d+)(/posts)?\.json", path)
        if match:
            tid = int(match.group(1))
            if tid not in self.topics:
                return _error(404)
            if tid in self.private:
                return _error(403)
            if match.group(2):
                ids = [int(i) for i in request.args.getlist("post_ids[]")]
                return _json({"post_stream": {"posts": [self.posts[i] for i in ids
                                                        if i in self.posts]}, "id": tid})
            return _json(self._topic(tid))
        match = re.fullmatch(r"/posts/by_number/(\d+)/(\d+)\.json", path)
        if match:
            try:
                return _json(self.by_number(int(match.group(1)), int(match.group(2))))
            except StopIteration:
                return _error(404)
        match = re.fullmatch(r"/u/([\w.-]+)\.json", path)
        if match:
            user = self.users.get(match.group(1))
            return _json({"user_badges": [], "user": user}) if user else _error(404)
        if path == "/user_actions.json":
            return _json(self._actions(request.args))
        return _error(404)

    def _stream(self, tid: int) -> list[dict]:
        return sorted((p for p in self.posts.values() if p["topic_id"] == tid),
                      key=lambda p: p["post_number"])

    def _topic(self, tid: int) -> dict:
        stream = self._stream(tid)
        return {"post_stream": {"posts": stream[:self.chunk], "stream": [p["id"] for p in stream]},
                **self.topics[tid]}

    def _actions(self, args) -> dict:
        name, kind = args["username"], int(args["filter"])
        offset = int(args.get("offset", 0))
        mine = [p for p in self.posts.values() if p["username"] == name
                and (p["post_number"] == 1) == (kind == 4)]
        mine.sort(key=lambda p: p["created_at"], reverse=True)
        items = []
        for post in mine[offset:offset + 30]:
            topic = self.topics[post["topic_id"]]
            items.append({
                "excerpt": post["cooked"][:100], "action_type": kind,
                "created_at": post["created_at"], "avatar_template": post["avatar_template"],
                "acting_avatar_template": post["avatar_template"], "slug": topic["slug"],
                "topic_id": topic["id"], "target_user_id": post["user_id"],
                "target_name": post["name"], "target_username": name,
                "post_number": post["post_number"], "post_id": post["id"], "username": name,
                "name": post["name"], "user_id": post["user_id"], "acting_username": name,
                "acting_name": post["name"], "acting_user_id": post["user_id"],
                "title": topic["title"], "deleted": False, "hidden": False, "post_type": 1,
                "action_code": None, "category_id": topic["category_id"], "closed": False,
                "archived": False, "reply_to_post_number": post["reply_to_post_number"]})
        return {"user_actions": items}


def profile(username: str, uid: int) -> dict:
    return {"id": uid, "username": username, "name": username.title(), "avatar_template": "",
            "last_posted_at": stamp(5), "last_seen_at": stamp(9), "created_at": "2020-01-02T03:04:05.000Z",
            "ignored": False, "muted": False, "can_ignore_user": False, "trust_level": 2,
            "moderator": False, "admin": False, "title": None, "badge_count": 3,
            "post_count": 12, "profile_view_count": 40, "time_read": 100, "recent_time_read": 10,
            "bio_raw": "I study **sparse autoencoders**.",
            "bio_cooked": "<p>I study <strong>sparse autoencoders</strong>.</p>",
            "bio_excerpt": "I study sparse autoencoders."}


def _json(obj, status: int = 200) -> Response:
    return Response(json.dumps(obj), status=status, content_type="application/json; charset=utf-8")


def _error(status: int) -> Response:
    if status == 403:
        return _json({"errors": ["You are not permitted to view the requested resource."],
                      "error_type": "invalid_access"}, 403)
    return _json({"errors": ["The requested URL or resource could not be found."],
                  "error_type": "not_found"}, 404)
