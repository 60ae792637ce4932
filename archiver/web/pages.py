"""Page contexts: query results turned into what the templates show (pure functions).

``Links`` knows every URL the pages need, so templates never build URLs and every external URL
passes ``safe_url``.
"""

from __future__ import annotations

import json
from collections import defaultdict

from datasette.utils import tilde_encode

from archiver.web import render, stances

PREFIX = "/-/archiver"


class Links:
    def __init__(self, datasette, database: str):
        self.ds, self.db = datasette, database

    def home(self) -> str:
        return self.ds.urls.path(PREFIX)

    def thread(self, post_id, item_id=None) -> str:
        url = self.ds.urls.path(f"{PREFIX}/thread/{render.path_part(post_id)}")
        return url + (f"#{render.anchor(item_id)}" if item_id else "")

    def goto(self, item_id) -> str:
        """A post or comment by id alone: redirects to its place in its thread."""
        return self.ds.urls.path(f"{PREFIX}/item/{render.path_part(item_id)}")

    def person(self, user_id) -> str:
        return self.ds.urls.path(f"{PREFIX}/person/{render.path_part(user_id)}")

    def topic(self, topic_id) -> str:
        return self.ds.urls.path(f"{PREFIX}/topic/{render.path_part(topic_id)}")

    def chart(self, topic_id) -> str:
        return self.topic(topic_id) + "/activity.png"

    def search(self) -> str:
        return self.ds.urls.path(f"{PREFIX}/search")

    def table(self, table: str, **filters) -> str:
        url = self.ds.urls.table(self.db, table)
        if filters:
            from urllib.parse import urlencode

            url += "?" + urlencode(filters)
        return url

    def row(self, table: str, pk) -> str:
        return self.ds.urls.row(self.db, table, tilde_encode(str(pk)))

    def item(self, table: str, item_id, post_id=None) -> str:
        """A post or comment in its thread; anything else as its table row."""
        if table == "comments" and post_id:
            return self.thread(post_id, item_id)
        if table == "posts":
            return self.thread(item_id)
        return self.row(table, item_id)


def thread(data: dict, links: Links) -> dict:
    """The post and its comments in thread order, each with its body rendered once, quotes linked
    to what they quote, passages others quoted marked, versions, mentions and markers."""
    post = data["post"]
    in_thread = {post["id"]} | {c["id"] for c in data["comments"]}
    authors = {c["id"]: c["author"] for c in data["comments"]}
    authors[post["id"]] = post.get("author")
    made, received = defaultdict(list), defaultdict(list)
    for ex in stances.tag(data["exchanges"]):
        if ex["item_id"] in in_thread:
            made[ex["item_id"]].append(ex)
        if ex["source_id"] in in_thread:
            received[ex["source_id"]].append(ex)
    mentions = defaultdict(list)
    for m in data["mentions"]:
        mentions[m["item_id"]].append({**m, "href": links.row("papers", m["paper_id"])})

    def item(row: dict, table: str) -> dict:
        quotes = [_quote_link(ex, in_thread, post["id"], links) for ex in made[row["id"]]]
        quotes = [q for q in quotes if q]
        versions = data["versions"].get(row["id"], 0)
        passages = _passages(received[row["id"]], in_thread, post["id"], links)
        return {
            **row,
            "anchor": render.anchor(row["id"]),
            "indent": render.indent(row.get("depth")) if table == "comments" else 0,
            "html": render.body(row.get("body_html"), quotes, [p["quote"] for p in passages]),
            "quoted": passages,
            "external": [ex for ex in made[row["id"]] if ex["kind"] == "external"],
            "mentions": mentions[row["id"]],
            "versions": versions,
            "versions_href": links.table("item_versions", item_table=table, item_id=row["id"])
            if versions else None,
            "row_href": links.row(table, row["id"]),
            "person_href": links.person(row["user_id"]) if row.get("user_id") else None,
            "original": render.safe_url(row.get("url")),
        }

    return {
        "post": item(post, "posts"),
        "comments": [item(c, "comments") for c in data["comments"]],
        "outside": [ex for ex in data["exchanges"] if ex["item_id"] not in in_thread],
        "topics": data.get("topics", []),
    }


def _quote_link(ex: dict, in_thread: set, post_id: str, links: Links) -> dict | None:
    if not ex.get("source_id") or not ex.get("quote"):
        return None
    label = ex.get("source_author") or "the source"
    if ex["source_id"] in in_thread:
        href = "#" + render.anchor(ex["source_id"])
    else:
        href = links.item(ex["source_table"], ex["source_id"], None)
        label += f" in “{ex.get('source_title') or 'another thread'}”"
    return {"quote": ex["quote"], "href": href, "label": label, "stance": ex["stance"]}


