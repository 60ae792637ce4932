"""Precision and recall of quote-source resolution on the hand-labelled set.

    python scripts/eval_exchanges.py [tests/data/exchanges_labelled.jsonl] [-v]

The JSONL holds threads (``post`` and ``comment`` records, with flags for comments deleted or
edited after they were archived) and ``label`` records: for a quoting item and the quote's
position, the true source id (or null) and kind. An item labelled with position null must yield
no quote at all (spoilers, "Edit:" lines, ...).

Precision: of the quotes given a source, how many got the right one (a quote found where none is
labelled counts as wrong). Recall: of the labelled quotes that have a source, how many got it.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "exchanges_labelled.jsonl"
TARGETS = {"precision": 0.95, "recall": 0.90}


def load(path: Path = DATA) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def build_archive(records: list[dict]):
    """An in-memory archive holding the labelled threads, saved the way sources save them."""
    from archiver.kernel.records import Comment, Page, Post, Site, User
    from archiver.store import open_db, save_page

    db = open_db(":memory:")
    items = [r for r in records if r["type"] in ("post", "comment")]
    sites = [Site(id=s, name=s, url=f"https://{s.split(':')[-1]}", kind=s.split(":")[0])
             for s in sorted({r["site"] for r in items})]
    users = {}
    for r in items:
        if r.get("slug"):
            uid = f"{r['site']}:{r['slug']}"
            users[uid] = User(id=uid, site_id=r["site"], source_id=r["slug"], slug=r["slug"],
                              name=r.get("author"))

    def user_id(r):
        return f"{r['site']}:{r['slug']}" if r.get("slug") else None

    def source_id(r):
        return r["id"].rsplit(":", 1)[-1]

    posts = [Post(id=r["id"], site_id=r["site"], source_id=source_id(r), url=r.get("url"),
                  title=r.get("title"), user_id=user_id(r), author=r.get("author"),
                  posted_at=r["posted_at"], body_html=r.get("html"),
                  body_markdown=r.get("markdown"), extra=r.get("extra"))
             for r in items if r["type"] == "post"]

    def comment(r, **changes):
        fields = dict(id=r["id"], site_id=r["site"], source_id=source_id(r), post_id=r["post_id"],
                      parent_id=r.get("parent_id"), user_id=user_id(r), author=r.get("author"),
                      posted_at=r["posted_at"], deleted=bool(r.get("deleted")),
                      body_html=r.get("html"), body_markdown=r.get("markdown"),
                      extra=r.get("extra"))
        fields.update(changes)
        return Comment(**fields)

    comments = [comment(r) for r in items if r["type"] == "comment"]
    save_page(db, Page(sites=sites, users=list(users.values()), posts=posts, comments=comments))
    later = []
    for r in items:
        if r.get("deleted_after_archive"):
            later.append(comment(r, body_html=None, body_markdown=None, deleted=True))
        if r.get("edited_after"):
            later.append(comment(r, body_html=r["edited_after"], body_markdown=None,
                                 edited_at="2030-01-01T00:00:00Z"))
    if later:
        save_page(db, Page(comments=later))
    return db


def evaluate(path: Path = DATA, verbose: bool = False) -> dict:
    from archiver.analysis import exchanges

    records = load(path)
    db = build_archive(records)
    exchanges.extract(db, all=True)
    found = {(r[0], r[1]): (r[2], r[3], r[4]) for r in db.execute(
        "SELECT item_id, position, source_id, kind, score FROM exchanges")}
    labels = [r for r in records if r["type"] == "label"]
    quiet_items = {r["item"] for r in labels if r["position"] is None}
    labelled = {(r["item"], r["position"]): r for r in labels if r["position"] is not None}

    predicted = correct = wanted = kind_ok = 0
    mistakes = []
    for key, label in labelled.items():
        got_source, got_kind, score = found.get(key, (None, None, None))
        if label["source"]:
            wanted += 1
        if got_source:
            predicted += 1
        if got_source and got_source == label["source"]:
            correct += 1
        if got_kind == label["kind"]:
            kind_ok += 1
        if got_source != label["source"] or got_kind != label["kind"]:
            mistakes.append(f"{key[0]}#{key[1]} ({label['case']}): want {label['source']} "
                            f"{label['kind']}, got {got_source} {got_kind} {score}")
    for key, (got_source, got_kind, _score) in found.items():
        if key in labelled:
            continue
        if key[0] in quiet_items or any(k[0] == key[0] for k in labelled):
            predicted += bool(got_source)
            mistakes.append(f"{key[0]}#{key[1]}: unexpected quote, got {got_source} {got_kind}")
    result = {
        "quotes": len(labelled),
        "with_source": wanted,
        "precision": round(correct / predicted, 3) if predicted else 0.0,
        "recall": round(correct / wanted, 3) if wanted else 0.0,
        "kind_accuracy": round(kind_ok / len(labelled), 3) if labelled else 0.0,
        "kinds": dict(Counter(r["kind"] for r in labelled.values())),
        "mistakes": mistakes,
    }
    if verbose:
        for line in mistakes:
            print("  " + line)
    return result


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("-")]
    result = evaluate(Path(args[0]) if args else DATA, verbose="-v" in argv)
    print(f"{result['quotes']} labelled quotes ({result['with_source']} with a source in the "
          f"archive); kinds: {result['kinds']}")
    print(f"precision {result['precision']:.3f} (target {TARGETS['precision']}), "
          f"recall {result['recall']:.3f} (target {TARGETS['recall']}), "
          f"kind accuracy {result['kind_accuracy']:.3f}, {len(result['mistakes'])} mistakes")
    ok = all(result[k] >= v for k, v in TARGETS.items())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
