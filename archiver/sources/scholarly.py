"""What the researcher sources (OpenAlex, Semantic Scholar, arXiv) share.

Each of those modules declares ``SOURCE = ResearcherSource(...)`` (``archiver.sources.contract``)
and is registered in pyproject.toml's ``archiver.sources`` entry points. It exposes:

- ``NAME`` and ``API`` (the default API root; ``endpoint`` replaces it, stored URLs stay canonical);
- ``resolve_researcher(http, query, pick=None, endpoint=None, interval=None) -> ResearcherRef``:
  an id, URL or name to one researcher (a name matching several asks for ``--pick N``);
- ``fetch_researcher(http, ref, papers=None, endpoint=None, forum_user_id=None, progress=None,
  interval=None) -> Iterator[Page]``: pages carrying ``other["researcher_papers"]`` =
  ``[ResearcherPapers]``; the first page has the metrics snapshot.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from archiver.kernel.errors import NotFound, UsageError


@dataclass
class ResearcherRef:
    source: str
    source_id: str
    id: str  # archive id, e.g. "openalex:A5023888391"
    name: str | None = None
    data: dict = field(default_factory=dict)  # the profile as fetched, so it is fetched once


@dataclass
class Candidate:
    source_id: str
    name: str
    institution: str | None
    works: int | None
    data: dict


def parse_papers_limit(value: str | int | None) -> int | None:
    """``--papers N|all`` -> N or None (no limit)."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "all"):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"--papers expects a number or 'all', not {value!r}") from None
    if number < 0:
        raise UsageError("--papers must be 0 or more (or 'all')")
    return number


def choose(candidates: list[Candidate], query: str, pick: int | None, label: str) -> Candidate:
    """One candidate for a name search: ``pick`` (1-based) if given, else the only candidate or
    the only one whose name is exactly the query; otherwise a UsageError listing them."""
    if not candidates:
        raise NotFound(f"{label} has no researcher matching {query!r}; check the spelling or "
                       "pass an id or profile URL")
    if pick is not None:
        if not 1 <= pick <= len(candidates):
            raise UsageError(f"--pick {pick} is out of range: {label} found {len(candidates)} "
                             f"candidates for {query!r}")
        return candidates[pick - 1]
    if len(candidates) == 1:
        return candidates[0]
    wanted = " ".join(query.lower().split())
    exact = [c for c in candidates if " ".join(c.name.lower().split()) == wanted]
    if len(exact) == 1:
        return exact[0]
    listing = "; ".join(
        f"[{n}] {c.name} ({c.institution or 'no institution'}, "
        f"{c.works if c.works is not None else '?'} works, {c.source_id})"
        for n, c in enumerate(candidates, 1))
    raise UsageError(f"{query!r} matches {len(candidates)} {label} researchers: {listing}. "
                     "Pass --pick N or one of the ids")


class Pacer:
    """A minimum interval between one source's requests, above the client's per-host delay
    (Semantic Scholar allows 1 request/s, arXiv asks for 3 s between calls)."""

    def __init__(self, interval: float, sleep: Callable[[float], None]):
        self.interval = interval
        self.sleep = sleep
        self.last: float | None = None

    def wait(self) -> None:
        if self.last is not None:
            wait = self.interval - (time.monotonic() - self.last)
            if wait > 0:
                self.sleep(wait)
        self.last = time.monotonic()


_PACERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def pacer(http, name: str, minimum: float, interval: float | None) -> Pacer:
    """The pacer of source ``name`` for this client: ``interval`` if given (an explicit
    ``--delay``), else the larger of the source's minimum and the client's delay."""
    wanted = interval if interval is not None else max(minimum, http.settings.delay)
    pacers = _PACERS.setdefault(http, {})
    current = pacers.get(name)
    if current is None or current.interval != wanted:
        current = pacers[name] = Pacer(wanted, http.sleep)
    return current


