"""The one registry of sources, filled from the ``archiver.sources`` entry-point group.

Built-in sources are declared in archiver's own ``pyproject.toml`` exactly as a third-party package
declares its own::

    [project.entry-points."archiver.sources"]
    hackernews = "archiver.sources.hackernews:SOURCE"

Each entry point names a ``ForumSource`` or ``ResearcherSource`` object. The registry sorts forum
sources by declared priority (catch-alls such as Discourse declare a low one), so the order of the
entry points does not matter. A broken third-party plugin is skipped with a warning; a broken
built-in is a bug and raises.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from importlib.metadata import entry_points
from urllib.parse import urlsplit

from archiver.kernel.errors import ArchiverError, UsageError
from archiver.sources.contract import ForumSource, ResearcherSource, ThreadRef, UserRef

GROUP = "archiver.sources"
log = logging.getLogger("archiver.sources")


@dataclass(frozen=True)
class Registry:
    forums: tuple[ForumSource, ...]  # highest priority first
    researchers: tuple[ResearcherSource, ...]


def load(points=None) -> Registry:
    """Load every source of the entry-point group (``points`` replaces the group in tests)."""
    points = entry_points(group=GROUP) if points is None else points
    forums: dict[str, ForumSource] = {}
    researchers: dict[str, ResearcherSource] = {}
    for point in points:
        source = _load_one(point)
        if isinstance(source, ForumSource):
            forums.setdefault(source.name, source)
        elif isinstance(source, ResearcherSource):
            researchers.setdefault(source.name, source)
    if not forums:
        raise ArchiverError("archiver's sources are not registered: reinstall with "
                            "pip install -e . (in archiver's folder)")
    return Registry(
        tuple(sorted(forums.values(), key=lambda s: (-s.priority, s.name))),
        tuple(sorted(researchers.values(), key=lambda s: (-s.priority, s.name))))


def _load_one(point):
    builtin = point.value.startswith("archiver.")
    try:
        source = point.load()
    except Exception as exc:
        if builtin:
            raise
        log.warning("source plugin %s (%s) failed to load and is skipped: %s: %s",
                    point.name, point.value, type(exc).__name__, exc)
        return None
    if not isinstance(source, (ForumSource, ResearcherSource)):
        message = (f"source plugin {point.name} ({point.value}) is not a ForumSource or "
                   f"ResearcherSource but {type(source).__name__}")
        if builtin:
            raise TypeError(message)
        log.warning("%s; it is skipped", message)
        return None
    return source


@functools.cache
def registry() -> Registry:
    return load()


def forum_sources() -> tuple[ForumSource, ...]:
    return registry().forums


def researcher_sources() -> tuple[ResearcherSource, ...]:
    return registry().researchers


def by_name(name: str) -> ForumSource:
    return _named(forum_sources(), name, "source")


def researcher_source(name: str) -> ResearcherSource:
    return _named(researcher_sources(), name, "researcher source")


def _named(sources, name: str, what: str):
    for source in sources:
        if source.name == name:
            return source
    raise UsageError(f"unknown {what} {name!r}; use one of: "
                     f"{', '.join(s.name for s in sources)}")


def by_site(site: str) -> ForumSource:
    """The source serving a site id or alias (``lesswrong``, ``alignmentforum``, ``hackernews``)."""
    for source in forum_sources():
        if site in source.site_names():
            return source
    raise UsageError(f"unknown site {site!r}; use one of: {', '.join(site_names())}")


def site_id(name: str) -> str:
    """The site id a site name or alias stands for (``alignmentforum`` -> ``lesswrong``)."""
    for spec in by_site(name).sites:
        if name in spec.names:
            return spec.id
    return name


def site_names(capability: str | None = None) -> list[str]:
    """Every site id and alias, of the sources with ``capability`` if given (for --site)."""
    return [name for source in forum_sources()
            if capability is None or source.can(capability) for name in source.site_names()]


def fallback_names() -> list[str]:
    """Sources some other source falls back to (the values of ``--via`` besides ``api``)."""
    return list(dict.fromkeys(s.fallback for s in forum_sources() if s.fallback))


def per_host_sources() -> list[str]:
    """Sources whose site ids are ``<name>:<host>`` (any host runs them, e.g. Discourse)."""
    return [s.name for s in forum_sources() if not s.sites]


def researcher_names() -> list[str]:
    return [s.name for s in researcher_sources()]


def saved_sources() -> tuple[ForumSource, ...]:
    return tuple(s for s in forum_sources() if s.saved)


def _well_formed(url: str) -> str:
    """Sources may assume ``urlsplit`` accepts what they are given (it rejects e.g. a broken
    IPv6 host like ``https://[::1``)."""
    url = url.strip()
    try:
        urlsplit(url)
    except ValueError as exc:
        raise UsageError(f"not a valid URL: {url!r} ({exc})") from None
    return url


def resolve_thread(url: str) -> tuple[ForumSource, ThreadRef]:
    """The source and ref for a thread URL, or one clear UsageError."""
    url = _well_formed(url)
    for source in forum_sources():
        ref = source.parse_thread_url(url)
        if ref is not None:
            return source, ref
    examples = [e for s in forum_sources() for e in s.thread_examples[:1]]
    raise UsageError(f"not a thread URL archiver knows: {url!r}. Expected e.g. "
                     + ", ".join(examples))


def resolve_user(url: str, site: str | None = None) -> tuple[ForumSource, UserRef]:
    """The source and ref for a profile URL, or a bare slug with ``site`` (without a site, the
    first source that accepts bare slugs takes it)."""
    url = _well_formed(url)
    if site:
        source = by_site(site)
        parse = source.parse_user_url if source.users else None
        ref = parse(url, site) if parse else None
        if ref is not None:
            return source, ref
    for source in forum_sources():
        parse = source.parse_user_url if source.users else None
        ref = parse(url, None) if parse else None
        if ref is not None:
            return source, ref
    examples = [e for s in forum_sources() for e in s.user_examples[:1]]
    raise UsageError(f"not a user URL or slug archiver knows: {url!r}. Expected e.g. "
                     + ", ".join(examples)
                     + f", or a slug with --site ({'|'.join(site_names('users'))})")
