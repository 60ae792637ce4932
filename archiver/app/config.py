"""The TOML config (``archiver.toml`` in the working folder, ``--config FILE`` or ``ARCHIVER_CONFIG``).

It holds the database path, politeness settings (contact address, delay, retries, extra headers),
per-site API endpoints, the ``[sync]`` schedule and the watch list for ``archiver sync``. Every
problem is reported as ``FILE:LINE: what is wrong (hint)`` so a scheduler's log says exactly what to
fix. ``archiver init`` writes ``EXAMPLE`` (commented) to start from.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from archiver.kernel.errors import UsageError
from archiver.kernel.http import HttpSettings, url_problem
from archiver.kernel.parse import parse_count, parse_date
from archiver.sources import registry

DEFAULT_PATH = "archiver.toml"

WATCH_KINDS = ("threads", "users", "tags", "researchers", "feeds", "topics")

# A value spec: (python types, check(value) -> problem or None, hint). Keys marked required must be
# present in every entry of that watch kind.
NUMBER = (int, float)

# Upper bounds: TOML accepts inf, nan and 1e308, which validate as "0 or more" but crash at run
# time (sleep(inf), a socket timeout that does not fit a timeval, a timedelta overflow).
MAX_SECONDS = 3600.0  # delay and timeout: an hour
MAX_DAYS = 36500  # a century
MAX_HOURS = MAX_DAYS * 24
MAX_RETRIES = 100


def _at_most(high):
    return lambda v: None if v <= high else f"must be at most {high:g}"


def _at_least(low, high=None):
    def check(v):
        if v != v:  # NaN compares false with everything
            return "must be a number, not nan"
        if v < low:
            return f"must be {low} or more"
        return _at_most(high)(v) if high is not None else None
    return check


def _positive(v, high=None):
    problem = _at_least(0, high)(v)
    return problem or (None if v > 0 else "must be more than 0")


def _positive_at_most(high):
    return lambda v: _positive(v, high)


def _count(v):
    try:
        parse_count(v, "")
    except UsageError:
        return "must be a number or \"all\""
    return None


def _date(v):
    try:
        parse_date(v)
    except UsageError:
        return "must be a date like 2024-05-01"
    return None


def _http_url(v):
    problem = url_problem(v) or ("contains a space" if re.search(r"\s", v) else None)
    return f"must be an http(s) URL ({problem})" if problem else None


def _one_of(choices):
    """``choices``: the values, or a function giving them (the registry's, read when checked)."""
    def check(v):
        values = choices() if callable(choices) else choices
        return None if v in values else f"must be one of: {', '.join(values)}"
    return check


def _contact(v):
    return None if "@" in v or v.startswith("http") else "must be an e-mail address or a URL"


def _patterns(values):
    if not values or not all(isinstance(v, str) and v.strip() for v in values):
        return "must be a non-empty list of phrases or regular expressions"
    from archiver.analysis.patterns import problem

    return next((p for p in map(problem, (v.strip() for v in values)) if p), None)


def _headers(values):
    for name, value in values.items():
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name):
            return f"header {name!r} must be a token name with a text value"
    return None


def _endpoints(values):
    for name, value in values.items():
        if not isinstance(value, str):
            return f"endpoint {name!r} must be an http(s) URL"
        problem = _http_url(value)
        if problem:
            return f"endpoint {name!r} {problem}"
    return None


TOP_KEYS = {
    "db": (str, None, 'a path, e.g. db = "db/archive.db"'),
    "contact": (str, _contact, 'sites see it in the User-Agent, e.g. contact = "you@example.org"'),
    "delay": (NUMBER, _at_least(0, MAX_SECONDS),
              "seconds between two requests to one host, e.g. delay = 1.5"),
    "retries": (int, _at_least(0, MAX_RETRIES), "e.g. retries = 4"),
    "timeout": (NUMBER, _positive_at_most(MAX_SECONDS),
                "read timeout in seconds, e.g. timeout = 60; each attempt also has an overall "
                "deadline of 10 + 3 x timeout seconds"),
    "max_bytes": (int, _positive, "largest response accepted, in bytes"),
    "headers": (dict, _headers, 'e.g. headers = { "X-Access-Token" = "..." }'),
    "endpoints": (dict, _endpoints, 'API roots by site or source, e.g. eaforum = "https://..."'),
    "sync": (dict, None, "see `archiver init`"),
    "watch": (dict, None, "see `archiver init`"),
}

