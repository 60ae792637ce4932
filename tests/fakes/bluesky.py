"""A loopback Bluesky AppView serving the public XRPC queries with the lexicons' shapes.

- ``com.atproto.identity.resolveHandle?handle=`` -> ``{"did"}``; an unknown handle is a 400
  ``{"error": "InvalidRequest", "message": "Unable to resolve handle"}``.
- ``app.bsky.feed.getPostThread?uri=&depth=&parentHeight=`` -> ``{"thread": ...}``: a
  ``#threadViewPost`` (``post``: a ``postView``; ``parent``; ``replies``), deleted replies as
  ``#notFoundPost`` ``{uri, notFound: true}``, blocked ones as ``#blockedPost`` ``{uri, blocked:
  true, author: {did, viewer}}``. The server serves at most ``depth_cap`` levels (below them
  ``replies`` is left out while ``replyCount`` still counts them); a deleted post asked for is a
  400 ``NotFound``.
- ``app.bsky.feed.getQuotes?uri=&cursor=&limit=`` -> ``{"uri", "posts": [postView], "cursor"}``.
- ``app.bsky.actor.getProfile?actor=`` -> ``profileViewDetailed``; unknown: 400 "Profile not
  found".
- ``app.bsky.feed.getAuthorFeed?actor=&cursor=&limit=&filter=`` -> ``{"feed": [{post, reply?,
  reason?}], "cursor"}``, newest first; reposts carry ``reason`` ``#reasonRepost``.

A post view's ``embed`` is the view of the record's embed: ``app.bsky.embed.record#view`` whose
``record`` is a ``#viewRecord`` (``uri, cid, author, value, embeds, counts, indexedAt``) or
``#viewNotFound`` / ``#viewBlocked`` / ``#viewDetached``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

from werkzeug.wrappers import Request, Response

from tests.fakes import Stage

START = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
POST = "app.bsky.feed.post"


def stamp(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class FakeBluesky:
    actors: dict[str, dict] = field(default_factory=dict)  # did -> profile
    posts: dict[str, dict] = field(default_factory=dict)  # uri -> stored post
    reposts: list[tuple[str, str, str]] = field(default_factory=list)  # (did, uri, at)
    depth_cap: int = 1000
    page_cap: int = 100
    requests: list[str] = field(default_factory=list)
    _clock: int = 0

    # -- building ---------------------------------------------------------------------------

    def actor(self, handle: str, name: str | None = None, bio: str = "") -> str:
        did = "did:plc:" + (handle.split(".")[0] + "x" * 24)[:24]
        self.actors[did] = {
            "did": did, "handle": handle, "displayName": name or "", "description": bio,
            "avatar": f"https://cdn.bsky.app/img/avatar/plain/{did}/bafk@jpeg",
            "followersCount": 120, "followsCount": 80, "postsCount": 0,
            "createdAt": "2023-05-01T10:00:00.000Z", "indexedAt": "2024-01-01T00:00:00.000Z",
            "labels": [], "associated": {"lists": 0, "feedgens": 0, "starterPacks": 0},
        }
        return did

    def post(self, did: str, rkey: str, text: str, reply_to: str | None = None,
             quote: str | None = None, facets: list | None = None, at: int | None = None,
             likes: int = 3) -> str:
        uri = f"at://{did}/{POST}/{rkey}"
        self._clock += 1
        record: dict = {"$type": POST, "text": text, "createdAt": stamp(self._clock if at is None
                                                                          else at),
                        "langs": ["en"]}
        if facets:
            record["facets"] = facets
        if reply_to:
            parent = self.posts[reply_to]
            root = parent["record"].get("reply", {}).get("root") or {
                "uri": reply_to, "cid": parent["cid"]}
            record["reply"] = {"root": root, "parent": {"uri": reply_to, "cid": parent["cid"]}}
        if quote:
            record["embed"] = {"$type": "app.bsky.embed.record",
                               "record": {"uri": quote, "cid": "bafyquoted"}}
        self.posts[uri] = {"uri": uri, "cid": f"bafy{rkey}", "did": did, "record": record,
                           "likes": likes, "state": "ok"}
        self.actors[did]["postsCount"] += 1
        return uri

    def delete(self, uri: str) -> None:
        self.posts[uri]["state"] = "deleted"

    def block(self, uri: str) -> None:
        self.posts[uri]["state"] = "blocked"

    def hide(self, uri: str) -> None:
        """Hidden by the thread's author: left out of ``replies``, still in ``replyCount``."""
        self.posts[uri]["state"] = "hidden"

    # -- views ------------------------------------------------------------------------------

    def _author(self, did: str) -> dict:
        a = self.actors[did]
        return {"did": did, "handle": a["handle"], "displayName": a["displayName"],
                "avatar": a["avatar"], "labels": [], "createdAt": a["createdAt"],
                "viewer": {"muted": False, "blockedBy": False}}

    def _replies(self, uri: str) -> list[dict]:
        found = [p for p in self.posts.values()
                 if p["record"].get("reply", {}).get("parent", {}).get("uri") == uri]
        return sorted(found, key=lambda p: str(p["record"]["createdAt"]))

    def _quotes(self, uri: str) -> list[dict]:
        return [p for p in self.posts.values() if p["state"] == "ok"
                and p["record"].get("embed", {}).get("record", {}).get("uri") == uri]

    def _embed_view(self, record: dict) -> dict | None:
        embed = record.get("embed")
        if not embed or embed.get("$type") != "app.bsky.embed.record":
            return None
        quoted = self.posts.get(embed["record"]["uri"])
        if quoted is None or quoted["state"] == "deleted":
            inner = {"$type": "app.bsky.embed.record#viewNotFound", "uri": embed["record"]["uri"],
                     "notFound": True}
        elif quoted["state"] == "blocked":
            inner = {"$type": "app.bsky.embed.record#viewBlocked", "uri": quoted["uri"],
                     "blocked": True, "author": {"did": quoted["did"]}}
        else:
            inner = {"$type": "app.bsky.embed.record#viewRecord", "uri": quoted["uri"],
                     "cid": quoted["cid"], "author": self._author(quoted["did"]),
                     "value": quoted["record"], "labels": [],
                     "likeCount": quoted["likes"], "replyCount": len(self._replies(quoted["uri"])),
                     "repostCount": 0, "quoteCount": len(self._quotes(quoted["uri"])),
                     "indexedAt": quoted["record"]["createdAt"]}
            inner_embed = self._embed_view(quoted["record"])
            if inner_embed:
                inner["embeds"] = [inner_embed]
        return {"$type": "app.bsky.embed.record#view", "record": inner}

    def post_view(self, uri: str) -> dict:
        p = self.posts[uri]
        view = {"uri": uri, "cid": p["cid"], "author": self._author(p["did"]),
                "record": p["record"], "replyCount": len(self._replies(uri)), "repostCount": 1,
                "likeCount": p["likes"], "quoteCount": len(self._quotes(uri)),
                "indexedAt": p["record"]["createdAt"], "viewer": {}, "labels": []}
        embed = self._embed_view(p["record"])
        if embed:
            view["embed"] = embed
        return view

    def _node(self, uri: str, depth: int) -> dict:
        p = self.posts[uri]
        if p["state"] == "deleted":
            return {"$type": "app.bsky.feed.defs#notFoundPost", "uri": uri, "notFound": True}
        if p["state"] == "blocked":
            return {"$type": "app.bsky.feed.defs#blockedPost", "uri": uri, "blocked": True,
                    "author": {"did": p["did"], "viewer": {"blockedBy": True}}}
        node = {"$type": "app.bsky.feed.defs#threadViewPost", "post": self.post_view(uri)}
        if depth > 0:  # at the depth limit the AppView leaves ``replies`` out
            node["replies"] = [self._node(r["uri"], depth - 1) for r in self._replies(uri)
                               if r["state"] != "hidden"]  # counted, not shown (thread gate)
        return node

    # -- serving ----------------------------------------------------------------------------

    def handler(self, request: Request) -> Response:
        nsid = request.path.rsplit("/", 1)[-1]
        args = {k: v[0] for k, v in parse_qs(request.query_string.decode()).items()}
        self.requests.append(nsid + ("?" + request.query_string.decode() if args else ""))
        route = {"com.atproto.identity.resolveHandle": self._resolve,
                 "app.bsky.feed.getPostThread": self._thread,
                 "app.bsky.feed.getQuotes": self._get_quotes,
                 "app.bsky.actor.getProfile": self._profile,
                 "app.bsky.feed.getAuthorFeed": self._feed}.get(nsid)
        if route is None:
            return _error(501, "MethodNotImplemented", "Method Not Implemented")
        return route(args)

    def _resolve(self, args: dict) -> Response:
        for did, actor in self.actors.items():
            if actor["handle"] == args.get("handle"):
                return _json({"did": did})
        return _error(400, "InvalidRequest", "Unable to resolve handle")

    def _thread(self, args: dict) -> Response:
        uri = args.get("uri", "")
        p = self.posts.get(uri)
        if p is None or p["state"] == "deleted":
            return _error(400, "NotFound", f"Post not found: {uri}")
        depth = min(int(args.get("depth", 6)), self.depth_cap)
        node = self._node(uri, depth)
        height = int(args.get("parentHeight", 80))
        child, parent_uri = node, p["record"].get("reply", {}).get("parent", {}).get("uri")
        while height > 0 and parent_uri in self.posts:
            child["parent"] = self._node(parent_uri, 0)
            child = child["parent"]
            parent_uri = self.posts[parent_uri]["record"].get("reply", {}).get(
                "parent", {}).get("uri")
            height -= 1
        return _json({"thread": node})

    def _page(self, items: list, args: dict) -> tuple[list, str | None]:
        start = int(args.get("cursor") or 0)
        limit = min(int(args.get("limit", 50)), self.page_cap)
        chunk = items[start:start + limit]
        return chunk, str(start + limit) if start + limit < len(items) else None

    def _get_quotes(self, args: dict) -> Response:
        quotes = sorted(self._quotes(args.get("uri", "")),
                        key=lambda p: str(p["record"]["createdAt"]), reverse=True)
        chunk, cursor = self._page(quotes, args)
        body = {"uri": args.get("uri"), "posts": [self.post_view(p["uri"]) for p in chunk]}
        if cursor:
            body["cursor"] = cursor
        return _json(body)

    def _did(self, actor: str) -> str | None:
        if actor in self.actors:
            return actor
        return next((d for d, a in self.actors.items() if a["handle"] == actor), None)

    def _profile(self, args: dict) -> Response:
        did = self._did(args.get("actor", ""))
        if did is None:
            return _error(400, "InvalidRequest", "Profile not found")
        return _json(self.actors[did])

    def _feed(self, args: dict) -> Response:
        did = self._did(args.get("actor", ""))
        if did is None:
            return _error(400, "InvalidRequest", "Profile not found")
        entries = []
        for p in self.posts.values():
            if p["did"] == did and p["state"] == "ok":
                entries.append((str(p["record"]["createdAt"]), self._feed_item(p)))
        for who, uri, at in self.reposts:
            if who == did:
                entries.append((at, {"post": self.post_view(uri), "reason": {
                    "$type": "app.bsky.feed.defs#reasonRepost", "by": self._author(did),
                    "indexedAt": at}}))
        entries.sort(key=lambda e: e[0], reverse=True)
        chunk, cursor = self._page([e[1] for e in entries], args)
        body: dict = {"feed": chunk}
        if cursor:
            body["cursor"] = cursor
        return _json(body)

    def _feed_item(self, p: dict) -> dict:
        item = {"post": self.post_view(p["uri"])}
        reply = p["record"].get("reply")
        if reply:
            item["reply"] = {k: self._ref_view(reply[k]["uri"]) for k in ("root", "parent")}
        return item

    def _ref_view(self, uri: str) -> dict:
        p = self.posts.get(uri)
        if p is None or p["state"] == "deleted":
            return {"$type": "app.bsky.feed.defs#notFoundPost", "uri": uri, "notFound": True}
        return {"$type": "app.bsky.feed.defs#postView", **self.post_view(uri)}


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _error(status: int, error: str, message: str) -> Response:
    return _json({"error": error, "message": message}, status)


def stage(httpserver) -> Stage:
    """The contract test's small thread: a post, a reply, and a reply quoting it."""
    fake = FakeBluesky()
    alice, bob = fake.actor("alice.bsky.social", "Alice"), fake.actor("bob.bsky.social", "Bob")
    root = fake.post(alice, "3kroot000000a", "Gated SAEs fix shrinkage in sparse autoencoders.")
    why = fake.post(bob, "3kreply00000b", "Why does gating help?", reply_to=root)
    fake.post(alice, "3kreply00000c", "It separates detection from magnitude.", reply_to=why)
    httpserver.expect_request(re.compile(r"^/xrpc/")).respond_with_handler(fake.handler)
    return Stage("https://bsky.app/profile/alice.bsky.social/post/3kroot000000a",
                 httpserver.url_for("/").rstrip("/"))
