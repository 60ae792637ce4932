"""One coercion layer between upstream JSON and the records: odd data is nulled or clamped, never
a traceback.

Sources read response fields through these typed getters (``as_str``, ``as_int``, ``as_time``,
``as_dict``, ``dicts``, ``as_id``) instead of trusting the shapes an API documents, and the store
passes every record through ``clean_page`` (by each dataclass field's declared type) before
writing, so a wrong type, a number SQLite cannot hold, a lone UTF-16 surrogate or a nested
``extra`` reaches the database as NULL, a clamped number or replaced characters, with a warning
in the log. An item without a usable id raises ``OddItem``; ``each`` skips it with a warning and
keeps the rest of the page.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import overload

from archiver.kernel.errors import FetchError
from archiver.kernel.records import Comment, Page, Post, Site, Tag, User, iso_utc

log = logging.getLogger("archiver.data")

INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # what an SQLite INTEGER holds
MAX_EXTRA_DEPTH = 20  # nesting kept in an ``extra`` JSON column
DEEP_JSON_LIMIT = 20_000  # recursion limit for decoding very deep JSON (a 5,000-reply HN chain)
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_UTC_STAMP = re.compile(r"([1-9]\d{3}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d{1,6})?Z", re.ASCII)


class OddItem(FetchError):
    """An upstream item that cannot be archived at all (no usable id). ``each`` skips such an
    item; anywhere else (the thread's own post) it is the one clear error of the fetch."""

    def __init__(self, message: str):
        super().__init__(f"unexpected data from the site: {message}")


def loads(text: str, url: str):
    """``json.loads``, also for documents nested deeper than Python's recursion limit allows
    (an HN reply chain 500 deep is ~1,000 levels); deeper than ``DEEP_JSON_LIMIT`` is an error."""
    try:
        return json.loads(text)
    except RecursionError:
        pass
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, DEEP_JSON_LIMIT))
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise FetchError(f"{url}: the response is nested deeper than {DEEP_JSON_LIMIT:,} levels; "
                         "archiver cannot read it") from exc
    finally:
        sys.setrecursionlimit(old)


def _odd(what: str, value, outcome: str = "nulled") -> None:
    log.warning("odd upstream data: %s = %s (%s); %s", what, _show(value), type(value).__name__,
                outcome)


def _show(value) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def as_str(value, what: str = "a text field") -> str | None:
    """Text, with lone surrogates replaced; numbers become their text; other types None."""
    if value is None or isinstance(value, str):
        return fix_text(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    _odd(what, value)
    return None


@overload
def fix_text(value: str) -> str: ...
@overload
def fix_text(value: None) -> None: ...
@overload
def fix_text(value: str | None) -> str | None: ...
def fix_text(value: str | None) -> str | None:
    """``value`` with lone UTF-16 surrogates (which SQLite cannot store) replaced by U+FFFD."""
    if value is None or value.isascii():  # isascii is a flag lookup: no scan, no copy
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", value)
    return value


def as_int(value, what: str = "a number") -> int | None:
    """A whole number clamped to what SQLite holds; numeric text is read; other types None."""
    if value is None:
        return None
    if isinstance(value, bool):
        _odd(what, value)
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,40}\s*", value):
        value = int(value)
    if isinstance(value, float) and math.isfinite(value):
        value = int(value)
    if not isinstance(value, int):
        _odd(what, value)
        return None
    if not INT_MIN <= value <= INT_MAX:
        _odd(what, value, "clamped")
        return max(INT_MIN, min(INT_MAX, value))
    return value


def as_bool(value, what: str = "a flag") -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return bool(value)
    _odd(what, value, "read as false")
    return False


def as_time(value, what: str = "a timestamp") -> str | None:
    """``YYYY-MM-DDTHH:MM:SSZ`` from an ISO string or epoch seconds, or None."""
    if value is None or value == "":
        return None
    if type(value) is str and (match := _UTC_STAMP.fullmatch(value)):
        # Already UTC to the second (plus a fraction, as ForumMagnum sends it): only the date
        # needs checking, not a parse, a time-zone shift and a strftime.
        try:
            datetime.fromisoformat(match[1])
            return match[1] + "Z"
        except ValueError:
            pass  # not a real date: the full parse below decides
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        _odd(what, value)
        return None
    try:
        stamp = iso_utc(value)
    except (ValueError, OverflowError, OSError):
        stamp = None
    if stamp is None or not _TIMESTAMP.fullmatch(stamp):
        _odd(what, value)
        return None
    return stamp


def as_dict(value, what: str = "an object") -> dict:
    if isinstance(value, dict):
        return value
    if value is not None:
        _odd(what, value, "read as empty")
    return {}


