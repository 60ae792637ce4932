"""The ``--since`` / ``--until`` period as SQL, one definition for topics, summaries and reports
(the dates themselves are parsed by ``archiver.kernel.parse``)."""

from __future__ import annotations

import re


def until_bound(until: str) -> str:
    """A bare date means the whole day: --until 2024-05-01 includes that day's items."""
    return until + "T99" if re.fullmatch(r"\d{4}-\d{2}-\d{2}", until) else until


def period_sql(column: str, since: str | None, until: str | None) -> tuple[str, list]:
    """``" AND column >= ? AND column < ?"`` (the parts that apply) and its parameters."""
    where, params = [], []
    if since:
        where.append(f"{column} >= ?")
        params.append(since)
    if until:
        where.append(f"{column} < ?")
        params.append(until_bound(until))
    return "".join(f" AND {w}" for w in where), params
