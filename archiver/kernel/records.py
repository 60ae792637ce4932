"""Plain records: what every source yields and what the store writes.

A source turns API responses into these dataclasses and never touches the database; the store turns
them into rows. Ids are text and site-qualified (``make_id("lesswrong", "abc")`` ->
``"lesswrong:abc"``) so two sites can never collide. Timestamps are ISO 8601 UTC strings
(see ``iso_utc``).

Bodies travel as raw HTML (``body_html``) and/or Markdown (``body_markdown``) as the site gave them;
the store sanitises and converts them (archiver.kernel.text) only when they are new or changed, which keeps
a re-run of an unchanged thread cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone


def make_id(site: str, source_id: str | int) -> str:
    return f"{site}:{source_id}"


def iso_utc(value: str | int | float | datetime | None) -> str | None:
    """Normalise a timestamp (ISO string, epoch seconds or datetime) to ``YYYY-MM-DDTHH:MM:SSZ``."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        dt = datetime.fromtimestamp(value, tz=timezone.utc)
    elif isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    else:
        text = str(value).strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return str(value)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Site:
    id: str  # "lesswrong", "eaforum", "hackernews", "reddit", "discourse:forum.example.org", ...
    name: str
    url: str
    kind: str  # "forummagnum", "hackernews", "reddit", "discourse", "blog", "openalex", ...
    api_url: str | None = None


@dataclass
class Tag:
    id: str
    site_id: str
    name: str
    slug: str | None = None


@dataclass
class User:
    id: str
    site_id: str
    source_id: str
    slug: str | None = None
    name: str | None = None  # display name
    url: str | None = None
    bio_html: str | None = None
    bio_markdown: str | None = None
    karma: int | None = None
    af_karma: int | None = None
    post_count: int | None = None
    comment_count: int | None = None
    created_at: str | None = None
    # True when only id/name/slug are known (seen as an author, profile not fetched).
    stub: bool = True


@dataclass
class Post:
    id: str
    site_id: str
    source_id: str
    url: str | None = None
    title: str | None = None
    user_id: str | None = None
    author: str | None = None  # display name as shown, also for authors without a user row
    posted_at: str | None = None
    edited_at: str | None = None
    score: int | None = None
    vote_count: int | None = None
    comment_count: int | None = None
    af: bool = False
    question: bool = False
    kind: str = "post"  # post | question | blog | link | paper-review | feed-entry
    body_html: str | None = None
    body_markdown: str | None = None
    tags: list[Tag] = field(default_factory=list)
    # A stub is a post known only by title/URL (e.g. from a user's comment list) until archived.
    stub: bool = False
    extra: dict | None = None  # site-specific fields kept as JSON


@dataclass
class Comment:
    id: str
    site_id: str
    source_id: str
    post_id: str
    parent_id: str | None = None  # parent *comment* id; None for top-level comments
    user_id: str | None = None
    author: str | None = None
    url: str | None = None
    posted_at: str | None = None
    edited_at: str | None = None
    score: int | None = None
    vote_count: int | None = None
    af: bool = False
    answer: bool = False
    deleted: bool = False
    body_html: str | None = None
    body_markdown: str | None = None
    extra: dict | None = None


@dataclass
class Page:
    """One batch of records, written by the store in a single transaction."""

    sites: list[Site] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    # Ids of every comment the source returned for a *complete* fetch of these posts; comments of
    # these posts missing from it are flagged ``missing`` (vanished upstream), never removed.
    complete_post_ids: list[str] = field(default_factory=list)
    seen_comment_ids: list[str] = field(default_factory=list)
    # Other record kinds (papers, researchers, ...) added by later sources, keyed by kind.
    other: dict[str, list] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.users) + len(self.posts) + len(self.comments) + sum(
            len(v) for v in self.other.values()
        )


@dataclass
class PaperAuthor:
    name: str
    position: int  # 0-based author order
    researcher_id: str | None = None  # e.g. "openalex:A5023888391", "semanticscholar:2262347"
    affiliation: str | None = None


@dataclass
class Paper:
    """One paper as one source describes it; the store merges sources by arXiv id, DOI or title."""

    source: str  # "openalex" | "semanticscholar" | "arxiv" | "import" | "mention" ...
    source_id: str | None = None  # the id in that source (OpenAlex W..., S2 paperId, arXiv id)
    title: str | None = None
    abstract: str | None = None
    published: str | None = None  # ISO date (YYYY-MM-DD) or timestamp
    year: int | None = None
    venue: str | None = None
    doi: str | None = None  # lower-case, without https://doi.org/
    arxiv_id: str | None = None  # without version, e.g. "2404.16014" or "hep-th/9901001"
    url: str | None = None
    categories: list[str] = field(default_factory=list)
    primary_category: str | None = None
    topics: list[str] = field(default_factory=list)
    citation_count: int | None = None
    has_code: bool | None = None
    authors: list[PaperAuthor] = field(default_factory=list)
    stub: bool = False  # known only by id (found in a mention), metadata not fetched yet
    extra: dict | None = None


@dataclass
class Researcher:
    id: str  # site-qualified: "openalex:A...", "semanticscholar:2262347", "arxiv:del_maestro_a"
    source: str
    source_id: str
    name: str
    url: str | None = None
    orcid: str | None = None
    affiliations: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    forum_user_id: str | None = None  # link to users.id when known
    extra: dict | None = None


@dataclass
class ResearcherMetrics:
    """A dated snapshot: re-fetching a profile adds a row, so metrics become a time series."""

    researcher_id: str
    captured_at: str
    h_index: int | None = None
    i10_index: int | None = None
    works_count: int | None = None
    citation_count: int | None = None
    extra: dict | None = None  # site-specific metrics (e.g. novelty, "AI score")


@dataclass
class ResearcherPapers:
    """A researcher's papers as one batch (links researcher -> papers, in the source's order)."""

    researcher: Researcher
    papers: list[Paper] = field(default_factory=list)
    metrics: ResearcherMetrics | None = None
