"""Paging a list the API sorts by date, where offsets are capped (ForumMagnum refuses offsets over
2,000, Algolia serves at most 1,000 hits a query): the next page starts at a date cursor, so
pages overlap at the boundary and items already seen are dropped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar, cast

Cursor = TypeVar("Cursor")


def paged(fetch: Callable[[Cursor | None, int | None], tuple[list[dict], Cursor | None]],
          key: Callable[[dict], str | None], limit: int | None = None) -> Iterator[list[dict]]:
    """Batches of new items until ``limit`` items, a page with nothing new, or no next cursor.

    ``fetch(cursor, remaining)`` returns ``(items, next_cursor)``: the first call gets cursor
    None; ``next_cursor`` is None when the page was the last one. ``remaining`` is None when
    there is no limit.
    """
    seen: set[str] = set()
    remaining = limit
    cursor: Cursor | None = None
    while remaining is None or remaining > 0:
        items, next_cursor = fetch(cursor, remaining)
        fresh = [item for item in items if key(item) and key(item) not in seen]
        if not fresh:
            return
        seen.update(cast(str, key(item)) for item in fresh)  # ``fresh`` kept only keyed items
        if remaining is not None:
            fresh = fresh[:remaining]
            remaining -= len(fresh)
        yield fresh
        if next_cursor is None:
            return
        cursor = next_cursor
