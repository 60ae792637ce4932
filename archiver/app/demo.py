"""``archiver demo``: build a small archive offline from the sample data in ``archiver/data/demo``.

The samples are shaped like the real APIs (ForumMagnum GraphQL threads, an OpenAlex author with
works, a blog article page) and go through the real code paths: the ForumMagnum and OpenAlex
sources (served by ``OfflineHttp`` instead of the network), the blog extractor, the store, the
analysis hooks (exchanges, mentions, topic membership), topics and a topic report. The people,
posts and papers in the samples are fictional.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from archiver.app.ingest import ingest
from archiver.kernel.errors import FetchError, UsageError
from archiver.kernel.http import HttpSettings

DATA = Path(__file__).resolve().parents[1] / "data" / "demo"
DEFAULT_DB = os.path.join("db", "demo.db")
THREADS = ("thread_1.json", "thread_2.json")
RESEARCHER = "researcher_openalex.json"
BLOG = ("blog_post.html", "https://demo.example.org/notes/evaluating-sparse-autoencoders")
TOPIC = {"name": "Sparse autoencoders",
         "match": ["sparse autoencoder", r"\bSAEs?\b", "dictionary learning"],
         "description": "SAEs, their variants (gated, TopK) and how to evaluate them"}


class OfflineHttp:
    """Stands in for ``archiver.kernel.http.Http``: answers the sources' requests from the samples."""

    def __init__(self):
        self.settings = HttpSettings(delay=0, backoff=0)
        self.requests_made = 0
        self.threads = {}
        for name in THREADS:
            data = json.loads((DATA / name).read_text(encoding="utf-8"))
            self.threads[data["post"]["_id"]] = data
        self.researcher = json.loads((DATA / RESEARCHER).read_text(encoding="utf-8"))

    @staticmethod
    def sleep(_seconds: float) -> None:
        return None

    def post_json_response(self, url: str, payload: dict, **_kwargs):
        """ForumMagnum GraphQL: ``post`` by _id, ``comments`` of a post (answers: none)."""
        self.requests_made += 1
        query = payload["query"]
        root = re.search(r"\{\s*(\w+)\(", query).group(1)
        post_id = re.search(r'(?:_id|postId):\s*"([^"]+)"', query).group(1)
        thread = self.threads.get(post_id)
        if root == "post":
            return 200, {"data": {"post": {"result": thread and thread["post"]}}}
        comments = [] if thread is None or "answersAndReplies" in query else thread["comments"]
        after = re.search(r'after:\s*"([^"]+)"', query)
        if after:  # the source pages by date: a second page starts after the last comment
            comments = [c for c in comments if c["postedAt"] > after.group(1)]
        return 200, {"data": {"comments": {"results": comments}}}

    def get_json(self, url: str, params: dict | None = None, **_kwargs):
        """OpenAlex: the author, then one page of works."""
        self.requests_made += 1
        if "/authors/" in url:
            return self.researcher["author"]
        if url.rstrip("/").endswith("/works"):
            return self.researcher["works"]
        raise FetchError(f"{url}: not part of the offline demo data")

    def _offline(self, url: str, *_args, **_kwargs):
        raise FetchError(f"{url}: the demo runs offline and has no sample for this request")

    post_json = get_text = request = _offline


@dataclass
class DemoResult:
    db_path: str
    seconds: float = 0.0
    counts: dict = field(default_factory=dict)
    reports: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def build_demo(db_path: str = DEFAULT_DB, report_dir: str | None = None) -> DemoResult:
    """Build (or rebuild) the demo archive at ``db_path``; write the topic report next to it."""
    from archiver.store import open_db

    started = time.monotonic()
    _clear(db_path)
    db = open_db(db_path)
    result = DemoResult(db_path)
    try:
        with db.conn:
            db.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('demo', '1')")
        http = OfflineHttp()
        # The researcher first, so the threads' mentions of her papers' titles resolve.
        _step(result, "researcher", lambda: _researcher(db, http))
        for name in THREADS:
            _step(result, name, lambda name=name: _thread(db, http, name))
        _step(result, "blog post", lambda: _blog(db))
        _step(result, "topics", lambda: _topics(db))
        folder = report_dir or os.path.join(os.path.dirname(db_path) or ".", "demo-report")
        _step(result, "topic report", lambda: result.reports.extend(_report(db, folder)))
        result.counts = {t: db[t].count for t in COUNTED if db[t].exists()}
    finally:
        db.close()
    result.seconds = time.monotonic() - started
    return result


COUNTED = ("posts", "comments", "users", "researchers", "papers", "mentions", "exchanges",
           "topics", "topic_items", "summaries")


def _clear(db_path: str) -> None:
    """Remove a previous demo archive; never anything else."""
    if not os.path.exists(db_path):
        return
    try:
        db = sqlite_utils.Database(db_path)
        row = db.execute("SELECT value FROM meta WHERE key = 'demo'").fetchone()
        db.close()
    except Exception:  # not SQLite, or no meta table
        row = None
    if not row:
        raise UsageError(f"{db_path} exists and is not a demo archive; the demo will not "
                         "overwrite it (give another --db, e.g. db/demo.db)")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db_path + suffix):
            os.remove(db_path + suffix)


def _step(result: DemoResult, name: str, action) -> None:
    """Run one part; a part whose module this installation lacks is skipped and reported."""
    try:
        action()
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("archiver"):
            raise
        result.skipped.append(f"{name}: {exc.name} is not available")


def _thread(db, http: OfflineHttp, name: str) -> None:
    from archiver.sources import ThreadRef, forummagnum

    post = json.loads((DATA / name).read_text(encoding="utf-8"))["post"]
    ref = ThreadRef("lesswrong", post["_id"], post["pageUrl"])
    ingest(db, forummagnum.fetch_thread(http, ref), "demo", ref.url, http)


def _researcher(db, http: OfflineHttp) -> None:
    from archiver.app import researchers

    author = http.researcher["author"]["id"].rsplit("/", 1)[-1]
    researchers.fetch_researcher(db, http, author, source="openalex")


def _blog(db) -> None:
    from archiver.sources import blog

    name, url = BLOG
    article = blog.extract_article((DATA / name).read_text(encoding="utf-8"), url)
    ingest(db, [blog.article_page(article)], "demo", url)


def _topics(db) -> None:
    from archiver.analysis import topics

    topics.add_topic(db, TOPIC["name"], TOPIC["match"], TOPIC["description"])
    topics.refresh(db)
    topics.discover(db, k=2)


def _report(db, folder: str) -> list[str]:
    from archiver.analysis import report

    reports, _warnings = report.make_reports(db, topic=TOPIC["name"], out_dir=folder,
                                             config_topics=[TOPIC])
    return [path for r in reports for path in r.paths]


def next_steps(result: DemoResult) -> list[str]:
    db = result.db_path
    steps = [f"archiver serve --db {db}      # browse it in Datasette",
             f"archiver search --db {db} shrinkage",
             f"archiver exchanges --db {db} --post lesswrong:demoPostGated001",
             f"archiver stats --db {db}"]
    html = [p for p in result.reports if p.endswith(".html")]
    if html:
        steps.insert(1, f"open {html[0]}      # the topic report")
    return steps