def dicts(value, what: str = "a list of objects") -> list[dict]:
    """The objects of a list; anything else in it (or instead of it) is dropped with a warning."""
    if value is None:
        return []
    if not isinstance(value, list):
        _odd(what, value, "read as empty")
        return []
    found = [item for item in value if isinstance(item, dict)]
    if len(found) != len(value):
        log.warning("odd upstream data: %d non-object entries in %s dropped",
                    len(value) - len(found), what)
    return found


def as_id(value, what: str = "an id") -> str:
    """An item's id as text; ``OddItem`` when there is none (the item cannot be archived)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value in ("", None):
        raise OddItem(f"{what} is {_show(value)}")
    text = fix_text(str(value)).strip()
    if not text or len(text) > 200:
        raise OddItem(f"{what} is {_show(value)}")
    return text


def each(parse: Callable, items: Iterable, what: str) -> list:
    """``parse(item)`` for each item; an item raising ``OddItem`` is skipped with a warning."""
    out = []
    for item in items:
        try:
            out.append(parse(item))
        except OddItem as exc:
            log.warning("odd upstream data: a %s skipped (%s)", what, exc)
    return out


# -- records -----------------------------------------------------------------------------------


def plain(value, what: str = "extra", depth: int = 0):
    """A JSON-safe copy for an ``extra`` column: text fixed, numbers clamped, depth bounded."""
    if isinstance(value, str):
        return fix_text(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return as_int(value, what)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= MAX_EXTRA_DEPTH:
        _odd(what, value, "nested too deep, dropped")
        return None
    if isinstance(value, dict):
        return {str(fix_text(str(k))): plain(v, what, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, what, depth + 1) for v in value]
    return as_str(value, what)


_REQUIRED = {"id", "site_id", "source_id", "post_id", "name"}


_PLANS: dict[type, tuple[tuple[str, str, bool], ...]] = {}


def _plan(cls: type) -> tuple[tuple[str, str, bool], ...]:
    """(field, kind, required) for each field of record class ``cls`` that coercion checks,
    read once per class from the declared types."""
    if cls not in _PLANS:
        _PLANS[cls] = _read_plan(cls)
    return _PLANS[cls]


def _read_plan(cls: type) -> tuple[tuple[str, str, bool], ...]:
    plan = []
    for field in fields(cls):
        declared = str(field.type)
        if declared.startswith("str"):
            kind = "str"
        elif declared.startswith("int"):
            kind = "int"
        elif declared == "bool":
            kind = "bool"
        elif declared.startswith("dict"):
            kind = "dict"
        elif declared.startswith("list[Tag]"):
            kind = "tags"
        else:
            continue
        plan.append((field.name, kind, kind == "str" and field.name in _REQUIRED
                     and "None" not in declared))
    return tuple(plan)


def _well_typed(kind: str, value, required: bool) -> bool:
    """True for the values coercion would return unchanged (nearly all of them): ASCII text,
    an in-range int, a bool, or None where None is allowed."""
    if value is None:
        return kind in ("str", "int") and not required
    if kind == "str":
        return type(value) is str and value.isascii()
    if kind == "int":
        return type(value) is int and INT_MIN <= value <= INT_MAX
    return kind == "bool" and type(value) is bool


def clean_record(record, what: str | None = None):
    """``record`` with every field coerced to its declared type, or None if a required text
    field (id, site, post) is unusable."""
    what = what or type(record).__name__.lower()
    for name, kind, required in _plan(type(record)):
        value = getattr(record, name)
        if _well_typed(kind, value, required):
            continue
        label = f"{what}.{name}"
        new: object
        if kind == "str":
            new = as_str(value, label)
            if new is None and required:
                log.warning("odd upstream data: a %s without a usable %s skipped", what, name)
                return None
        elif kind == "int":
            new = as_int(value, label)
        elif kind == "bool":
            new = as_bool(value, label)
        elif kind == "dict":
            new = plain(value, label) if isinstance(value, dict) else None
        else:
            new = [t for t in (clean_record(t, "tag") for t in value or [] if is_dataclass(t))
                   if t is not None]
        if new is not value:
            setattr(record, name, new)
    return record


def clean_page(page: Page) -> Page:
    """The page with its sites, users, posts and comments cleaned (unusable ones dropped)."""
    for name, kind in (("sites", Site), ("users", User), ("posts", Post), ("comments", Comment)):
        records = getattr(page, name)
        if records:
            setattr(page, name, [r for r in (clean_record(r) for r in records
                                             if isinstance(r, kind)) if r is not None])
    page.complete_post_ids = [i for i in map(as_str, page.complete_post_ids) if i]
    page.seen_comment_ids = [i for i in map(as_str, page.seen_comment_ids) if i]
    return page


__all__ = ["OddItem", "Tag", "as_bool", "as_dict", "as_id", "as_int", "as_str", "as_time",
           "clean_page", "clean_record", "dicts", "each", "fix_text", "loads", "plain"]