SYNC_KEYS = {
    "active_days": (int, _at_least(0, MAX_DAYS), "re-check threads with activity in the last N days"),
    "overlap_hours": (NUMBER, _at_least(0, MAX_HOURS), "re-read this far behind each cursor for edits"),
    "recheck_days": (NUMBER, _positive_at_most(MAX_DAYS), "full re-check of quiet threads every N days"),
    "full_active_days": (NUMBER, _positive_at_most(MAX_DAYS),
                         "full re-check of active threads every N days (catches old edits)"),
    "tag_rescore_days": (NUMBER, _at_least(0, MAX_DAYS),
                         "read the scores of a tag's posts from the last N days each sync"),
    "first_days": (int, _positive_at_most(MAX_DAYS), "how far back a new tag goes on its first sync"),
    "users_every_days": (NUMBER, _at_least(0, MAX_DAYS), "check each watched user every N days"),
    "researchers_every_days": (NUMBER, _at_least(0, MAX_DAYS), "fetch researcher metrics every N days"),
    "summaries_every_days": (NUMBER, _at_least(0, MAX_DAYS), "remake topic summaries every N days"),
    "summaries_per_run": (int, _at_least(0), "at most N topic summaries per sync; 0 = none"),
}

WATCH_KEYS: dict[str, dict] = {
    "threads": {
        "url": (str, None, "a thread URL or site:postId"),
        "active_days": (int, _at_least(0, MAX_DAYS), "overrides [sync] active_days for this thread"),
    },
    "users": {
        "url": (str, None, "a profile URL, or a slug with site = ..."),
        "site": (str, _one_of(lambda: registry.site_names("users")), None),
        "posts": ((int, str), _count, "how many posts on the first sync"),
        "comments": ((int, str), _count, "how many comments on the first sync"),
        "since": (str, _date, "only items since this date on the first sync"),
        "every_days": (NUMBER, _at_least(0, MAX_DAYS), "overrides [sync] users_every_days"),
    },
    "tags": {
        "slug": (str, None, "the tag's slug, from its URL /tag/<slug>"),
        "site": (str, _one_of(lambda: registry.site_names("tags")), None),
        "min_score": (int, None, "archive new posts with at least this karma"),
        "since": (str, _date, "how far back the first sync goes"),
    },
    "researchers": {
        "id": (str, None, "an OpenAlex id, ORCID, Semantic Scholar id or arXiv author query"),
        "source": (str, _one_of(registry.researcher_names), None),
        "papers": ((int, str), _count, "how many papers"),
        "every_days": (NUMBER, _at_least(0, MAX_DAYS), "overrides [sync] researchers_every_days"),
        "forum_user": (str, None, "the researcher's forum user slug, to link the two"),
    },
    "feeds": {
        "url": (str, _http_url, "an RSS or Atom feed URL"),
    },
    "topics": {
        "name": (str, None, "a short name"),
        "match": (list, _patterns, 'e.g. match = ["sparse autoencoder", "\\\\bSAEs?\\\\b"]'),
        "description": (str, None, None),
    },
}
REQUIRED = {"threads": "url", "users": "url", "tags": "slug", "researchers": "id", "feeds": "url",
            "topics": "name"}


@dataclass
class Config:
    path: str | None = None
    db: str | None = None
    contact: str | None = None
    delay: float = 1.0
    retries: int = 4
    timeout: float = 60.0
    max_bytes: int = 200 * 1024 * 1024
    headers: dict = field(default_factory=dict)
    endpoints: dict = field(default_factory=dict)
    # [sync]
    active_days: int = 14
    overlap_hours: float = 48.0
    recheck_days: float = 7.0
    full_active_days: float = 1.0
    tag_rescore_days: float = 30.0
    first_days: int = 30
    users_every_days: float = 1.0
    researchers_every_days: float = 30.0
    summaries_every_days: float = 7.0
    summaries_per_run: int = 10
    # [watch]: kind -> entries (dicts with the keys of WATCH_KEYS[kind]); each entry also carries
    # "_line", its line in the file, for messages.
    watch: dict[str, list[dict]] = field(default_factory=dict)

    def http_settings(self) -> HttpSettings:
        return HttpSettings(delay=self.delay, retries=self.retries, read_timeout=self.timeout,
                            contact=self.contact, extra_headers=dict(self.headers),
                            max_bytes=self.max_bytes)

    def entries(self, kind: str) -> list[dict]:
        return self.watch.get(kind, [])

    @property
    def topics(self) -> list[dict]:
        """User-defined topics: [{"name", "match": [...], "description"}]."""
        return self.entries("topics")


