"""The ``archiver import --kind`` values, in the order the help lists them.

Kept apart from ``saved.py`` so that showing a command's help loads only the registry, not the
parsers (bs4, markdownify, feedparser) that reading a saved file needs.
"""

from __future__ import annotations

from archiver.sources import registry

# Kinds archiver reads itself; every forum source with the ``saved`` capability adds its own name
# (``hackernews``, ``forummagnum``, ...) through the registry.
OWN_KINDS = ["jsonl", "researcher-profile", "review-post", "forum-profile"]
API_KINDS = ("openalex", "semanticscholar", "arxiv")
LAST_KINDS = ["feed", "blog"]


def kinds() -> list[str]:
    """Every ``--kind`` value."""
    return [*OWN_KINDS, *(s.name for s in registry.saved_sources()), *API_KINDS, *LAST_KINDS]