def _passages(exchanges: list[dict], in_thread: set, post_id: str, links: Links) -> list[dict]:
    """Passages of one item that others quoted: the text, who quoted it and how (stance), and
    who disputed it, with links to the replies."""
    grouped: dict[str, list] = defaultdict(list)
    for ex in exchanges:
        grouped[ex["quote"] or ""].append(ex)
    out = []
    for quote, group in grouped.items():
        by = []
        for ex in group:
            if ex["item_id"] in in_thread:
                href = "#" + render.anchor(ex["item_id"])
            else:
                href = links.item(ex["item_table"], ex["item_id"], ex.get("post_id"))
            by.append({"name": ex.get("quoter") or "someone", "href": href,
                       "stance": ex["stance"]})
        out.append({"quote": quote, "by": by,
                    "disputed_by": [b for b in by if b["stance"] == "disputes"]})
    out.sort(key=lambda p: -len(p["by"]))
    return out


def digest(summary: dict | None) -> dict | None:
    """A stored digest's JSON (summary sentences with sources, threads, exchanges, papers,
    contributors); None when there is none or it does not parse."""
    if not summary or not summary.get("json"):
        return None
    try:
        data = json.loads(summary["json"])
    except (TypeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def disputed(week: list[dict], limit: int = 10) -> list[dict]:
    """The week's passages with the most disputing replies (agreement is not pushback), each with
    who disputed it; ties go to the most recent."""
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    for ex in stances.disputes(week):
        start = ex.get("source_start")
        grouped[(ex["source_table"], ex["source_id"],
                 start if start is not None else ex["quote"])].append(ex)
    out = []
    for group in grouped.values():
        first = min(group, key=lambda ex: ex["quote"] or "")
        by = {ex["item_id"]: ex for ex in group}
        out.append({**first, "replies": len(by), "latest": max(ex["posted_at"] or "" for ex in group),
                    "by": sorted(by.values(), key=lambda ex: ex["posted_at"] or "")})
    out.sort(key=lambda p: p["latest"], reverse=True)
    out.sort(key=lambda p: -p["replies"])  # stable: equal counts stay newest first
    return out[:limit]


def person(data: dict) -> dict:
    """The person's exchanges split by stance: pushback (disputes) given and received, agreement
    given and received; every other exchange still counts under "whom they quote"."""
    given, received = stances.tag(data["given"]), stances.tag(data["received"])
    return {
        "disputes_given": [ex for ex in given if ex["stance"] == "disputes"],
        "disputes_received": [ex for ex in received if ex["stance"] == "disputes"],
        "agrees_given": [ex for ex in given if ex["stance"] == "agrees"],
        "agrees_received": [ex for ex in received if ex["stance"] == "agrees"],
    }


def debates(digest: dict | None, links: Links) -> list[dict]:
    """The stored digest's debates (claim -> replies with stance -> responses), as the digest
    told them, not recomputed; fields of the wrong type are left out rather than shown."""
    found = digest.get("debates") if digest else None
    out = []
    for d in found if isinstance(found, list) else []:
        if not isinstance(d, dict) or not _text(d.get("claim")):
            continue
        out.append({"claim": _text(d.get("claim")), "author": _text(d.get("claim_author")),
                    "href": _goto(d.get("claim_id"), links), "title": _text(d.get("claim_title")),
                    "replies": _turns(d.get("replies"), links, depth=1)})
    return out


def _turns(turns, links: Links, depth: int) -> list[dict]:
    out = []
    for t in turns if isinstance(turns, list) else []:
        if not isinstance(t, dict):
            continue
        out.append({"author": _text(t.get("author")), "href": _goto(t.get("id"), links),
                    "stance": stances.known(t.get("stance")), "text": _text(t.get("text")),
                    "responses": _turns(t.get("responses"), links, depth + 1) if depth < 2 else []})
    return out


def disputed_by(sentence, links: Links) -> list[dict]:
    """Who disputed a digest sentence (its ``disputed_by``), linked to their replies here."""
    found = sentence.get("disputed_by") if isinstance(sentence, dict) else None
    return [{"author": _text(d.get("author")) or "someone", "href": _goto(d.get("id"), links)}
            for d in (found if isinstance(found, list) else []) if isinstance(d, dict)]


def _text(value) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _goto(item_id, links: Links) -> str | None:
    """A reading-room link for a post or comment id from stored JSON (never its upstream URL)."""
    return links.goto(item_id) if isinstance(item_id, str) and item_id else None


def summary(digest: dict | None, links: Links) -> list[dict]:
    """The digest's sentences with their source link and who disputed each."""
    found = digest.get("summary") if digest else None
    return [{"text": _text(s.get("text")), "author": _text(s.get("author")),
             "href": _goto(s.get("source_id"), links), "disputed_by": disputed_by(s, links)}
            for s in (found if isinstance(found, list) else [])
            if isinstance(s, dict) and _text(s.get("text"))]
