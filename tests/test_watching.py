"""Watching means watching: weeks of `archiver sync` under a fake clock (the Syncer's own time
source, never wall time) against loopback ForumMagnum, Hacker News, Reddit and Discourse fakes
whose data changes between syncs, with the default [sync] settings of `archiver init`.

Proves: a no-change sync makes at most one request per watched item and downloads no thread;
a reply to a thread quiet for months, a new Discourse reply, a late-rising tag post arrive within
one sync; an edit of a 10-day-old comment and a deletion (which change no counter) arrive within
``full_active_days``; runs rows add up; a failing host is asked once (with its retries) per run.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta, timezone

import pytest

from archiver.app.config import EXAMPLE, Config, parse_config
from archiver.app.stats import content_hash
from archiver.app.sync import Syncer, plan
from archiver.kernel.http import Http
from archiver.store import open_db
from tests.fakes import forummagnum as fm
from tests.fakes.discourse import FakeDiscourse
from tests.fakes.hackernews import FakeHN
from tests.fakes.reddit import FakeReddit

DAY0 = datetime(2027, 3, 1, 12, 0, tzinfo=timezone.utc)  # after the wall clock: no mix-up
ALICE = fm.user("aliceid000000001", "alice", "Alice")
BOB = fm.user("bobid00000000001", "bob", "Bob")
HOST = "discuss.example.org"
OLD, ACTIVE, TAGGED = "oldthread0000001", "activethread0001", "risingpost000001"
STORY, REDDIT, TOPIC = 7000001, "abc123", 4242
TAG = [{"_id": "tagSAE0000001", "name": "Sparse Autoencoders", "slug": "sparse-autoencoders"}]


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class World:
    """Four fakes behind one loopback server, one archive, and a clock the test moves."""

    def __init__(self, httpserver, tmp_path, retries: int = 0):
        self.forum, self.hn, self.reddit = fm.FakeForum(), FakeHN(), FakeReddit()
        self.discourse = FakeDiscourse()
        self.down = False
        httpserver.expect_request(re.compile(".*")).respond_with_handler(self.handler)
        base = httpserver.url_for("/").rstrip("/")
        example = parse_config(EXAMPLE)
        self.config = dataclasses.replace(
            # summaries stamp wall time (their module has no clock): off, as they are local
            example, delay=0, retries=retries, summaries_per_run=0,
            endpoints={"lesswrong": f"{base}/graphql", "hackernews": base, "reddit": base,
                       f"discourse:{HOST}": base},
            watch={"threads": [{"url": f"lesswrong:{OLD}"}, {"url": f"lesswrong:{ACTIVE}"},
                               {"url": f"hackernews:{STORY}"}, {"url": f"reddit:{REDDIT}"},
                               {"url": f"https://{HOST}/t/a-topic/{TOPIC}"}],
                   "tags": [{"slug": "sparse-autoencoders", "site": "lesswrong",
                             "min_score": 30}],
                   "users": [{"url": "bob", "site": "lesswrong", "comments": 10}]})
        self.db = open_db(str(tmp_path / "archive.db"))
        self.now = DAY0
        self.paths: list[str] = []

    def handler(self, request):
        from werkzeug.wrappers import Response

        self.paths.append(request.path)
        if self.down:
            return Response("down", status=500)
        path = request.path
        if path == "/graphql":
            return self.forum.handler(request)
        if path.startswith("/t/"):
            return self.discourse.handler(request)
        if path.startswith(("/comments/", "/api/")):
            return self.reddit.handler(request)
        return self.hn.handler(request)

    def sync(self, at: datetime):
        self.now = at
        self.paths.clear()
        http = Http(self.config.http_settings(), sleep=lambda seconds: None)
        try:
            report = Syncer(self.db, self.config, http, clock=lambda: at).run()
        finally:
            http.close()
        return report

    def has(self, sql: str, *args) -> int:
        return self.db.execute(sql, args).fetchone()[0]


def build(world: World) -> None:
    forum = world.forum
    forum.users[BOB["_id"]] = fm.profile(BOB["_id"], "bob", "Bob")
    forum.posts[OLD] = fm.post(OLD, "Old thread", ALICE, "<p>Old.</p>",
                               posted=iso(DAY0 - timedelta(days=125)), tags=TAG)
    forum.comments.append(fm.comment("oldcomment000001", OLD, BOB, "<p>Long ago.</p>",
                                     iso(DAY0 - timedelta(days=120))))
    forum.posts[ACTIVE] = fm.post(ACTIVE, "Active thread", ALICE, "<p>Busy.</p>",
                                  posted=iso(DAY0 - timedelta(days=11)), tags=[])
    forum.comments.append(fm.comment("tendaysold000001", ACTIVE, BOB, "<p>Ten days old.</p>",
                                     iso(DAY0 - timedelta(days=10))))
    forum.comments.append(fm.comment("yesterday0000001", ACTIVE, ALICE, "<p>Yesterday.</p>",
                                     iso(DAY0 - timedelta(days=1))))
    hn = world.hn
    hn.story(STORY, "A story", "pg", at=int((DAY0 - timedelta(days=2)).timestamp()))
    for n in (1, 2):
        hn.comment(STORY + n, STORY, "dang", f"HN comment {n}",
                   at=int((DAY0 - timedelta(days=2 - n / 2)).timestamp()))
    reddit = world.reddit
    reddit.post(REDDIT, "A post", "alice", "Body", at=(DAY0 - timedelta(days=3)).timestamp())
    for n in (1, 2):
        reddit.comment(f"rc{n}", f"t3_{REDDIT}", "bob", f"Reddit comment {n}",
                       at=(DAY0 - timedelta(days=1, hours=n)).timestamp())
    world.discourse.topic(TOPIC, "A topic", "alice", "<p>Topic body.</p>")
    world.discourse.post(TOPIC, "bob", "<p>A reply.</p>", reply_to=1)


@pytest.fixture
def world(httpserver, tmp_path) -> World:
    world = World(httpserver, tmp_path)
    build(world)
    yield world
    world.db.close()


def runs_add_up(world: World, report) -> None:
    children = world.has("SELECT COALESCE(SUM(requests), 0) FROM runs WHERE id > ?", report.run_id)
    parent = world.has("SELECT requests FROM runs WHERE id = ?", report.run_id)
    assert children == parent == report.requests == len(world.paths)


def comment_body(world: World, source_id: str) -> str | None:
    return world.db.execute("SELECT body_html FROM comments WHERE source_id = ?",
                            [source_id]).fetchone()[0]


def test_the_default_sync_settings_are_the_example_configs():
    example = parse_config(EXAMPLE)
    for name in ("active_days", "overlap_hours", "recheck_days", "full_active_days",
                 "tag_rescore_days", "first_days", "users_every_days"):
        assert getattr(example, name) == getattr(Config(), name), name


def test_five_weeks_of_watching(world):
    first = world.sync(DAY0)
    assert first.status == "ok", [r.error for r in first.results if r.error]
    runs_add_up(world, first)
    assert world.has("SELECT COUNT(*) FROM posts WHERE stub = 0") == 5

    # A sync an hour later with nothing changed: no thread downloaded, <= 1 request per item,
    # and the archived content is the same (the GitHub Actions recipe would commit nothing).
    before = content_hash(world.db)
    quiet = world.sync(DAY0 + timedelta(hours=1))
    assert content_hash(world.db) == before
    watched = 5 + 1 + 1  # five threads, the tag, the user (checked daily: not due yet)
    assert quiet.requests <= watched - 1, world.paths
    assert quiet.totals() == {"new": 0, "updated": 0, "unchanged": 0}
    assert not any(p.startswith(("/items/", "/comments/")) for p in world.paths)
    assert not any("postCommentsOld" in q for q in world.forum.queries[-quiet.requests:])
    runs_add_up(world, quiet)

    # Day 1: replies everywhere, one to a thread quiet for four months; a tagged post at score 8.
    day1 = DAY0 + timedelta(days=1)
    world.forum.comments.append(fm.comment("latereply0000001", OLD, ALICE, "<p>Still true?</p>",
                                           iso(day1 - timedelta(hours=2))))
    world.hn.comment(STORY + 3, STORY, "tptacek", "A new HN reply",
                     at=int((day1 - timedelta(hours=2)).timestamp()))
    world.reddit.comment("rc3", f"t3_{REDDIT}", "carol", "A new Reddit reply",
                         at=(day1 - timedelta(hours=2)).timestamp())
    world.discourse.post(TOPIC, "carol", "<p>A new Discourse reply.</p>", reply_to=2)
    world.forum.posts[TAGGED] = fm.post(TAGGED, "Rising post", ALICE, "<p>SAEs.</p>",
                                        posted=iso(day1 - timedelta(hours=3)), baseScore=8,
                                        tags=TAG)
    report = world.sync(day1 + timedelta(minutes=5))
    assert report.status == "ok", report.summary_line()
    assert content_hash(world.db) != before
    for item in ("latereply0000001", str(STORY + 3), "rc3"):
        assert world.has("SELECT COUNT(*) FROM comments WHERE source_id = ?", item) == 1, item
    assert world.has("SELECT COUNT(*) FROM comments WHERE body_html LIKE '%new Discourse%'") == 1
    assert world.has("SELECT COUNT(*) FROM posts WHERE source_id = ? AND stub = 0", TAGGED) == 0
    runs_add_up(world, report)

    # Day 3: an edit of the 10-day-old comment (no counter changes); HN and Reddit deletions.
    day = DAY0 + timedelta(days=3)
    edited = next(c for c in world.forum.comments if c["_id"] == "tendaysold000001")
    edited["contents"] = fm.contents("<p>Ten days old, edited.</p>")
    edited["lastEditedAt"] = iso(day - timedelta(hours=1))
    world.hn.delete(STORY + 1)
    world.reddit.remove("rc1")
    caught_at = {}
    for n in range(0, 24 * 4):  # hourly syncs, as the cron recipe runs them
        at = day + timedelta(hours=n)
        report = world.sync(at)
        assert report.status == "ok", report.summary_line()
        runs_add_up(world, report)
        if "edit" not in caught_at and "edited" in (comment_body(world, "tendaysold000001") or ""):
            caught_at["edit"] = at
        for name, source_id in (("hn", str(STORY + 1)), ("reddit", "rc1")):
            if world.has("SELECT deleted FROM comments WHERE source_id = ?", source_id):
                caught_at.setdefault(name, at)
        if len(caught_at) == 3:
            break
    bound = timedelta(days=world.config.full_active_days)
    assert set(caught_at) == {"edit", "hn", "reddit"}, caught_at
    assert all(when - day <= bound for when in caught_at.values()), caught_at
    # deletions keep the archived text
    assert comment_body(world, "rc1") and "Reddit comment 1" in comment_body(world, "rc1")

    # Day 5: the tagged post rose to 35; the next sync archives it.
    world.forum.posts[TAGGED]["baseScore"] = 35
    report = world.sync(DAY0 + timedelta(days=5))
    assert world.has("SELECT COUNT(*) FROM posts WHERE source_id = ? AND stub = 0", TAGGED) == 1
    runs_add_up(world, report)

    # Day 38: a reply to the old thread, quiet again for weeks, still arrives in one sync.
    day38 = DAY0 + timedelta(days=38)
    world.forum.comments.append(fm.comment("day38reply000001", OLD, BOB, "<p>Day 38.</p>",
                                           iso(day38 - timedelta(hours=1))))
    report = world.sync(day38)
    assert world.has("SELECT COUNT(*) FROM comments WHERE source_id = 'day38reply000001'") == 1
    assert world.has("SELECT COUNT(*) FROM sync_state WHERE kind = 'tag_id'") == 1
    runs_add_up(world, report)


def test_the_dry_run_shows_the_next_full_recheck_of_every_thread(world):
    world.sync(DAY0)
    tasks = [t for t in plan(world.db, world.config, ["threads"], now=DAY0 + timedelta(hours=2))]
    assert len(tasks) == 5
    for task in tasks:
        assert "full re-check on " in task.reason, task.reason
        assert task.mode == "check"
    reasons = {t.key: t.reason for t in tasks}
    # active: the next full re-check is a day after the last; quiet: a week after
    assert f"full re-check on {(DAY0 + timedelta(days=1)).isoformat()[:16]}" in \
        reasons[f"lesswrong:{ACTIVE}"]
    assert f"full re-check on {(DAY0 + timedelta(days=7)).isoformat()[:16]}" in \
        reasons[f"lesswrong:{OLD}"]


def test_every_host_failing_is_asked_once_per_run_and_the_sync_fails(httpserver, tmp_path):
    world = World(httpserver, tmp_path, retries=2)
    build(world)
    try:
        assert world.sync(DAY0).status == "ok"
        world.down = True
        report = world.sync(DAY0 + timedelta(days=2))  # the user is due again, after the tag
        # one loopback host: its retries are used up once, then every item is skipped
        assert report.requests == 3 == len(world.paths)
        assert report.status == "failed" and report.exit_code == 1
        statuses = {r.task.key: r.status for r in report.results if r.task.kind != "check"}
        assert statuses["lesswrong:bob"] == "host_failing"  # the user step after the tag step
        assert "1 ok" not in report.summary_line() and "0 ok" in report.summary_line()
        runs_add_up(world, report)
    finally:
        world.db.close()
