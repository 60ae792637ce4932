"""What the user types for dates and limits (``--since``, ``--until``, ``--captured``,
``--posts N|all``, the config's ``since`` and ``posts``), parsed in one place for the CLI, the
config, the analysis and the sources."""

from __future__ import annotations

import re
from datetime import date

from archiver.kernel.errors import UsageError
from archiver.kernel.records import iso_utc

DATE = re.compile(r"(\d{4}-\d{2}-\d{2})([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z?)?")


def parse_date(value: str | None, option: str = "--since") -> str | None:
    """A date (``YYYY-MM-DD``, kept as it is: ``--until`` takes the whole day) or an ISO
    timestamp (``T`` or a space, optional seconds, ``Z``: UTC, as ``YYYY-MM-DDTHH:MM:SSZ``);
    None for nothing; else a UsageError naming the option."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    match = DATE.fullmatch(text)
    if match:
        try:
            date.fromisoformat(match[1])
        except ValueError:
            match = None
    if not match:
        raise UsageError(f"{option} takes a date like 2024-05-01, not {value!r}")
    return text if match[2] is None else iso_utc(text.replace(" ", "T"))


def parse_since(value: str | None, option: str = "--since") -> str | None:
    """``parse_date`` as a full UTC timestamp (a bare date is its midnight), as sources and
    stored timestamps compare."""
    return iso_utc(parse_date(value, option))


def parse_count(value: str | int | None, option: str) -> int | None:
    """``N`` or ``all`` (None = no limit)."""
    if value is None or str(value).lower() == "all":
        return None
    if str(value).isdigit():
        return int(value)
    raise UsageError(f"{option} takes a number or 'all', not {value!r}")
