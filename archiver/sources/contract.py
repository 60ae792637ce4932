"""The source contract: what a source declares, once, as its module-level ``SOURCE`` object.

A forum source module ends with ``SOURCE = ForumSource(...)``; a researcher source with
``SOURCE = ResearcherSource(...)``. The registry (``archiver.sources.registry``) finds them through
the ``archiver.sources`` entry-point group, built-ins and third-party packages alike. Everything
else (CLI choices, config validation, sync, saved-file import, Datasette text) reads these
objects; nobody probes a module with ``getattr``.

Capabilities are data: a source can archive users if it declares ``fetch_user``, re-check a
thread cheaply if it declares ``fetch_thread_since``, list a tag's posts if it declares
``fetch_tag_posts``, import saved files if it declares ``parse_saved``. ``require`` turns a missing
capability into one clear error.

Layering: this module and the registry are the sources' public face. They import only the kernel
(``archiver.kernel.errors``, ``archiver.kernel.records``); the store, analysis and the CLI never appear here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from archiver.kernel.errors import UsageError
from archiver.kernel.records import Page, Post, Site


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


# -- the callables a forum source provides (typed, so a checker sees a wrong signature) ----------


class ParseThreadUrl(Protocol):
    """Recognise a thread URL (or a bare ``site:id``): a ref, or None for a foreign URL. A URL of
    the source's own host that is not a thread may raise UsageError saying what was expected."""

    def __call__(self, url: str) -> ThreadRef | None: ...


class ParseUserUrl(Protocol):
    def __call__(self, url: str, site: str | None = None) -> UserRef | None: ...


class FetchThread(Protocol):
    """The post and every comment, page by page; the last page sets ``complete_post_ids`` and
    ``seen_comment_ids`` so vanished comments can be flagged."""

    def __call__(self, http: Any, ref: ThreadRef, endpoint: str | None = None) -> Iterator[Page]: ...


class FetchThreadSince(Protocol):
    """The post and the comments since ``since`` (not a complete fetch: nothing flagged)."""

    def __call__(self, http: Any, ref: ThreadRef, since: str,
                 endpoint: str | None = None) -> Iterator[Page]: ...


class FetchUser(Protocol):
    def __call__(self, http: Any, ref: UserRef, posts: int | None = None,
                 comments: int | None = None, since: str | None = None,
                 endpoint: str | None = None) -> Iterator[Page]: ...


class FetchTagPosts(Protocol):
    """Posts with a tag since ``after``, as stub Posts (id, title, URL, score). ``tag_ids`` is a
    cache (slug -> the site's tag id) the caller keeps between runs: read, and filled when empty."""

    def __call__(self, http: Any, site: str, tag_slug: str, after: str,
                 min_score: int | None = None, endpoint: str | None = None,
                 tag_ids: dict[str, str] | None = None) -> Iterator[Post]: ...


@dataclass(frozen=True)
class ThreadSignature:
    """What a light change check sees of a thread: when any field differs from the last check,
    something in the thread changed (a reply, a deletion, an edit of the post)."""

    comments: int | None = None  # comment count as the site reports it
    last_activity: str | None = None  # last comment / bump, as the site reports it
    modified: str | None = None  # the post's own modification stamp or edited flag

    def as_json(self) -> dict:
        return {"comments": self.comments, "last_activity": self.last_activity,
                "modified": self.modified}


class CheckThreads(Protocol):
    """The cheapest request(s) telling whether threads changed: a signature per ref's thread_id,
    batched where the API allows; a thread the site no longer has is left out."""

    def __call__(self, http: Any, refs: list[ThreadRef],
                 endpoint: str | None = None) -> dict[str, ThreadSignature]: ...


class SiteRecord(Protocol):
    """The ``sites`` row for a ref of this source (Discourse needs the ref's host)."""

    def __call__(self, ref: ThreadRef | UserRef) -> Site: ...


class SniffSaved(Protocol):
    """Whether a saved file (its text, and the URL it was saved from if known) is this source's."""

    def __call__(self, text: str, url: str | None = None) -> bool: ...


class ParseSaved(Protocol):
    """A saved file (HTML page or API JSON) as pages; None if it is not this source's."""

    def __call__(self, text: str, url: str | None = None) -> list[Page] | None: ...


