"""User patterns (``topics add --match``, ``[[watch.topics]] match``), matched in bounded time.

A keyword or phrase matches as whole words; anything with regex syntax is a regular expression.
User regexes run on every fetched item, and a backtracking engine can take exponential time on
some patterns (``(a+)+$`` on 28 ``a``s took 31 s with ``re``, doubling per character). So they
run on the ``regex`` package with its ``timeout=``: a pattern that times out on the probe texts
below is refused when the topic is defined, and one that times out later on an item skips that
item for that topic (the caller warns) instead of hanging a sync.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import regex

PROBE_TIMEOUT = 0.2  # seconds per probe text when a pattern is defined
MATCH_TIMEOUT = 1.0  # seconds per item when matching
REGEX_SYNTAX = re.compile(r"[\\\[\]()|?*+^${}]")


class PatternTimeout(Exception):
    """A pattern ran out of time on one text."""


def compile_pattern(text: str) -> regex.Pattern:
    """The compiled pattern; ``ValueError`` with the reason if it is invalid or pathological."""
    # Imported here: topics imports this module on every fetch, and the regex package (~13 ms)
    # is needed only when there are patterns to compile.
    import regex

    if not REGEX_SYNTAX.search(text):
        words = r"\s+".join(regex.escape(w) for w in text.split())
        return regex.compile(rf"(?<!\w){words}(?!\w)", regex.I | regex.V0)
    try:
        pattern = regex.compile(text, regex.I | regex.V0)
    except (regex.error, OverflowError, RecursionError) as exc:
        raise ValueError(f"{text!r} is not a valid regular expression ({exc}); quote it, or "
                         "escape special characters with \\") from exc
    for probe in _probes(text):
        try:
            pattern.findall(probe, timeout=PROBE_TIMEOUT)
        except TimeoutError as exc:
            raise ValueError(
                f"{text!r} can take exponential time (it ran over {PROBE_TIMEOUT} s on "
                f"{len(probe):,} characters of {probe[:1]!r}); avoid a repeat inside a repeat "
                "such as (a+)+ or (a|aa)*") from exc
    return pattern


def _probes(text: str) -> list[str]:
    """Texts that make nested repeats backtrack: runs of each literal character in the pattern
    (and of a letter, a digit and a space) ending in a character that breaks the match."""
    chars = {c for c in text if c.isalnum()} | {"a", "0", " "}
    return [c * 3000 + "\x00!" for c in sorted(chars)[:40]]


def count(pattern: regex.Pattern, text: str, timeout: float | None = None) -> int:
    """How many times ``pattern`` occurs in ``text``; ``PatternTimeout`` if it takes too long."""
    try:
        return len(pattern.findall(text, timeout=MATCH_TIMEOUT if timeout is None else timeout))
    except TimeoutError as exc:
        raise PatternTimeout(pattern.pattern) from exc


def problem(text: str) -> str | None:
    """Why ``text`` is not a usable pattern, or None."""
    try:
        compile_pattern(text)
    except ValueError as exc:
        return str(exc)
    return None
