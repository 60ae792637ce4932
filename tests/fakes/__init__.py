"""Loopback fakes of the sites archiver reads.

A source's fake, ``tests/fakes/<source name>.py``, may expose ``stage(httpserver) -> Stage``: a small
thread served on the fake. ``tests/test_source_contract.py`` finds it by that name, so a new source
needs no edit there.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Stage:
    """A small thread on a source's loopback fake: its URL, the fake's root, and (for sources
    that import saved files) the same thread as a saved file."""

    url: str
    endpoint: str
    saved: str | None = None
    saved_url: str | None = None  # the URL it was saved from, for files that do not name it