@dataclass(frozen=True)
class SiteSpec:
    """A site a source serves with a fixed id (Discourse serves any host, so it lists none).
    ``aliases`` are other names users may give for it (``--site alignmentforum``)."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.id, *self.aliases)


# Priorities: higher is tried first when a URL is resolved. A catch-all (a parser that accepts
# URLs on any host, like Discourse's /t/<slug>/<id>) declares CATCH_ALL so it is asked last.
DEFAULT_PRIORITY = 100
CATCH_ALL = 0

CAPABILITIES = ("users", "since", "tags", "saved", "check")


@dataclass(frozen=True)
class ForumSource:
    name: str  # short name: "hackernews", also the import --kind for saved files
    title: str  # human name for help texts and Datasette: "Hacker News"
    parse_thread_url: ParseThreadUrl
    fetch_thread: FetchThread
    site_record: SiteRecord
    sites: tuple[SiteSpec, ...] = ()
    priority: int = DEFAULT_PRIORITY
    # Sample thread URLs this source must recognise: the contract test and error messages use them.
    thread_examples: tuple[str, ...] = ()
    user_examples: tuple[str, ...] = ()
    parse_user_url: ParseUserUrl | None = None
    fetch_user: FetchUser | None = None
    fetch_thread_since: FetchThreadSince | None = None
    fetch_tag_posts: FetchTagPosts | None = None
    # A light change check: `archiver sync` asks it for every watched thread on every sync and
    # fetches a thread only when its signature changed (or its full re-check is due).
    check_threads: CheckThreads | None = None
    sniff_saved: SniffSaved | None = None
    parse_saved: ParseSaved | None = None
    # The name of the source that reads this one's threads when its API refuses (403/429/challenge)
    # or when the user asks for it with --via.
    fallback: str | None = None
    # For a source that serves as another's fallback: its public root for a site id, used when the
    # user chose no endpoint and to name the host a skipped fallback would have reached.
    public_root: Callable[[str], str | None] | None = None
    # A source that switches to a second API of its own when the first fails (Hacker News: Algolia,
    # then Firebase) names it here; its fetch_thread/fetch_user then take ``fallback=`` (the root
    # the user chose for it, or None: the public one, allowed only when no endpoint is set).
    own_fallback: str | None = None
    description: str = ""

    @property
    def users(self) -> bool:
        return self.fetch_user is not None and self.parse_user_url is not None

    @property
    def since(self) -> bool:
        return self.fetch_thread_since is not None

    @property
    def tags(self) -> bool:
        return self.fetch_tag_posts is not None

    @property
    def saved(self) -> bool:
        return self.parse_saved is not None and self.sniff_saved is not None

    @property
    def check(self) -> bool:
        return self.check_threads is not None

    def can(self, capability: str) -> bool:
        able = {"users": self.users, "since": self.since, "tags": self.tags, "saved": self.saved,
                "check": self.check}
        if capability not in able:
            raise ValueError(f"unknown capability {capability!r}; one of {CAPABILITIES}")
        return able[capability]

    def require(self, capability: str, what: str) -> None:
        """Raise one clear UsageError if this source lacks ``capability``."""
        if not self.can(capability):
            raise UsageError(f"{what}: {self.title} does not support {_VERBS[capability]}")

    def site_names(self) -> tuple[str, ...]:
        return tuple(name for spec in self.sites for name in spec.names)

    def describe(self) -> str:
        """One line for help texts, the README and Datasette."""
        able = [c for c in CAPABILITIES if self.can(c)]
        text = f"{self.title} ({self.name})"
        if able:
            text += ": threads, " + ", ".join(_NOUNS[c] for c in able)
        return text + (f". {self.description}" if self.description else "")


_VERBS = {"users": "archiving users", "since": "fetching only new comments",
          "tags": "watching tags", "saved": "importing saved files",
          "check": "light change checks"}
_NOUNS = {"users": "users", "since": "new-comment re-checks", "tags": "tags",
          "saved": "saved files", "check": "change checks"}


class ResolveResearcher(Protocol):
    def __call__(self, http: Any, query: str, pick: int | None = None,
                 endpoint: str | None = None, interval: float | None = None) -> Any: ...


class FetchResearcher(Protocol):
    """Pages carrying ``other["researcher_papers"] = [ResearcherPapers]``; the first page has the
    metrics snapshot."""

    def __call__(self, http: Any, ref: Any, papers: int | None = None,
                 endpoint: str | None = None, forum_user_id: str | None = None,
                 progress: Callable[[int], None] | None = None,
                 interval: float | None = None) -> Iterator[Page]: ...


@dataclass(frozen=True)
class ResearcherSource:
    name: str  # "openalex": the --source value and the researchers' id prefix
    title: str
    resolve_researcher: ResolveResearcher
    fetch_researcher: FetchResearcher
    priority: int = DEFAULT_PRIORITY
    description: str = ""

    def describe(self) -> str:
        return f"{self.title} ({self.name})" + (f". {self.description}" if self.description else "")
