"""``archiver sync``: bring everything on the watch list up to date, doing the least work.

What "least work" means, per kind (all cursors live in the ``sync_state`` table, never guessed
from ``max(id)``):

- tags: the tag's posts since the tag's cursor (minus the overlap window), and at least the last
  ``tag_rescore_days`` (scores are read again, so a post that passes ``min_score`` late still
  arrives); new posts with at least ``min_score`` karma are archived with every comment and then
  watched like threads. The tag's id is kept in ``sync_state`` (kind ``tag_id``).
- threads: every watched thread whose source has a light change check (``check_threads``: its
  comment count, last activity and modification stamp, many threads per request) is checked on
  every sync; a thread is fetched only when its signature differs from the last one stored (the
  comments since its cursor minus the overlap window, or the whole thread), or when its full
  re-check is due: every ``full_active_days`` while it had activity in the last ``active_days``
  (catches edits and deletions of old comments, which change no counter), every
  ``recheck_days`` after. A never fetched thread gets a full fetch. Sources without a check keep
  the older rule: a cheap re-check while active, nothing between full re-checks when quiet.
- users: profile, then posts and comments since the user's cursor, every ``users_every_days``.
- researchers: profile, metrics snapshot and papers every ``researchers_every_days``.
- feeds: every sync (the feed module keeps its own ETag/Last-Modified and entry fingerprints).
- topics: user-defined topics are (re)defined when their definition changes.
- summaries: after fetching, topic summaries older than ``summaries_every_days`` are remade.

Safety: one sync at a time (``sync_lock``: an OS-level lock next to the database, released by the
kernel when a process dies, so a killed run leaves no stale lock). Each item's cursor is written
when the item completes, and each page of records in its own transaction, so a sync killed at any
point and started again loses nothing, duplicates nothing and skips the items finished since the
interrupted run began. The ``runs`` table gets a parent row (command ``sync``) plus one row per
fetch (command ``sync <kind>``), per change check (``sync check``) and per tag listing
(``sync tag listing``): every request of the run belongs to one child row.

Time: everything reads "now" from the Syncer's ``clock`` (``ARCHIVER_NOW`` for the CLI), so a
test can run weeks of syncs under a fake clock.

Failing hosts: the HTTP client stops asking a host once a name did not resolve, the network was
unreachable, a few connections in a row failed or a request used up its retries; the remaining
items on that host end as ``host_failing`` (shown as "skipped ... host failing: ..."), without
a request.

Exit codes (``SyncReport.exit_code``): 0 every due item succeeded (or nothing was due), 3 partial
success (some items failed, others succeeded), 1 every due fetch failed (the local steps, topics
and summaries, do not count as successes when fetches were due); 75 (``LockedError``) when another
sync holds the lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import sqlite_utils

from archiver.app.config import Config
from archiver.app.ingest import ingest, run_analysis
from archiver.kernel.errors import ArchiverError, LockedError, UsageError
from archiver.kernel.http import HostFailing
from archiver.kernel.records import iso_utc, now_utc
from archiver.sources import registry
from archiver.store import Counts, finish_run, start_run
from archiver.store.save import get_state, set_state

log = logging.getLogger("archiver.app.sync")

# The order in which kinds run: topics first (so new items join them as they arrive), tags before
# threads (a tag's new threads are fetched once, then not re-checked in the same run).
KINDS = ("topics", "tags", "threads", "users", "researchers", "feeds", "summaries")
LOCAL_KINDS = ("topics", "summaries")  # steps that read only the archive: no fetch
ALIASES = {kind[:-1]: kind for kind in KINDS if kind.endswith("s")} | {"summary": "summaries"}

EXIT_OK, EXIT_FAILED, EXIT_PARTIAL = 0, 1, 3


# -- the lock ------------------------------------------------------------------------------------


@contextlib.contextmanager
def sync_lock(db_path: str) -> Iterator[str | None]:
    """Hold ``<db>.lock`` for the duration; raise LockedError at once if another run holds it.

    filelock takes an OS-level lock (flock) on the file: when the holder dies, even by SIGKILL,
    the kernel releases it, so a stale lock file never blocks the next run.
    """
    if db_path == ":memory:":
        yield None
        return
    from filelock import FileLock, Timeout

    path = f"{db_path}.lock"
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise LockedError(f"another sync is already running on {db_path} (lock {path}); "
                          "this run exits without doing anything, try again when it finishes"
                          ) from None
    try:
        yield path
    finally:
        lock.release()


# -- plans and reports ---------------------------------------------------------------------------


@dataclass
class Task:
    """One watch-list item and what this sync will do about it."""

    kind: str  # threads | users | tags | researchers | feeds | topics | summaries
    key: str  # stable identity: "lesswrong:postId", "lesswrong:slug", a feed URL, a topic name
    label: str
    due: bool
    reason: str
    since: str | None = None  # fetch items posted at/after this (None = everything)
    mode: str = "full"  # threads: "full", "new" (post + comments since) or "check" (fetch only
    # if the change check says so); users: "first"|"new"
    entry: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "key": self.key, "label": self.label, "due": self.due,
                "mode": self.mode, "since": self.since, "reason": self.reason}


@dataclass
class ItemResult:
    task: Task
    status: str  # ok | failed | skipped (not due) | host_failing (not asked)
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    requests: int = 0
    seconds: float = 0.0
    error: str | None = None
    note: str | None = None

    def as_dict(self) -> dict:
        return {**self.task.as_dict(), "status": self.status, "new": self.new,
                "updated": self.updated, "unchanged": self.unchanged, "requests": self.requests,
                "seconds": round(self.seconds, 3), "error": self.error, "note": self.note}


@dataclass
class SyncReport:
    run_id: int | None
    started_at: str
    ended_at: str | None = None
    results: list[ItemResult] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    resumed_from: str | None = None

    def count(self, status: str, local: bool | None = None) -> int:
        """Items with ``status``; only fetches (local=False) or local steps (local=True)."""
        return sum(1 for r in self.results if r.status == status and r.task.kind != "check"
                   and (local is None or (r.task.kind in LOCAL_KINDS) == local))

    @property
    def failed(self) -> int:
        return sum(self.count(s) for s in ("failed", "host_failing"))

    @property
    def status(self) -> str:
        # Fetches decide: a topics or summaries step alone cannot turn failed fetches into a
        # success. With no fetch due, the local steps decide.
        fetched = sum(self.count(s, local=False) for s in ("ok", "failed", "host_failing"))
        succeeded = self.count("ok", local=False if fetched else None)
        if self.failed and not succeeded:
            return "failed"
        return "partial" if self.failed else "ok"

    @property
    def exit_code(self) -> int:
        return {"ok": EXIT_OK, "partial": EXIT_PARTIAL, "failed": EXIT_FAILED}[self.status]

    def totals(self) -> dict:
        return {name: sum(getattr(r, name) for r in self.results)
                for name in ("new", "updated", "unchanged")}

    def summary_line(self) -> str:
        totals = self.totals()
        resumed = f", resumed after an interrupted run of {self.resumed_from}" \
            if self.resumed_from else ""
        failed = self.count("failed", False)
        host = self.count("host_failing")
        local_done = self.count("ok", True)
        local_failed = self.count("failed", True)
        local = ""
        if local_done or local_failed:
            local = f"; local steps {local_done} done" + (
                f", {local_failed} failed" if local_failed else "")
        checks = [r for r in self.results if r.task.kind == "check"]
        if checks:
            local += (f"; {len(checks)} change check(s) of "
                      f"{sum(len(r.task.entry.get('refs', ())) for r in checks)} thread(s), "
                      f"{sum(1 for r in checks if r.status != 'ok')} failed")
        return (f"sync {self.status}: {self.count('ok', False)} ok, {failed} failed"
                + (f", {host} skipped (host failing)" if host else "")
                + f", {self.count('skipped')} not due{local}; {totals['new']} new, "
                f"{totals['updated']} updated, {totals['unchanged']} unchanged; {self.requests} "
                f"requests in {self.seconds:.1f}s (run {self.run_id}{resumed})")

    def as_dict(self) -> dict:
        return {"run_id": self.run_id, "status": self.status, "exit_code": self.exit_code,
                "started_at": self.started_at, "ended_at": self.ended_at,
                "seconds": round(self.seconds, 3), "requests": self.requests,
                "resumed_from": self.resumed_from, **self.totals(),
                "items": [r.as_dict() for r in self.results]}


# -- time helpers --------------------------------------------------------------------------------


def _parse(stamp: str) -> datetime:
    dt = datetime.fromisoformat(stamp.strip().replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _stamp(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def wall_clock() -> datetime:
    return datetime.now(timezone.utc)


def precise_stamp(now: datetime) -> str:
    """``now`` with milliseconds: two syncs in the same second must still tell their items apart."""
    now = now.astimezone(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def precise_now() -> str:
    return precise_stamp(wall_clock())


def clock_from_env(value: str | None) -> Callable[[], datetime]:
    """The clock for ``ARCHIVER_NOW`` (an ISO time: every sync reads that as "now"; for tests and
    rehearsals), else the wall clock."""
    if not value:
        return wall_clock
    try:
        fixed = _parse(value)
    except ValueError:
        raise UsageError(f"ARCHIVER_NOW={value!r} is not an ISO date/time "
                         "(e.g. 2025-01-31T12:00:00Z); unset it to use the real clock") from None
    return lambda: fixed


def _days_since(stamp: str, now: datetime) -> float:
    return (now - _parse(stamp)).total_seconds() / 86400


def _back(stamp: str, hours: float) -> str:
    return _stamp(_parse(stamp) - timedelta(hours=hours))


def _latest(*stamps: str | None) -> str | None:
    present = [s for s in stamps if s]
    return max(present, key=_parse) if present else None


# -- planning (reads the database, never the network) -------------------------------------------


@dataclass
class Planner:
    db: sqlite_utils.Database
    config: Config
    now: datetime
    # Items whose cursor moved at/after this mark are done: this run's start, or the start of an
    # interrupted run being resumed.
    done_mark: str | None = None

    def plan(self, kind: str) -> list[Task]:
        return getattr(self, f"_plan_{kind}")()

    def _finished(self, stamp: str | None) -> bool:
        return bool(stamp and self.done_mark and _parse(stamp) >= _parse(self.done_mark))

    def _state(self, kind: str, key: str) -> str | None:
        return get_state(self.db, kind, key)

    # threads -----------------------------------------------------------------------------------

    def watched_threads(self) -> list[tuple[str, dict]]:
        """(url, entry) for configured threads plus the threads a watched tag brought in."""
        out = [(e["url"], e) for e in self.config.entries("threads")]
        rows = self.db.execute(
            "SELECT key, value FROM sync_state WHERE kind = 'watch_thread' ORDER BY key").fetchall()
        for key, value in rows:
            info = json.loads(value)
            out.append((info.get("url") or key, {"url": info.get("url") or key, "via": info["via"]}))
        return out

    def _plan_threads(self) -> list[Task]:
        tasks, seen = [], set()
        for url, entry in self.watched_threads():
            source, ref = registry.resolve_thread(url)
            key = f"{ref.site}:{ref.thread_id}"
            if key in seen:
                continue
            seen.add(key)
            tasks.append(self._thread_task(key, source, ref, entry))
        return tasks

    def _thread_task(self, key: str, source, ref, entry: dict) -> Task:
        # thread_full: the sync clock's time of the last complete fetch (thread_fetched is the
        # store's wall time, kept for archives synced before thread_full existed)
        fetched = self._state("thread_full", key) or self._state("thread_fetched", key)
        synced = _latest(fetched, self._state("thread_synced", key))
        label = self._title(key) or ref.url
        task = Task("threads", key, label, True, "", entry={**entry, "ref": ref, "source": source})
        active_days = entry.get("active_days", self.config.active_days)
        last = self._last_activity(key)
        active = bool(last and _days_since(last, self.now) <= active_days)
        if self._finished(synced):
            task.due, task.reason = False, "already fetched in this run"
            return task
        if not fetched:
            task.reason = "never fetched completely: full fetch"
            return task
        every = self.config.full_active_days if active else self.config.recheck_days
        next_full = _stamp(_parse(fetched) + timedelta(days=every))
        state = (f"active (last item {last[:16]})" if active
                 else f"quiet since {(last or '?')[:10]}")
        task.since = _back(synced, self.config.overlap_hours)
        if _parse(next_full) <= self.now:
            task.since = None
            task.reason = f"{state}; last full fetch {fetched[:16]}: full re-check"
        elif source.check:
            task.mode = "check"
            task.reason = (f"{state}: change check, fetched only if changed; "
                           f"full re-check on {next_full[:16]}")
        elif active and source.since:
            task.mode = "new"
            task.reason = (f"{state}: post and comments since {task.since}; "
                           f"full re-check on {next_full[:16]}")
        elif active:
            task.since = None
            task.reason = f"{state}: full re-check"
        else:
            task.due = False
            task.reason = f"{state}; full re-check on {next_full[:16]}"
        return task

    def _title(self, post_id: str) -> str | None:
        row = self.db.execute("SELECT title FROM posts WHERE id = ?", [post_id]).fetchone()
        return row[0] if row and row[0] else None

    def _last_activity(self, post_id: str) -> str | None:
        row = self.db.execute(
            "SELECT MAX(s) FROM (SELECT posted_at AS s FROM posts WHERE id = :id "
            "UNION ALL SELECT MAX(posted_at) FROM comments WHERE post_id = :id)",
            {"id": post_id}).fetchone()
        return row[0] if row else None

    # users -------------------------------------------------------------------------------------

    def _plan_users(self) -> list[Task]:
        tasks = []
        for entry in self.config.entries("users"):
            source, ref = registry.resolve_user(entry["url"], entry.get("site"))
            key = f"{ref.site}:{ref.slug or ref.user_id}"
            synced = self._state("user_synced", key)
            every = entry.get("every_days", self.config.users_every_days)
            task = Task("users", key, ref.url or entry["url"], True, "",
                        entry={**entry, "ref": ref, "source": source})
            if self._finished(synced):
                task.due, task.reason = False, "already checked in this run"
            elif not synced:
                task.mode, task.since = "first", iso_utc(entry.get("since"))
                task.reason = (f"first sync: profile, {entry.get('posts', 'all')} posts, "
                               f"{entry.get('comments', 'all')} comments"
                               + (f" since {task.since}" if task.since else ""))
            elif _days_since(synced, self.now) < every:
                task.due = False
                task.reason = f"checked {synced[:16]}; next check after {every:g} day(s)"
            else:
                task.mode, task.since = "new", _back(synced, self.config.overlap_hours)
                task.reason = f"profile, posts and comments since {task.since}"
            tasks.append(task)
        return tasks

    # tags --------------------------------------------------------------------------------------

    def _plan_tags(self) -> list[Task]:
        tasks = []
        for entry in self.config.entries("tags"):
            site = registry.site_id(entry.get("site", "lesswrong"))
            key = f"{site}:{entry['slug']}"
            synced = self._state("tag_synced", key)
            minimum = entry.get("min_score")
            task = Task("tags", key, f"tag {entry['slug']} on {site}", True, "",
                        entry={**entry, "site": site})
            if self._finished(synced):
                task.due, task.reason = False, "already listed in this run"
                tasks.append(task)
                continue
            if synced:
                # Scores are read again over the rescore window: a late riser still qualifies.
                window = _stamp(self.now - timedelta(days=self.config.tag_rescore_days))
                task.since = min(_back(synced, self.config.overlap_hours), window, key=_parse)
            elif entry.get("since"):
                task.since = iso_utc(entry["since"])
            else:
                task.since = _stamp(self.now - timedelta(days=self.config.first_days))
            task.reason = (f"posts since {task.since}"
                           + (f" with at least {minimum} karma (scores read again)"
                              if minimum is not None else ""))
            tasks.append(task)
        return tasks

    # researchers, feeds, topics, summaries --------------------------------------------------

    def _plan_researchers(self) -> list[Task]:
        tasks = []
        for entry in self.config.entries("researchers"):
            source = entry.get("source", "openalex")
            key = f"{source}:{entry['id']}"
            synced = self._state("researcher_synced", key)
            every = entry.get("every_days", self.config.researchers_every_days)
            task = Task("researchers", key, f"{entry['id']} ({source})", True, "", entry=entry)
            if self._finished(synced):
                task.due, task.reason = False, "already fetched in this run"
            elif not synced:
                task.reason = "first fetch: profile, metrics, papers"
            elif _days_since(synced, self.now) < every:
                task.due = False
                task.reason = f"fetched {synced[:10]}; next snapshot after {every:g} day(s)"
            else:
                task.reason = f"last snapshot {synced[:10]}: profile, metrics, papers"
            tasks.append(task)
        return tasks

    def _plan_feeds(self) -> list[Task]:
        tasks = []
        for entry in self.config.entries("feeds"):
            synced = self._state("feed_synced", entry["url"])
            task = Task("feeds", entry["url"], entry["url"], True, "", entry=entry)
            if self._finished(synced):
                task.due, task.reason = False, "already read in this run"
            else:
                task.reason = ("new and changed entries" + (f" (last read {synced[:16]})"
                                                            if synced else " (first read)"))
            tasks.append(task)
        return tasks

    def _plan_topics(self) -> list[Task]:
        tasks = []
        for entry in self.config.entries("topics"):
            digest = topic_digest(entry)
            defined = self._state("topic_defined", entry["name"])
            task = Task("topics", entry["name"], f"topic {entry['name']}", True, "", entry=entry)
            if defined == digest:
                task.due, task.reason = False, "definition unchanged"
            else:
                task.reason = "new topic" if defined is None else "definition changed"
            tasks.append(task)
        return tasks

    def _plan_summaries(self) -> list[Task]:
        """One step after fetching: remake the topic summaries that are due (when available)."""
        if not self.db["topics"].exists():
            return []
        every = self.config.summaries_every_days
        task = Task("summaries", "due", "topic summaries", True,
                    f"topics with new items and no summary in the last {every:g} day(s)")
        if self.config.summaries_per_run == 0:
            task.due, task.reason = False, "turned off (summaries_per_run = 0)"
        return [task]


def topic_digest(entry: dict) -> str:
    body = json.dumps({"match": entry.get("match"), "description": entry.get("description")},
                      sort_keys=True)
    return hashlib.sha1(body.encode()).hexdigest()[:16]


def plan(db: sqlite_utils.Database, config: Config, only: list[str] | None = None,
         now: datetime | None = None) -> list[Task]:
    """What a sync would do now, without any request (``--dry-run``)."""
    planner = Planner(db, config, now or wall_clock())
    return [task for kind in selected_kinds(only) for task in planner.plan(kind)]


def selected_kinds(only: list[str] | None) -> list[str]:
    if not only:
        return list(KINDS)
    wanted = set()
    for value in only:
        for name in value.split(","):
            name = name.strip().lower()
            kind = ALIASES.get(name, name)
            if kind not in KINDS:
                raise UsageError(f"--only takes one of {', '.join(KINDS)}, not {name!r}")
            wanted.add(kind)
    return [kind for kind in KINDS if kind in wanted]


# -- running ---------------------------------------------------------------------------------------




class Syncer:
    def __init__(self, db: sqlite_utils.Database, config: Config, http,
                 on_item: Callable[[ItemResult], None] | None = None,
                 clock: Callable[[], datetime] = wall_clock):
        self.db = db
        self.config = config
        self.http = http
        self.on_item = on_item
        self.clock = clock
        self.now = clock()
        self._done_mark: str | None = None

    def _stamp_now(self) -> str:
        return precise_stamp(self.clock())

    def run(self, only: list[str] | None = None) -> SyncReport:
        kinds = selected_kinds(only)
        resumed = self._recover_interrupted()
        self._analyse_leftovers()
        started = self._stamp_now()
        target = "watch list" + (f" (--only {','.join(kinds)})" if only else "")
        run_id = start_run(self.db, "sync", target)
        report = SyncReport(run_id, started, resumed_from=resumed)
        self._done_mark = resumed or started
        planner = Planner(self.db, self.config, self.now, done_mark=self._done_mark)
        clock = time.monotonic()
        requests_before = self.http.requests_made
        try:
            for kind in kinds:
                # Planned kind by kind: the tags step may add threads for the threads step.
                tasks = planner.plan(kind)
                if kind == "threads":
                    report.results += self._check_changes(tasks)
                for task in tasks:
                    report.results.append(self._run_task(task))
                if kind == "threads":
                    report.results += self._record_signatures(tasks)
        except BaseException as exc:
            report.requests = self.http.requests_made - requests_before
            finish_run(self.db, run_id, "interrupted", report.totals(), report.requests,
                       f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            raise
        report.ended_at = now_utc()
        report.seconds = time.monotonic() - clock
        report.requests = self.http.requests_made - requests_before
        errors = [f"{r.task.kind} {r.task.key}: {r.error}" for r in report.results if r.error]
        finish_run(self.db, run_id, report.status, report.totals(), report.requests,
                   "; ".join(errors)[:4000] or None)
        return report

    def _recover_interrupted(self) -> str | None:
        """Mark rows of killed runs; return the start of the interrupted sync to resume, if any.

        We hold the lock, so any sync row still 'running' belongs to a process that died.
        """
        with self.db.conn:
            self.db.conn.execute(
                "UPDATE runs SET status = 'interrupted', ended_at = COALESCE(ended_at, ?), "
                "error = COALESCE(error, 'the process was killed before it finished') "
                "WHERE status = 'running' AND (command = 'sync' OR command LIKE 'sync %')",
                [now_utc()])
        rows = self.db.execute(
            "SELECT status, started_at FROM runs WHERE command = 'sync' ORDER BY id DESC LIMIT 50"
        ).fetchall()
        resume = None
        for status, started_at in rows:
            if status != "interrupted":
                break
            resume = started_at  # the earliest of a chain of interrupted runs
        return resume

    def _analyse_leftovers(self) -> None:
        """Analyse what a killed run saved but never analysed: its threads may not be due again,
        so no fetch of this run would pick those items up."""
        try:
            run_analysis(self.db, {})
        except Exception as exc:  # the items stay queued; fetching must go on
            log.warning("analysing the items left by an interrupted run failed (%s: %s); "
                        "they stay queued for the next run", type(exc).__name__, exc)

    def _run_task(self, task: Task) -> ItemResult:
        result = ItemResult(task, "skipped")
        if not task.due:
            self._report(result)
            return result
        started, clock, before = self._stamp_now(), time.monotonic(), self.http.requests_made
        try:
            counts, note = getattr(self, f"_do_{task.kind}")(task, started)
            result.status, result.note = "ok", note
            result.new, result.updated, result.unchanged = counts.new, counts.updated, counts.unchanged
        except HostFailing as exc:
            result.status, result.error = "host_failing", str(exc)
        except ArchiverError as exc:
            result.status, result.error = "failed", str(exc)
        except Exception as exc:  # a bug in one source must not stop the whole watch list
            log.debug("sync %s %s failed", task.kind, task.key, exc_info=True)
            result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
        result.requests = self.http.requests_made - before
        result.seconds = time.monotonic() - clock
        self._report(result)
        return result

    def _report(self, result: ItemResult) -> None:
        if self.on_item:
            self.on_item(result)

    def _mark(self, kind: str, key: str, value: str) -> None:
        with self.db.conn:
            set_state(self.db, kind, key, value)

    def _endpoint(self, name: str) -> str | None:
        return self.config.endpoints.get(name)

    def _fallback(self, source, site: str) -> dict:
        """The fallback the config allows for ``site`` (``<site>_fallback``), as the source's
        keyword; without one, a source with an endpoint set falls back nowhere."""
        from archiver.app.forums import fallback_for, fallback_kwargs

        return fallback_kwargs(source, fallback_for(site, None, self.config.endpoints))

    # kinds -------------------------------------------------------------------------------------

    def _do_threads(self, task: Task, started: str) -> tuple[Counts, str | None]:
        source, ref = task.entry["source"], task.entry["ref"]
        endpoint = self._endpoint(ref.site)
        if task.mode == "new":
            pages = source.fetch_thread_since(self.http, ref, task.since, endpoint=endpoint)
            counts = ingest(self.db, pages, "sync thread", ref.url, self.http)
        else:
            pages = source.fetch_thread(self.http, ref, endpoint=endpoint,
                                        **self._fallback(source, ref.site))
            counts = self._ingest_full(task.key, pages, "sync thread", ref.url, started)
        self._mark("thread_synced", task.key, started)
        if task.entry.get("signature"):
            self._mark("thread_signature", task.key, task.entry["signature"])
        return counts, None

    def _do_users(self, task: Task, started: str) -> tuple[Counts, str | None]:
        from archiver.kernel.parse import parse_count

        source, ref = task.entry["source"], task.entry["ref"]
        if task.mode == "first":
            posts = parse_count(task.entry.get("posts", "all"), "posts")
            comments = parse_count(task.entry.get("comments", "all"), "comments")
        else:
            posts = comments = None
        pages = source.fetch_user(self.http, ref, posts=posts, comments=comments,
                                  since=task.since, endpoint=self._endpoint(ref.site),
                                  **self._fallback(source, ref.site))
        counts = ingest(self.db, pages, "sync user", ref.url or task.key, self.http)
        self._mark("user_synced", task.key, started)
        return counts, None

    def _do_tags(self, task: Task, started: str) -> tuple[Counts, str | None]:
        site, minimum = task.entry["site"], task.entry.get("min_score")
        source = registry.by_site(site)
        source.require("tags", f"watch.tags {task.key}")
        endpoint = self._endpoint(site)
        total, fetched, known = Counts(), 0, 0
        slug = task.entry["slug"]
        cached = get_state(self.db, "tag_id", task.key)
        tag_ids = {slug: cached} if cached else {}
        with self._child_run("sync tag listing", task.key):
            stubs = list(source.fetch_tag_posts(self.http, site, slug, task.since, minimum,
                                                endpoint=endpoint, tag_ids=tag_ids))
        if tag_ids.get(slug) and tag_ids[slug] != cached:
            self._mark("tag_id", task.key, tag_ids[slug])
        for post in stubs:
            info = json.dumps({"url": post.url, "via": f"tag {task.key}"})
            if get_state(self.db, "thread_fetched", post.id):
                known += 1
            else:
                thread_source, ref = registry.resolve_thread(f"{post.site_id}:{post.source_id}")
                thread_started = self._stamp_now()
                pages = thread_source.fetch_thread(self.http, ref, endpoint=endpoint)
                total.add(self._ingest_full(post.id, pages, "sync tag", post.url or ref.url,
                                            thread_started))
                self._mark("thread_synced", post.id, thread_started)
                fetched += 1
            # Watched from now on, so the threads step re-checks it while it is active.
            self._mark("watch_thread", post.id, info)
        self._mark("tag_synced", task.key, started)
        return total, f"{len(stubs)} qualifying posts: {fetched} fetched, {known} already archived"

    # the change check ---------------------------------------------------------------------------

    def _check_changes(self, tasks: list[Task]) -> list[ItemResult]:
        """Ask each source's light change check about its threads (batched), then turn every
        "check" task into a fetch (changed) or a skip (unchanged). A failed check fetches as if
        changed: the fetch then fails or is skipped for a failing host on its own."""
        # Threads fetched before and due now; a never fetched thread gets a full fetch anyway.
        wanted = [t for t in tasks if t.due and self._state_of("thread_fetched", t.key)]
        results = []
        for source, endpoint, group in self._check_groups(wanted):
            result, signatures = self._run_check(source, group, endpoint)
            results.append(result)
            for task in group:
                self._decide(task, signatures)
        return results

    def _record_signatures(self, tasks: list[Task]) -> list[ItemResult]:
        """After the threads step: a signature for each thread fetched in this run that has none
        yet (first fetches, a tag's new posts), so the next sync's check can compare. A change
        between that fetch and this check waits for the thread's next full re-check."""
        fresh = [t for t in tasks if not self._state_of("thread_signature", t.key)
                 and self._finished_now(t.key)]
        results = []
        for source, endpoint, group in self._check_groups(fresh):
            result, signatures = self._run_check(source, group, endpoint)
            results.append(result)
            for task in group:
                if signatures and task.entry.get("signature"):
                    self._mark("thread_signature", task.key, task.entry["signature"])
        return results

    def _finished_now(self, key: str) -> bool:
        synced = self._state_of("thread_synced", key)
        return bool(synced and self._done_mark and _parse(synced) >= _parse(self._done_mark))

    def _check_groups(self, tasks: list[Task]) -> list[tuple]:
        groups: dict[tuple, list[Task]] = {}
        for task in tasks:
            source = task.entry.get("source")
            if source is not None and source.check:
                ref = task.entry["ref"]
                groups.setdefault((source.name, self._endpoint(ref.site)), []).append(task)
        return [(group[0].entry["source"], endpoint, group)
                for (_name, endpoint), group in groups.items()]

    def _run_check(self, source, group: list[Task], endpoint: str | None):
        check = Task("check", f"check:{source.name}",
                     f"change check of {len(group)} thread(s) ({source.title})", True,
                     "light check: comment counts and last activity")
        check.entry["refs"] = [t.key for t in group]
        result = ItemResult(check, "ok")
        clock, before = time.monotonic(), self.http.requests_made
        signatures = None
        try:
            with self._child_run("sync check", check.label):
                signatures = source.check_threads(self.http, [t.entry["ref"] for t in group],
                                                  endpoint=endpoint)
            changed = [self._changed(t, signatures) for t in group]  # records each signature
            due = [c for c, t in zip(changed, group) if t.due]
            result.note = f"{sum(due)} changed, {len(due) - sum(due)} unchanged"
        except HostFailing as exc:
            result.status, result.error = "host_failing", str(exc)
        except ArchiverError as exc:
            result.status, result.error = "failed", str(exc)
        except Exception as exc:  # a bug in one check must not stop the watch list
            log.debug("change check %s failed", check.key, exc_info=True)
            result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
        result.requests = self.http.requests_made - before
        result.seconds = time.monotonic() - clock
        self._report(result)
        return result, signatures

    def _changed(self, task: Task, signatures: dict | None) -> bool:
        found = (signatures or {}).get(task.entry["ref"].thread_id)
        if found is None:
            return True
        task.entry["signature"] = json.dumps(found.as_json(), sort_keys=True)
        return task.entry["signature"] != self._state_of("thread_signature", task.key)

    def _decide(self, task: Task, signatures: dict | None) -> None:
        if task.mode != "check":
            return  # a full fetch is due anyway; the signature is stored after it
        if signatures is None:
            task.reason = "the change check failed: fetched as if changed"
        elif not self._changed(task, signatures):
            task.due = False
            task.reason = "unchanged since the last check; " + task.reason.split("; ", 1)[-1]
            return
        else:
            task.reason = "changed: " + task.reason
        source = task.entry["source"]
        task.mode = "new" if source.since and task.since else "full"
        if task.mode == "full":
            task.since = None

    def _ingest_full(self, key: str, pages, command: str, target: str, started: str) -> Counts:
        """Ingest a full fetch; when the store marked the thread complete (every comment seen),
        record that time on the sync clock as ``thread_full``, the base of its next re-check."""
        complete: list[str] = []

        def watched(pages):
            for page in pages:
                complete.extend(page.complete_post_ids or ())
                yield page

        counts = ingest(self.db, watched(pages), command, target, self.http)
        if complete:
            self._mark("thread_full", key, started)
        return counts

    def _state_of(self, kind: str, key: str) -> str | None:
        return get_state(self.db, kind, key)

    @contextlib.contextmanager
    def _child_run(self, command: str, target: str) -> Iterator[None]:
        """A ``runs`` row for requests made outside ``ingest`` (checks, tag listings), so the
        children's requests add up to the parent's."""
        run_id = start_run(self.db, command, target)
        before = self.http.requests_made
        try:
            yield
        except BaseException as exc:
            finish_run(self.db, run_id, "failed", None, self.http.requests_made - before,
                       f"{type(exc).__name__}: {exc}"[:4000])
            raise
        finish_run(self.db, run_id, "ok", None, self.http.requests_made - before)

    def _do_researchers(self, task: Task, started: str) -> tuple[Counts, str | None]:
        from archiver.app.researchers import sync_researcher as fetch
        entry = task.entry
        source = entry.get("source", "openalex")
        counts = fetch(self.db, self.http, entry["id"], source=source,
                       papers=entry.get("papers", "all"), forum_user=entry.get("forum_user"),
                       endpoint=self._endpoint(source))
        self._mark("researcher_synced", task.key, started)
        return counts, None

    def _do_feeds(self, task: Task, started: str) -> tuple[Counts, str | None]:
        from archiver.app.blogs import archive_feed as fetch
        counts, _report = fetch(self.db, self.http, task.key)
        self._mark("feed_synced", task.key, started)
        return counts, None

    def _do_topics(self, task: Task, started: str) -> tuple[Counts, str | None]:
        from archiver.analysis.topics import add_topic as define
        entry = task.entry
        define(self.db, entry["name"], entry["match"], entry.get("description"))
        self._mark("topic_defined", entry["name"], topic_digest(entry))
        return Counts(), None

    def _do_summaries(self, task: Task, started: str) -> tuple[Counts, str | None]:
        failures: list[str] = []
        made = summarize_due(self.db, self.config, self.now, failures)
        if failures:  # the step fails, naming each topic; the summaries made are kept
            from archiver.analysis.report import failed

            raise failed(failures, len(made))
        return Counts(), f"{len(made)} topic summaries remade" + (
            f": {', '.join(made[:5])}" + (" ..." if len(made) > 5 else "") if made else "")


def _items_since(db: sqlite_utils.Database, topic_id: int, since: str) -> int:
    return db.execute(
        "SELECT COUNT(*) FROM topic_items ti "
        "LEFT JOIN comments c ON ti.item_table = 'comments' AND c.id = ti.item_id "
        "LEFT JOIN posts p ON ti.item_table = 'posts' AND p.id = ti.item_id "
        "WHERE ti.topic_id = ? AND COALESCE(c.posted_at, p.posted_at) >= ?",
        [topic_id, since]).fetchone()[0]


SUMMARY_MIN_ITEMS = 3  # a topic needs this many new items since its last summary to be remade


def summarize_due(db: sqlite_utils.Database, config: Config, now: datetime,
                  failures: list[str] | None = None) -> list[str]:
    """Remake the summary of every topic whose last one is older than ``summaries_every_days``
    and which has at least SUMMARY_MIN_ITEMS items posted since, at most ``summaries_per_run``
    (most active topics first); returns the topics' names.

    A topic's first summary covers everything; later ones cover the period since the last. With
    a ``failures`` list, a topic whose report fails is named there ("name: why") and the others
    are still made, as ``summarize --all`` does; otherwise the error propagates.
    """
    from archiver.analysis import topics
    from archiver.analysis.report import make_reports

    topics.refresh(db, config.topics)
    cutoff = now - timedelta(days=config.summaries_every_days)
    last = dict(db.execute("SELECT topic_id, MAX(created_at) FROM summaries "
                           "WHERE topic_id IS NOT NULL GROUP BY topic_id").fetchall())
    made = []
    for topic_id in topics.active_topic_ids(db, min_items=SUMMARY_MIN_ITEMS):
        if len(made) >= config.summaries_per_run:
            break  # the rest stay due: the next syncs take them, most active first
        previous = last.get(topic_id)
        if previous and _parse(previous) > cutoff:
            continue
        if previous and _items_since(db, topic_id, previous) < SUMMARY_MIN_ITEMS:
            continue
        try:
            reports, _warnings = make_reports(db, topic=str(topic_id), since=previous,
                                              config_topics=config.topics)
        except (sqlite3.Error, OSError):
            raise  # the database or the disk: every other topic would fail the same way
        except Exception as exc:
            if failures is None:
                raise
            log.info("the summary of topic %s failed", topic_id, exc_info=True)
            name = db.execute("SELECT name FROM topics WHERE id = ?", [topic_id]).fetchone()[0]
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        made += [r.summary.title for r in reports]
    return made


def run_sync(db: sqlite_utils.Database, db_path: str, config: Config, http,
             only: list[str] | None = None,
             on_item: Callable[[ItemResult], None] | None = None,
             clock: Callable[[], datetime] = wall_clock) -> SyncReport:
    """Take the lock, then sync every due item on the watch list; see the module docstring."""
    kinds = selected_kinds(only)  # a usage error before taking the lock
    with sync_lock(db_path):
        return Syncer(db, config, http, on_item, clock).run(kinds if only else None)
