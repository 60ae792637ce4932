"""The stance of each exchange's reply (agrees / disputes / asks / refines), as digests tell it.

The same classifier the digests use (archiver.analysis.stance), so the reading room never counts
an agreement as pushback. Classifying costs ~0.1 ms a reply, so results are kept in memory per
exchange id and reply text: a page shown again, or a thread whose exchanges reappear on a person
page, is not classified twice. The cache is bounded, dropping the oldest half when full.
"""

from __future__ import annotations

from archiver.analysis import stance

STANCES = stance.STANCES
CACHE_SIZE = 50_000
_cache: dict[tuple, str] = {}


def of(exchange: dict) -> str:
    """The stance of one exchange row (``id``, ``reply``, ``quote``)."""
    key = (exchange.get("id"), hash(exchange.get("reply")))
    found = _cache.get(key)
    if found is None:
        found = stance.classify(exchange.get("reply"), exchange.get("quote"))
        if len(_cache) >= CACHE_SIZE:
            for old in list(_cache)[: CACHE_SIZE // 2]:
                del _cache[old]
        _cache[key] = found
    return found


def tag(exchanges: list[dict]) -> list[dict]:
    """The rows, each with its ``stance`` set (in place, returned for chaining)."""
    for ex in exchanges:
        ex["stance"] = of(ex)
    return exchanges


def known(value) -> str | None:
    """A stance read from stored JSON, if it is one of ours (it becomes a CSS class)."""
    return value if value in STANCES else None


def disputes(exchanges: list[dict]) -> list[dict]:
    return [ex for ex in tag(exchanges) if stance.is_pushback(ex["stance"])]