def load_config(path: str | None = None) -> Config:
    """Load ``path`` (must exist), else $ARCHIVER_CONFIG (must exist), else ./archiver.toml if any."""
    explicit = path or os.environ.get("ARCHIVER_CONFIG")
    path = explicit or DEFAULT_PATH
    if not os.path.exists(path):
        if explicit:
            raise UsageError(f"{path}: config file not found (run `archiver init` to write one)")
        return Config()
    try:
        source = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from exc
    return parse_config(source, path)


def parse_config(source: str, path: str = DEFAULT_PATH) -> Config:
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(_toml_error(path, exc)) from exc
    return _Builder(path, source).build(data)


def _toml_error(path: str, exc: Exception) -> str:
    message = str(exc)
    match = re.search(r"\(at line (\d+), column \d+\)", message)
    if match:
        problem = message[:match.start()].strip()
        return (f"{path}:{match.group(1)}: not valid TOML: {problem} (check quotes, brackets and "
                "that every value has a key)")
    return f"{path}: not valid TOML: {message}"


class _Builder:
    def __init__(self, path: str, source: str):
        self.path = path
        self.lines = _KeyLines(source)

    def build(self, data: dict) -> Config:
        config = Config(path=self.path)
        for key, value in data.items():
            self.check((), None, key, value, TOP_KEYS, "top-level")
            if key == "sync":
                for name, setting in value.items():
                    self.check(("sync",), None, name, setting, SYNC_KEYS, "[sync]")
                    setattr(config, name, setting)
            elif key == "watch":
                config.watch = self.watch(value)
            elif key == "endpoints":
                self.endpoints(value)
                config.endpoints = value
            else:
                setattr(config, key, value)
        if config.db and not os.path.isabs(config.db):
            # Relative to the config file, so a scheduler may run from any folder.
            config.db = os.path.normpath(os.path.join(os.path.dirname(self.path), config.db))
        return config

    def watch(self, watch: dict) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for kind, entries in watch.items():
            if kind not in WATCH_KEYS:
                self.fail(("watch",), None, kind, f"unknown watch kind {kind!r}",
                          f"known kinds: {', '.join(WATCH_KINDS)}")
            if not isinstance(entries, list):
                self.fail(("watch",), None, kind, f"watch.{kind} must be a list",
                          f"write one [[watch.{kind}]] table per entry")
            for index, entry in enumerate(entries):
                out.setdefault(kind, []).append(self.entry(kind, index, entry))
        return out

    def endpoints(self, endpoints: dict) -> None:
        """Keys are site ids, researcher sources or ``<site>_fallback``: a typo would otherwise be
        ignored and the public API used instead."""
        known = endpoint_names()
        for key in endpoints:
            host_site = ":" in key and key.split(":")[0] in registry.per_host_sources()
            if key in known or host_site:
                continue
            base = key.removesuffix("_fallback")
            if base in registry.site_names():  # an alias: the archive files it under its id
                hint = f"{base!r} is archived as site {registry.site_id(base)!r}: use that"
            else:
                near = _suggest(key, dict.fromkeys(known))
                hint = (f"did you mean {near!r}? " if near else "") + f"known keys: {', '.join(known)}"
            self.fail(("endpoints",), None, key, f"unknown key {key!r} in [endpoints]", hint)

    def entry(self, kind: str, index: int, entry) -> dict:
        where = ("watch", kind)
        if isinstance(entry, str):  # threads = ["url", ...] shorthand
            entry = {REQUIRED[kind]: entry}
            line = self.lines.value_line(entry[REQUIRED[kind]])
        elif isinstance(entry, dict):
            line = self.lines.table_line(where, index)
            # TOML dates (since = 2024-05-01, unquoted) are as good as quoted ones.
            entry = {k: v.isoformat() if isinstance(v, (date, datetime)) else v
                     for k, v in entry.items()}
        else:
            self.fail(where, index, kind, f"each watch.{kind} entry must be a table", None)
        for key, value in entry.items():
            self.check(where, index, key, value, WATCH_KEYS[kind], f"watch.{kind}", line)
        required = REQUIRED[kind]
        if required not in entry:
            raise UsageError(self.where(line) + f": a watch.{kind} entry needs {required} = ... "
                             f"({WATCH_KEYS[kind][required][2]})")
        if kind == "topics" and "match" not in entry:
            raise UsageError(self.where(line) + f": topic {entry['name']!r} needs match = [...] "
                             "(phrases or regular expressions)")
        self.resolve(kind, entry, line)
        return {**entry, "_line": line}

    def resolve(self, kind: str, entry: dict, line: int | None) -> None:
        """Thread and user URLs must be ones a source recognises; say which entry is wrong."""
        try:
            if kind == "threads":
                registry.resolve_thread(entry["url"])
            elif kind == "users":
                registry.resolve_user(entry["url"], entry.get("site"))
        except UsageError as exc:
            raise UsageError(f"{self.where(line)}: {exc}") from exc

    def check(self, table: tuple, index: int | None, key: str, value, spec: dict, section: str,
              line: int | None = None) -> None:
        if key not in spec:
            near = _suggest(key, spec)
            self.fail(table, index, key, f"unknown key {key!r} in {section}",
                      (f"did you mean {near!r}? " if near else "") + f"known keys: {', '.join(spec)}",
                      line)
        types, validate, hint = spec[key]
        if isinstance(value, bool) or not isinstance(value, types):
            self.fail(table, index, key, f"{key} must be {_type_names(types)}, not "
                      f"{_toml_type(value)} ({value!r})", hint, line)
        problem = validate(value) if validate else None
        if problem:
            self.fail(table, index, key, f"{key} {problem}", hint, line)

    def fail(self, table: tuple, index: int | None, key: str, problem: str, hint: str | None,
             line: int | None = None):
        line = self.lines.key_line(table, index, key) or line
        raise UsageError(self.where(line) + f": {problem}" + (f" ({hint})" if hint else ""))

    def where(self, line: int | None) -> str:
        return f"{self.path}:{line}" if line else self.path


