"""A loopback Reddit serving the public JSON endpoints with Reddit's shapes and limits.

- ``/comments/<id>.json``: ``[post Listing, comment Listing]``; each ``t1`` carries ``replies``
  as ``""`` or a nested Listing. Past ``limit`` comments the rest of a level collapses into a
  ``more`` thing listing the hidden ids (all descendants, ``count`` = how many); past
  ``depth_limit`` a reply chain ends in a "continue this thread" ``more`` (``id "_"``,
  ``count 0``, no children), served by ``/comments/<id>/_/<comment id>.json``.
- ``/api/morechildren.json?api_type=json&link_id=t3_…&children=…``: the asked things as a flat
  list (``replies: ""``) in ``{"json": {"errors": [], "data": {"things": [...]}}}``; answers
  over ``more_cap`` things end in a new ``more``.
- HTML fields are entity-escaped unless ``raw_json=1`` (Reddit's legacy escaping).
- Errors: 404 ``{"message": "Not Found", "error": 404}``; a private subreddit 403 ``{"reason":
  "private", "message": "Forbidden", "error": 403}``.
- Users: ``/user/<name>/about.json`` (``t2``), ``/user/<name>/comments.json`` and
  ``submitted.json`` Listings paged by ``after`` (≤100 per page, newest first).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field

from werkzeug.wrappers import Request, Response

EPOCH = 1714564800.0


def md_html(text: str) -> str:
    """Reddit's rendering of a Markdown body: paragraphs, quotes and bold in ``div.md``."""
    parts = []
    for para in text.split("\n\n"):
        para = re.sub(r"\*\*(.+?)\*\*", "\x01\\1\x02", para)
        if para.startswith("> "):
            parts.append(f"<blockquote>\n<p>{html.escape(para[2:], quote=False)}</p>\n</blockquote>")
        else:
            parts.append(f"<p>{html.escape(para, quote=False)}</p>")
    rendered = "\n\n".join(parts).replace("\x01", "<strong>").replace("\x02", "</strong>")
    return '<div class="md">' + rendered + "\n</div>"


