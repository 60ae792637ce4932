"""The TOML config (``archiver.toml`` in the working folder, or ``--config``).

Politeness settings and the watch list for ``archiver sync``. Unknown keys and bad values are
reported with the file, the line and a hint.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from archiver.errors import UsageError
from archiver.http import HttpSettings

DEFAULT_PATH = "archiver.toml"

# section -> {key: type}; lists of tables are validated per entry.
TOP_KEYS = {"db": str, "contact": str, "delay": (int, float), "retries": int,
            "timeout": (int, float), "max_bytes": int, "headers": dict, "active_days": int,
            "overlap_hours": (int, float)}
WATCH_KEYS = {
    "threads": {"url": str, "active_days": int},
    "users": {"url": str, "site": str, "posts": (int, str), "comments": (int, str),
              "every_days": (int, float)},
    "tags": {"site": str, "slug": str, "min_score": int},
    "researchers": {"id": str, "source": str, "papers": (int, str), "every_days": (int, float),
                    "forum_user": str},
    "feeds": {"url": str},
    "topics": {"name": str, "match": list, "description": str},
}


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
    active_days: int = 14
    overlap_hours: float = 48.0
    watch: dict[str, list[dict]] = field(default_factory=dict)

    def http_settings(self) -> HttpSettings:
        return HttpSettings(delay=self.delay, retries=self.retries, read_timeout=self.timeout,
                            contact=self.contact, extra_headers=dict(self.headers),
                            max_bytes=self.max_bytes)


def load_config(path: str | None = None) -> Config:
    """Load ``path`` (must exist) or ./archiver.toml (optional)."""
    explicit = path is not None
    path = path or os.environ.get("ARCHIVER_CONFIG") or DEFAULT_PATH
    if not os.path.exists(path):
        if explicit:
            raise UsageError(f"{path}: config file not found (run `archiver init` to write one)")
        return Config()
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from exc
    return _build(path, raw.decode("utf-8", errors="replace"), data)


def _build(path: str, source: str, data: dict) -> Config:
    config = Config(path=path)
    for key, value in data.items():
        if key == "watch":
            config.watch = _watch(path, source, value)
            continue
        if key not in TOP_KEYS:
            _bad(path, source, key, f"unknown key {key!r}", f"known keys: {', '.join(TOP_KEYS)}, [watch]")
        _check_type(path, source, key, value, TOP_KEYS[key])
        setattr(config, key, value)
    if config.delay < 0:
        _bad(path, source, "delay", "delay must be 0 or more seconds", "e.g. delay = 1.5")
    return config


def _watch(path: str, source: str, watch) -> dict[str, list[dict]]:
    if not isinstance(watch, dict):
        _bad(path, source, "watch", "[watch] must be a table", "see `archiver init`")
    out: dict[str, list[dict]] = {}
    for kind, entries in watch.items():
        if kind not in WATCH_KEYS:
            _bad(path, source, kind, f"unknown watch kind {kind!r}",
                 f"known kinds: {', '.join(WATCH_KEYS)}")
        if not isinstance(entries, list):
            _bad(path, source, kind, f"watch.{kind} must be a list ([[watch.{kind}]])", "")
        allowed = WATCH_KEYS[kind]
        for entry in entries:
            entry = {"url": entry} if isinstance(entry, str) else entry
            for key, value in entry.items():
                if key not in allowed:
                    _bad(path, source, key, f"unknown key {key!r} in watch.{kind}",
                         f"known keys: {', '.join(allowed)}")
                _check_type(path, source, key, value, allowed[key])
            out.setdefault(kind, []).append(entry)
    return out


def _check_type(path: str, source: str, key: str, value, expected) -> None:
    if isinstance(value, bool) or not isinstance(value, expected):
        names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
        _bad(path, source, key, f"{key} must be {names}, not {type(value).__name__} ({value!r})", "")


def _line_of(source: str, key: str) -> int | None:
    pattern = re.compile(rf"^\s*(\[+\s*)?[\w.]*\b{re.escape(key)}\b", re.M)
    match = pattern.search(source)
    return source.count("\n", 0, match.start()) + 1 if match else None


def _bad(path: str, source: str, key: str, problem: str, hint: str):
    line = _line_of(source, key)
    where = f"{path}:{line}" if line else path
    raise UsageError(f"{where}: {problem}" + (f" ({hint})" if hint else ""))