def endpoint_names() -> list[str]:
    """The keys ``[endpoints]`` accepts besides ``<source>:<host>`` of per-host sources
    (``discourse:forum.example.org``): what sync and the fallbacks look up."""
    sites = [spec.id for source in registry.forum_sources() for spec in source.sites]
    return sites + [f"{site}_fallback" for site in sites] + registry.researcher_names()


def _type_names(types) -> str:
    types = set(types if isinstance(types, tuple) else (types,))
    if {int, float} <= types:
        types = (types - {int, float}) | {"number"}
    names = {int: "a whole number", float: "a number", "number": "a number", str: "text",
             list: "a list", dict: "a table"}
    return " or ".join(sorted(names[t] for t in types))


def _toml_type(value) -> str:
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def _suggest(key: str, spec: dict) -> str | None:
    import difflib

    found = difflib.get_close_matches(key, list(spec), n=1, cutoff=0.6)
    return found[0] if found else None


class _KeyLines:
    """Where each key sits in the file: (table path, array-of-tables index, key) -> line number.

    A small line scanner (tomllib keeps no positions). It understands ``[table]``,
    ``[[array.of.tables]]``, ``key = ...`` and dotted keys, which is all a config needs; anything
    it cannot place falls back to the entry's or the file's line.
    """

    HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
    KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")

    def __init__(self, source: str):
        self.source = source
        self.keys: dict[tuple, int] = {}
        self.tables: dict[tuple, int] = {}
        counts: dict[tuple, int] = {}
        table: tuple = ()
        index = None
        for number, line in enumerate(source.splitlines(), start=1):
            header = self.HEADER.match(line)
            if header:
                table = self._path(header.group(2))
                if header.group(1) == "[[":
                    index = counts.get(table, 0)
                    counts[table] = index + 1
                else:
                    index = None
                self.tables.setdefault((table, index), number)
                continue
            key = self.KEY.match(line)
            if key:
                dotted = self._path(key.group(1))
                path = table + dotted[:-1]
                self.keys.setdefault((path, index if path == table else None, dotted[-1]), number)
                self.tables.setdefault((path + dotted[-1:], None), number)

    @staticmethod
    def _path(text: str) -> tuple:
        return tuple(part.strip().strip("\"'") for part in text.split("."))

    def key_line(self, table: tuple, index: int | None, key: str) -> int | None:
        if (table, index, key) in self.keys:
            return self.keys[(table, index, key)]
        # A key that is itself a table ([sync], [[watch.tags]]): its first header.
        lines = [n for (path, _), n in self.tables.items() if path == table + (key,)]
        return min(lines) if lines else None

    def table_line(self, table: tuple, index: int | None) -> int | None:
        return self.tables.get((table, index))

    def value_line(self, value: str) -> int | None:
        at = self.source.find(value)
        return self.source.count("\n", 0, at) + 1 if at >= 0 else None


