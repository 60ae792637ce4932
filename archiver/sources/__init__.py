"""Sources: one module per site family, found through this registry.

A forum source module exposes:

- ``NAME``: short name ("forummagnum", "hackernews", ...).
- ``parse_thread_url(url) -> ThreadRef | None``: recognise a thread URL (or bare ``site:id``).
- ``fetch_thread(http, ref, endpoint=None, progress=None) -> Iterator[Page]``: the post and every
  comment, page by page; the last page sets ``complete_post_ids``/``seen_comment_ids``.
- optionally ``parse_user_url(url, site=None) -> UserRef | None`` and
  ``fetch_user(http, ref, posts, comments, since, endpoint=None, progress=None) -> Iterator[Page]``.

Adding a source is one new module plus one line in ``FORUM_SOURCES``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from archiver.errors import UsageError

# Tried in order; the first module whose parser recognises the URL handles it. GreaterWrong URLs
# are ForumMagnum posts (archiver.sources.greaterwrong is the HTML fallback, chosen by --via or
# after the API refuses); Discourse comes last because it accepts /t/<slug>/<id> on any host.
FORUM_SOURCES = [
    "archiver.sources.forummagnum",
    "archiver.sources.hackernews",
    "archiver.sources.reddit",
    "archiver.sources.discourse",
]


@dataclass
class ThreadRef:
    site: str  # site id, e.g. "lesswrong"
    thread_id: str  # the id in that site
    url: str  # canonical URL
    extra: dict = field(default_factory=dict)


@dataclass
class UserRef:
    site: str
    slug: str | None = None
    user_id: str | None = None
    url: str | None = None


def _modules():
    for name in FORUM_SOURCES:
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency, not a source not written yet
                raise


def resolve_thread(url: str):
    """Return (source module, ThreadRef) for a thread URL, or raise a clear UsageError."""
    url = url.strip()
    for module in _modules():
        ref = module.parse_thread_url(url)
        if ref is not None:
            return module, ref
    raise UsageError(
        f"not a thread URL archiver knows: {url!r}. Expected e.g. "
        "https://www.lesswrong.com/posts/<id>/<slug>, lesswrong:<postId>, "
        "https://news.ycombinator.com/item?id=N, a Reddit or Discourse thread URL"
    )


def resolve_user(url: str, site: str | None = None):
    for module in _modules():
        parse = getattr(module, "parse_user_url", None)
        ref = parse(url.strip(), site) if parse else None
        if ref is not None:
            return module, ref
    raise UsageError(
        f"not a user URL or slug archiver knows: {url!r}. Expected e.g. "
        "https://www.lesswrong.com/users/<slug>, or a slug with --site lesswrong|alignmentforum|eaforum"
    )