@dataclass
class FakeReddit:
    posts: dict[str, dict] = field(default_factory=dict)
    comments: dict[str, dict] = field(default_factory=dict)  # id -> t1 data (without replies)
    users: dict[str, dict] = field(default_factory=dict)
    private: set[str] = field(default_factory=set)  # post ids in a private subreddit
    limit_cap: int = 500
    depth_limit: int = 10
    more_cap: int = 100
    requests: list[str] = field(default_factory=list)
    more_sizes: list[int] = field(default_factory=list)
    _index: dict | None = field(default=None, repr=False)

    # -- building ---------------------------------------------------------------------------

    def post(self, pid: str, title: str, author: str, selftext: str = "", sub: str = "MachineLearning",
             at: float = EPOCH) -> dict:
        permalink = f"/r/{sub}/comments/{pid}/{title.lower().replace(' ', '_')}/"
        data = {
            "approved_at_utc": None, "subreddit": sub, "selftext": selftext,
            "author_fullname": f"t2_{author}", "saved": False, "gilded": 0, "clicked": False,
            "title": title, "subreddit_name_prefixed": f"r/{sub}", "hidden": False, "downs": 0,
            "name": f"t3_{pid}", "upvote_ratio": 0.97, "subreddit_type": "public", "ups": 321,
            "is_self": True, "domain": f"self.{sub}", "score": 321, "edited": False,
            "selftext_html": ("<!-- SC_OFF -->" + md_html(selftext) + "<!-- SC_ON -->")
            if selftext else None,
            "link_flair_text": "Research", "over_18": False, "removed_by_category": None,
            "id": pid, "author": author, "num_comments": 0, "permalink": permalink,
            "url": f"https://www.reddit.com{permalink}", "created": at, "created_utc": at,
            "stickied": False, "locked": False, "subreddit_id": "t5_2r3gv",
        }
        self.posts[pid] = data
        return data

    def comment(self, cid: str, parent: str, author: str, body: str, at: float | None = None) -> dict:
        """``parent`` is a fullname: ``t3_<post>`` or ``t1_<comment>``."""
        pid = parent[3:] if parent.startswith("t3_") else self.comments[parent[3:]]["link_id"][3:]
        post = self.posts[pid]
        depth = 0 if parent.startswith("t3_") else self.comments[parent[3:]]["depth"] + 1
        data = {
            "subreddit_id": "t5_2r3gv", "approved_at_utc": None, "author_is_blocked": False,
            "edited": False, "gilded": 0, "archived": False, "no_follow": True,
            "author": author, "can_mod_post": False, "created_utc": at or EPOCH + len(self.comments) + 1,
            "send_replies": True, "parent_id": parent, "score": 7, "author_fullname": f"t2_{author}",
            "controversiality": 0, "body": body, "score_hidden": False, "stickied": False,
            "link_id": f"t3_{pid}", "name": f"t1_{cid}", "id": cid, "subreddit": post["subreddit"],
            "is_submitter": author == post["author"], "collapsed": False, "distinguished": None,
            "body_html": md_html(body), "permalink": f"{post['permalink']}{cid}/", "depth": depth,
            "subreddit_name_prefixed": post["subreddit_name_prefixed"], "ups": 7, "downs": 0,
            "created": at or EPOCH + len(self.comments) + 1, "locked": False, "replies": "",
        }
        self.comments[cid] = data
        self._index = None
        post["num_comments"] += 1
        return data

    def remove(self, cid: str, how: str = "[deleted]") -> None:
        data = self.comments[cid]
        data.update(body=how, author="[deleted]", body_html=md_html(how))
        data.pop("author_fullname", None)
        self._index = None

    def children_of(self, fullname: str) -> list[dict]:
        if self._index is None:  # parent fullname -> children, rebuilt after any change
            self._index = {}
            for c in self.comments.values():
                self._index.setdefault(c["parent_id"], []).append(c)
            for kids in self._index.values():
                kids.sort(key=lambda c: (c["created_utc"], c["id"]))
        return self._index.get(fullname, [])

    def descendants(self, fullname: str) -> list[str]:
        out = []
        for child in self.children_of(fullname):
            out.append(child["id"])
            out.extend(self.descendants(f"t1_{child['id']}"))
        return out

    # -- HTTP -------------------------------------------------------------------------------

    def handler(self, request: Request) -> Response:
        self.requests.append(request.full_path)
        self._index = None  # tests edit ``comments`` directly between requests
        path, args = request.path, request.args
        raw = args.get("raw_json") == "1"
        match = re.fullmatch(r"/comments/([a-z0-9]+)(?:/_/([a-z0-9]+))?\.json", path)
        if match:
            pid, focus = match.groups()
            if pid not in self.posts:
                return _json({"message": "Not Found", "error": 404}, 404)
            if pid in self.private:
                return _json({"reason": "private", "message": "Forbidden", "error": 403}, 403)
            limit = min(int(args.get("limit", 200)), self.limit_cap)
            return _json(self._thread(pid, focus, limit), raw=raw)
        if path == "/api/info.json":  # the change check: posts by fullname, in one Listing
            wanted = [name[3:] for name in args.get("id", "").split(",") if name.startswith("t3_")]
            return _json(_listing([{"kind": "t3", "data": self.posts[pid]} for pid in wanted
                                   if pid in self.posts]), raw=raw)
        if path == "/api/morechildren.json":
            return _json(self._more(args), raw=raw)
        match = re.fullmatch(r"/user/([\w-]+)/(about|comments|submitted)\.json", path)
        if match:
            name, what = match.groups()
            if name not in self.users:
                return _json({"message": "Not Found", "error": 404}, 404)
            if what == "about":
                return _json({"kind": "t2", "data": self.users[name]}, raw=raw)
            return _json(self._user_listing(name, what, args), raw=raw)
        return _json({"message": "Not Found", "error": 404}, 404)

    def _thread(self, pid: str, focus: str | None, limit: int) -> list:
        budget = [limit]
        if focus:
            top = [self.comments[focus]]
            base_depth = self.comments[focus]["depth"]
        else:
            top = self.children_of(f"t3_{pid}")
            base_depth = 0
        things = self._level(top, budget, base_depth, f"t3_{pid}")
        return [_listing([{"kind": "t3", "data": self.posts[pid]}], dist=1), _listing(things)]

    def _level(self, items: list[dict], budget: list[int], base_depth: int, parent: str) -> list:
        things = []
        for index, item in enumerate(items):
            if budget[0] <= 0:
                hidden = []
                for rest in items[index:]:
                    hidden += [rest["id"]] + self.descendants(f"t1_{rest['id']}")
                things.append({"kind": "more", "data": {
                    "count": len(hidden), "name": f"t1_{hidden[0]}", "id": hidden[0],
                    "parent_id": items[index]["parent_id"], "depth": items[index]["depth"],
                    "children": hidden}})
                break
            budget[0] -= 1
            data = dict(item)
            kids = self.children_of(f"t1_{item['id']}")
            if kids and item["depth"] - base_depth + 1 >= self.depth_limit:
                data["replies"] = _listing([{"kind": "more", "data": {
                    "count": 0, "name": "t1__", "id": "_", "parent_id": f"t1_{item['id']}",
                    "depth": item["depth"] + 1, "children": []}}])
            elif kids:
                data["replies"] = _listing(self._level(kids, budget, base_depth, item["name"]))
            things.append({"kind": "t1", "data": data})
        return things

    def _more(self, args) -> dict:
        assert args.get("api_type") == "json"
        link = args["link_id"]
        ids = [i for i in args.get("children", "").split(",") if i]
        self.more_sizes.append(len(ids))
        ids = ids[:100]  # Reddit ignores ids past the first 100
        things = [{"kind": "t1", "data": dict(self.comments[i], replies="")} for i in ids
                  if i in self.comments and self.comments[i]["link_id"] == link]
        if len(things) > self.more_cap:
            rest = [t["data"]["id"] for t in things[self.more_cap:]]
            first = self.comments[rest[0]]
            things = things[:self.more_cap] + [{"kind": "more", "data": {
                "count": len(rest), "name": f"t1_{rest[0]}", "id": rest[0],
                "parent_id": first["parent_id"], "depth": first["depth"], "children": rest}}]
        return {"json": {"errors": [], "data": {"things": things}}}

    def _user_listing(self, name: str, what: str, args) -> dict:
        if what == "comments":
            items = [dict(c, replies="", link_title=self.posts[c["link_id"][3:]]["title"],
                          link_permalink="https://www.reddit.com" + self.posts[c["link_id"][3:]]["permalink"],
                          link_author=self.posts[c["link_id"][3:]]["author"],
                          link_url=self.posts[c["link_id"][3:]]["url"])
                     for c in self.comments.values() if c["author"] == name]
            kind = "t1"
        else:
            items = [p for p in self.posts.values() if p["author"] == name]
            kind = "t3"
        items.sort(key=lambda i: (i["created_utc"], i["id"]), reverse=True)
        after = args.get("after")
        if after:
            names = [i["name"] for i in items]
            items = items[names.index(after) + 1:]
        limit = min(int(args.get("limit", 25)), 100)
        page = items[:limit]
        next_after = page[-1]["name"] if len(items) > limit else None
        return _listing([{"kind": kind, "data": i} for i in page], after=next_after)


def profile(name: str, karma: int = 1234) -> dict:
    return {"is_employee": False, "is_friend": False, "name": name, "id": "abc123",
            "created": 1300000000.0, "created_utc": 1300000000.0, "link_karma": karma // 2,
            "comment_karma": karma - karma // 2, "total_karma": karma, "verified": True,
            "has_verified_email": True, "icon_img": "",
            "subreddit": {"title": "", "public_description": "ML researcher; **SAEs**.",
                          "display_name_prefixed": f"u/{name}", "subreddit_type": "user"}}


def _listing(children: list, after: str | None = None, dist: int | None = None) -> dict:
    return {"kind": "Listing", "data": {"after": after, "dist": dist, "modhash": "",
                                        "geo_filter": "", "children": children, "before": None}}


def _escape(value):
    """Reddit's legacy JSON escaping of <, > and & in every string (off with raw_json=1)."""
    if isinstance(value, str):
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if isinstance(value, list):
        return [_escape(v) for v in value]
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    return value


def _json(obj, status: int = 200, raw: bool = True) -> Response:
    return Response(json.dumps(obj if raw else _escape(obj)), status=status,
                    content_type="application/json; charset=UTF-8")