EXAMPLE = '''\
# archiver.toml: what `archiver sync` keeps up to date, and how politely it asks.
# Written by `archiver init`. Every key is optional; delete what you do not need.
# Run `archiver sync --dry-run` to see what a sync would fetch, without fetching.

# The archive (relative paths are relative to this file).
db = "db/archive.db"

# Sites see this address in the User-Agent, so they can reach you instead of blocking you.
# contact = "you@example.org"

# Politeness: minimum seconds between two requests to the same host, retries on failures
# (with exponential backoff; Retry-After is honoured), read timeout in seconds (each attempt
# also ends at an overall deadline of 10 + 3 x timeout seconds).
delay = 1.0
retries = 4
timeout = 60

# Extra headers sent with every request (some sites hand archivers an access header).
# headers = { "X-Archiver-Access" = "token-from-the-site" }

# API roots by site or source, for mirrors and self-hosted instances (URLs stay canonical).
# A site with an endpoint here falls back only to <site>_fallback (GreaterWrong for lesswrong and
# eaforum, the Firebase root for hackernews); without one, its failures do not fall back.
# [endpoints]
# eaforum = "https://forum-bots.effectivealtruism.org/graphql"
# eaforum_fallback = "https://ea.greaterwrong.com"

[sync]
active_days = 14            # a thread with new comments in the last 14 days is "active"
overlap_hours = 48          # re-read 48 h behind each cursor: catches edits and late replies
full_active_days = 1        # active threads: a full re-check daily (edits, deletions of old comments)
recheck_days = 7            # quiet threads: a full re-check weekly; every sync still asks each
                            # watched thread's comment count and last activity (one cheap request
                            # for many threads) and fetches it when they changed
first_days = 30             # a new tag's first sync goes back 30 days (or set `since`)
tag_rescore_days = 30       # each sync reads the scores of the tag's last 30 days of posts again,
                            # so a post that passes min_score late still arrives
users_every_days = 1        # watched users: profile, new posts and comments, daily
researchers_every_days = 30 # researcher metrics: a monthly snapshot makes a time series
summaries_every_days = 7    # topic summaries are remade weekly when their topic has news,
summaries_per_run = 10      # the most active topics first, at most 10 per sync (0 = none)

# -- the watch list -------------------------------------------------------------------------

# Threads: the post and every comment; re-checked while active.
[[watch.threads]]
url = "https://www.lesswrong.com/posts/uMQ3cqWDPHhjtiesc/agi-ruin-a-list-of-lethalities"

# Forum users: profile, posts and comments (posts/comments limit only the first sync).
[[watch.users]]
url = "https://www.lesswrong.com/users/rohinmshah"
comments = 500
# every_days = 7

# Forum tags: new posts with at least min_score karma are archived with their comments.
[[watch.tags]]
site = "lesswrong"          # lesswrong | alignmentforum | eaforum
slug = "sparse-autoencoders-saes"
min_score = 30
# since = "2024-01-01"      # how far back the first sync goes (default: first_days)

# Researchers: profile, metrics snapshot and papers.
[[watch.researchers]]
id = "https://orcid.org/0000-0002-1825-0097"
source = "openalex"         # openalex | semanticscholar | arxiv
papers = "all"
# forum_user = "some-lesswrong-slug"

# Research blogs: every new entry, with the full article.
[[watch.feeds]]
url = "https://www.alignmentforum.org/feed.xml"

# Your own topics: phrases or regular expressions; items that match join the topic.
[[watch.topics]]
name = "Sparse autoencoders"
match = ["sparse autoencoder", "\\\\bSAEs?\\\\b", "dictionary learning"]
description = "SAEs and their variants (gated, TopK, JumpReLU)"
'''


def write_example(path: str = DEFAULT_PATH, force: bool = False) -> str:
    """Write the commented example config; refuse to overwrite unless ``force``."""
    if os.path.exists(path) and not force:
        raise UsageError(f"{path} already exists; edit it, or use --force to overwrite it")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    Path(path).write_text(EXAMPLE, encoding="utf-8")
    return path
