"""A loopback Hacker News: the Algolia HN API and the official Firebase API over one item store.

Items are kept in the Firebase shape (``id type by time text parent kids title url score
descendants dead deleted``); the Algolia views are derived from them the way Algolia presents
them: ``/items/{id}`` nests the whole tree under ``children`` with ``author``, ``points``,
``created_at``/``created_at_i``, ``parent_id`` and ``story_id``; a deleted comment keeps its place
with ``author`` and ``text`` null; dead items are not indexed. ``/search_by_date`` answers
``tags=comment,author_<name>`` / ``tags=story,author_<name>`` newest first with ``numericFilters``
on ``created_at_i`` and ``hitsPerPage`` capped at 1,000. Firebase answers ``null`` for an unknown
item or user; Algolia answers 404 ``{"error": "Not Found", "status": 404}``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from werkzeug.wrappers import Request, Response

EPOCH = 1714564800  # 2024-05-01T12:00:00Z


def iso_ms(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class FakeHN:
    items: dict[int, dict] = field(default_factory=dict)
    users: dict[str, dict] = field(default_factory=dict)
    algolia_down: bool = False
    requests: list[str] = field(default_factory=list)

    # -- building ---------------------------------------------------------------------------

    def story(self, sid: int, title: str, by: str, text: str | None = None, url: str | None = None,
              at: int = EPOCH, score: int = 100) -> dict:
        item = {"by": by, "descendants": 0, "id": sid, "kids": [], "score": score, "time": at,
                "title": title, "type": "story"}
        if url:
            item["url"] = url
        if text:
            item["text"] = text
        self.items[sid] = item
        return item

    def comment(self, cid: int, parent: int, by: str, text: str, at: int | None = None,
                **extra) -> dict:
        item = {"by": by, "id": cid, "kids": [], "parent": parent, "text": text,
                "time": at if at is not None else EPOCH + cid % 100000, "type": "comment", **extra}
        self.items[cid] = item
        self.items[parent]["kids"].append(cid)
        story = self._story_of(cid)
        story["descendants"] = story.get("descendants", 0) + 1
        return item

    def delete(self, cid: int) -> None:
        """What HN does on deletion: the item stays, without author and text."""
        item = self.items[cid]
        for key in ("by", "text"):
            item.pop(key, None)
        item["deleted"] = True

    def _story_of(self, item_id: int) -> dict:
        item = self.items[item_id]
        while item["type"] == "comment":
            item = self.items[item["parent"]]
        return item

    # -- HTTP -------------------------------------------------------------------------------

    def handler(self, request: Request) -> Response:
        path = request.path
        self.requests.append(request.full_path)
        firebase = re.fullmatch(r"/v0/(item|user)/([^/]+)\.json", path)
        if firebase:
            kind, key = firebase.groups()
            found = (self.items.get(int(key)) if key.isdigit() else None) if kind == "item" \
                else self.users.get(key)
            return _json(found and _firebase_user(found) if kind == "user" else found)
        if self.algolia_down:
            return Response("<html><body>502 Bad Gateway</body></html>", status=502,
                            content_type="text/html")
        item = re.fullmatch(r"/items/(\d+)", path)
        if item:
            found = self.items.get(int(item.group(1)))
            if not found or found.get("dead"):
                return _json({"error": "Not Found", "status": 404}, 404)
            return _json(self._algolia_tree(found))
        user = re.fullmatch(r"/users/([^/]+)", path)
        if user:
            found = self.users.get(user.group(1))
            if not found:
                return _json({"error": "Not Found", "status": 404}, 404)
            return _json(self._algolia_user(found))
        if path == "/search":  # the change check: tags=story,(story_1,story_2)
            group = re.fullmatch(r"story,\(([\w,]+)\)", request.args.get("tags", ""))
            wanted = [int(t[6:]) for t in group.group(1).split(",")] if group else []
            found = [self.items[i] for i in wanted if i in self.items
                     and self.items[i]["type"] == "story" and not self.items[i].get("dead")]
            return _json({"hits": [self._hit(i) for i in found], "nbHits": len(found)})
        if path == "/search_by_date":
            return _json(self._search(request.args))
        return _json({"message": "not found", "status": 404}, 404)

    # -- Algolia shapes ---------------------------------------------------------------------

    def _algolia_tree(self, item: dict) -> dict:
        story = self._story_of(item["id"])
        deleted = item.get("deleted")
        node = {
            "id": item["id"], "created_at": iso_ms(item["time"]), "created_at_i": item["time"],
            "type": item["type"], "author": None if deleted else item.get("by"),
            "title": item.get("title"), "url": item.get("url"),
            "text": None if deleted else item.get("text"), "points": item.get("score"),
            "parent_id": item.get("parent"), "story_id": story["id"], "options": [],
            "children": [self._algolia_tree(self.items[k]) for k in item.get("kids") or []
                         if not self.items[k].get("dead")],
        }
        return node

    def _algolia_user(self, user: dict) -> dict:
        return {"id": user["num"], "username": user["id"], "about": user.get("about"),
                "karma": user["karma"], "created_at": iso_ms(user["created"]),
                "created_at_i": user["created"], "avg": None, "delay": 0,
                "submitted": len(user.get("submitted") or []), "updated_at": iso_ms(EPOCH),
                "submission_count": user.get("submission_count"),
                "comment_count": user.get("comment_count"), "objectID": user["id"]}

    def _search(self, args) -> dict:
        tags = args.get("tags", "").split(",")
        per_page = min(int(args.get("hitsPerPage", 20)), 1000)
        kind = next(t for t in tags if not t.startswith("author_"))
        author = next(t[len("author_"):] for t in tags if t.startswith("author_"))
        hits = [i for i in self.items.values() if i["type"] == kind and i.get("by") == author
                and not i.get("dead") and not i.get("deleted")]
        for condition in filter(None, args.get("numericFilters", "").split(",")):
            field_, op, value = re.fullmatch(r"(\w+)(<=|>=|<|>|=)(\d+)", condition).groups()
            hits = [h for h in hits if _compare(h["time"], op, int(value))]
        hits.sort(key=lambda i: (i["time"], i["id"]), reverse=True)
        page = int(args.get("page", 0))
        chosen = hits[page * per_page:(page + 1) * per_page]
        return {"hits": [self._hit(i) for i in chosen], "nbHits": len(hits),
                "nbPages": -(-len(hits) // per_page), "page": page, "hitsPerPage": per_page,
                "exhaustiveNbHits": True, "query": "", "params": "", "processingTimeMS": 1}

    def _hit(self, item: dict) -> dict:
        story = self._story_of(item["id"])
        hit = {"_tags": [item["type"], f"author_{item['by']}", f"story_{story['id']}"],
               "author": item["by"], "created_at": iso_ms(item["time"]),
               "created_at_i": item["time"], "objectID": str(item["id"]),
               "updated_at": iso_ms(item["time"]), "_highlightResult": {}}
        if item["type"] == "comment":
            hit.update(comment_text=item["text"], parent_id=item["parent"], story_id=story["id"],
                       story_title=story["title"], story_url=story.get("url"), points=None)
        else:
            hit.update(title=item["title"], url=item.get("url"), story_text=item.get("text"),
                       points=item["score"], num_comments=item.get("descendants", 0),
                       story_id=item["id"])
        return hit


def _firebase_user(user: dict) -> dict:
    return {k: user[k] for k in ("about", "created", "id", "karma", "submitted") if k in user}


def _compare(left: int, op: str, right: int) -> bool:
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right,
            "=": left == right}[op]


def _json(obj, status: int = 200) -> Response:
    return Response(json.dumps(obj), status=status, content_type="application/json")
