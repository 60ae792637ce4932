"""Sources: one module per site family, each declaring one ``SOURCE`` object.

The contract (what a source declares) is ``archiver.sources.contract``; the one registry that
finds sources (built-in and third-party, through the ``archiver.sources`` entry-point group) is
``archiver.sources.registry``. Adding a source: one module ending in ``SOURCE = ForumSource(...)``
and one entry-point line in pyproject.toml (see README, "Adding a source").
"""

from __future__ import annotations

from archiver.sources.contract import ThreadRef, UserRef
from archiver.sources.registry import resolve_thread, resolve_user

__all__ = ["ThreadRef", "UserRef", "resolve_thread", "resolve_user"]
