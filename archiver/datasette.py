"""Datasette metadata for the archive, and ``archiver serve``.

``build_metadata`` turns the declarative ``TABLES`` and ``QUERIES`` below into Datasette metadata:
title, description, source and licence notes, a description for every table and column (tables
found in the database but not declared here still get one, so new modules' tables are never
blank), label columns, default sort and facets, full-text search wiring, canned queries, and the
datasette-render-markdown settings (``*_markdown`` columns and summaries' ``markdown``).

``archiver datasette-metadata`` writes it (``db/metadata.yml`` ships, generated from this module);
``archiver serve`` generates it for the database being served and starts Datasette with it.
"""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import socket
from pathlib import Path

import sqlite_utils

from archiver.errors import ArchiverError, UsageError
from archiver.sources import registry

TITLE = "archiver: forum threads, research blogs, researchers and papers"


def description() -> str:
    """The database's description; the sites come from the source registry."""
    forums = ", ".join(s.title for s in registry.forum_sources())
    scholarly = ", ".join(s.title for s in registry.researcher_sources())
    return (
        f"Discussion threads ({forums}), research blogs, researcher profiles and papers "
        f"({scholarly}) in one SQLite database, with who-quoted-whom exchanges, topics and "
        "per-topic summaries. Start with the canned queries below, search posts and comments, or "
        "open exchanges_view to read debates as quote and reply."
    )



SOURCE = "The sites' public APIs and pages, fetched by archiver"
LICENSE = ("Archived content belongs to its authors and remains under each source site's terms; "
           "check them before republishing. The archiver tool itself is MIT-licensed.")

# Columns that mean the same thing wherever they appear.
COMMON = {
    "id": "Primary key. Archived items use site-qualified text ids: \"site:source id\".",
    "site_id": "The site this row comes from (sites.id).",
    "source_id": "The item's own id on its site.",
    "url": "Canonical URL on the site.",
    "title": "Title.",
    "user_id": "Author (users.id), when the site identifies users.",
    "author": "Author's display name as shown on the site (kept even without a users row).",
    "posted_at": "When it was posted (ISO 8601, UTC).",
    "edited_at": "When it was last edited upstream (ISO 8601, UTC), if known.",
    "score": "Karma / points / score on the site when last fetched.",
    "vote_count": "Number of votes, where the site reports it.",
    "af": "1 if it is Alignment Forum content (LessWrong and the AF share one document store).",
    "body_html": "The body as sanitised HTML (no scripts, styles or event handlers).",
    "body_markdown": "The body as Markdown (rendered by datasette-render-markdown); NULL when it "
                     "is the same as body_text (shown from there; in SQL "
                     "COALESCE(body_markdown, body_text)).",
    "body_text": "The body as plain text (quotes kept as \"> \" lines); full-text indexed.",
    "content_hash": "Hash of what the site sent; an unchanged hash means the row is not rewritten.",
    "first_seen": "When archiver first stored this row (ISO 8601, UTC).",
    "last_seen": "When archiver last saw it upstream (ISO 8601, UTC).",
    "deleted": "1 if deleted upstream; the archived text is kept.",
    "missing": "1 if it vanished from a complete fetch of its thread; the archived text is kept.",
    "extra": "Site-specific fields as JSON.",
    "stub": "1 if only known by reference (title/URL or id), not archived in full yet.",
    "post_id": "The thread's post (posts.id).",
    "paper_id": "The paper (papers.id).",
    "researcher_id": "The researcher (researchers.id, e.g. \"openalex:A…\").",
    "topic_id": "The topic (topics.id).",
    "item_table": "Which table item_id points into: posts or comments (or papers).",
    "item_id": "The post, comment or paper (an id in item_table).",
    "position": "Order within its parent, from 0.",
    "created_at": "When the row was created (ISO 8601, UTC).",
    "updated_at": "When the row was last updated (ISO 8601, UTC).",
    "name": "Name.",
    "kind": "Kind of row (see the table description).",
}

# table -> description, columns, label column, sort (column, descending), facets, FTS columns.
TABLES: dict[str, dict] = {
    "sites": {
        "description": "Every site archived from: forums, blogs, paper sources.",
        "label": "name",
        "columns": {"name": "The site's name.", "url": "The site's home page.",
                    "kind": "Site family: the source that made the row (see the database "
                            "description), blog, feed or saved.",
                    "api_url": "The API root used by default."},
    },
    "users": {
        "description": "Forum users: full profiles (stub = 0) and authors seen in threads (stub = 1).",
        "label": "name",
        "sort": ("karma", True),
        "facets": ["site_id", "stub"],
        "columns": {
            "slug": "The user's URL slug on the site.", "name": "Display name.",
            "bio_html": "Profile bio as sanitised HTML.", "bio_markdown": "Profile bio as Markdown.",
            "bio_text": "Profile bio as plain text.", "karma": "Karma when last fetched.",
            "af_karma": "Alignment Forum karma when last fetched.",
            "post_count": "Posts, as the site counts them.",
            "comment_count": "Comments, as the site counts them.",
            "created_at": "When the account was created (ISO 8601, UTC).",
            "stub": "1 if only seen as an author; the profile has not been fetched.",
            "profile_fetched_at": "When the full profile was last fetched.",
        },
    },
    "posts": {
        "description": "Posts (thread starters), blog articles and feed entries. Stubs are posts "
                       "known only by title/URL, e.g. from a user's comment list.",
        "label": "title",
        "sort": ("posted_at", True),
        "facets": ["site_id", "kind", "af"],
        "fts": ["title", "body_text"],
        "columns": {
            "comment_count": "Comments, as the site counts them.",
            "question": "1 for question posts (their answers are comments with answer = 1).",
            "kind": "post, question, blog, link, paper-review or feed-entry.",
            "tags": "Tag names as a JSON list (the links are in post_tags).",
        },
    },
    "comments": {
        "description": "Every comment, answer and reply. Sort by path to read a thread in order; "
                       "depth is the nesting level.",
        "label": "title",
        "sort": ("posted_at", True),
        "facets": ["site_id", "post_id", "user_id"],
        "fts": ["body_text"],
        "columns": {
            "parent_id": "The comment this replies to (comments.id); empty for top-level comments.",
            "title": "\"Author: first words\", a readable label for links.",
            "answer": "1 if it is an answer to a question post.",
            "depth": "Nesting level: 0 for top-level comments.",
            "path": "Sortable thread path (timestamps and ids of the ancestors): ORDER BY path "
                    "reads the thread top to bottom.",
        },
    },
    "tags": {
        "description": "Forum tags and blog categories.",
        "label": "name",
        "facets": ["site_id"],
        "columns": {"name": "Tag name.", "slug": "Tag slug on the site."},
    },
    "post_tags": {
        "description": "Which post carries which tag.",
        "columns": {"tag_id": "The tag (tags.id)."},
    },
    "item_versions": {
        "description": "Earlier versions of edited or deleted posts and comments: who wrote it, "
                       "when it changed, what changed. Nothing archived is ever lost.",
        "sort": ("replaced_at", True),
        "facets": ["item_table"],
        "columns": {
            "version": "1 for the first archived version, then 2, 3, …",
            "archived_at": "When this version was first archived.",
            "replaced_at": "When a newer version replaced it.",
            "changed": "Which fields changed, as a JSON list.",
            "deleted": "1 if this version was already flagged deleted.",
            "edited_at": "The upstream edit time of this version.",
            "title": "The title in this version.",
        },
    },
    "runs": {
        "description": "One row per fetching command (and one parent row per sync): when, what, "
                       "outcome, counts, requests made and the error, if any.",
        "sort": ("id", True),
        "facets": ["command", "status"],
        "columns": {
            "started_at": "Start (ISO 8601, UTC).", "ended_at": "End (ISO 8601, UTC).",
            "command": "thread, user, feed, researcher, sync, sync thread, sync user, …",
            "target": "What was fetched (a URL, a slug, the watch list).",
            "status": "running, ok, partial, failed or interrupted.",
            "new": "Rows added.", "updated": "Rows changed upstream and rewritten.",
            "unchanged": "Rows fetched but unchanged (not rewritten).",
            "requests": "HTTP requests made.", "error": "What went wrong, if anything.",
            "pid": "Process id of the command that wrote the row.",
            "host": "Machine it ran on.",
            "process": "Identity of that process (boot id and start time): a run whose process "
                       "is gone is marked interrupted.",
        },
    },
    "meta": {
        "description": "Archive settings, e.g. the schema version.",
        "columns": {"key": "Setting name.", "value": "Setting value."},
    },
    "sync_state": {
        "description": "Where `archiver sync` left off, per item: thread_fetched (last complete "
                       "fetch), thread_synced, user_synced, tag_synced, researcher_synced, "
                       "feed_synced (cursors), watch_thread (threads a watched tag brought in), "
                       "topic_defined.",
        "sort": ("updated_at", True),
        "facets": ["kind"],
        "columns": {"kind": "What the state is about.", "key": "Which item (an id, slug or URL).",
                    "value": "The cursor or state (usually an ISO 8601 UTC time)."},
    },
    # -- quoted exchanges (archiver.analysis.exchanges) ------------------------------------------
    "exchanges": {
        "description": "One row per quote found in a post or comment: who quoted what, from whom, "
                       "and what they answered. Read them with names and links in exchanges_view.",
        "sort": ("posted_at", True),
        "facets": ["kind", "item_table"],
        "fts": ["quote", "reply"],
        "columns": {
            "quoter_user_id": "Who quoted (users.id).", "quoter_author": "Who quoted (name).",
            "quote": "The quoted text, as written.",
            "reply": "The text answering the quote (up to the next quote).",
            "attribution": "An attribution line, if the quote had one (\"X wrote:\").",
            "source_id": "The quoted item (a post or comment id), if found.",
            "source_table": "posts or comments.",
            "source_user_id": "Author of the quoted item (users.id).",
            "source_author": "Author of the quoted item (name).",
            "source_start": "Start of the quoted passage in the source's body_text.",
            "source_end": "End of the quoted passage in the source's body_text.",
            "kind": "Where the source was found: parent, ancestor, post, thread, archive, "
                    "external or unresolved.",
            "score": "Match score of the source (100 = exact).",
            "position": "Order of the quote within the quoting item.",
            "extracted_at": "When the exchange was extracted.",
            "posted_at": "When the quoting item was posted.",
        },
    },
    "exchange_turns": {
        "description": "Speaker turns of quoted transcripts and dialogue posts (\"Name: text\").",
        "columns": {"exchange_id": "The exchange (exchanges.id).", "speaker": "Speaker's name.",
                    "speaker_user_id": "Speaker as a forum user, when known.",
                    "text": "What the speaker said."},
    },
    "exchange_scans": {
        "description": "Bookkeeping: which items were scanned for quotes, so re-runs skip them.",
        "columns": {"quotes": "Quotes found.", "scanned_at": "When scanned."},
    },
    "exchanges_view": {
        "description": "Exchanges with names, titles and URLs: \"quoter quoted source_author: "
                       "«quote» → reply\".",
        "inherits": "exchanges",
        "sort": ("posted_at", True),
        "facets": ["kind", "quoter", "source_author"],
        "columns": {
            "quoter": "Who quoted.", "quoter_slug": "Their slug.",
            "source_author": "Who was quoted.", "source_slug": "Their slug.",
            "item_url": "Link to the quoting comment or post.",
            "post_title": "Thread title.", "post_url": "Thread link.",
            "source_url": "Link to the quoted item.", "source_title": "The quoted item's thread.",
        },
    },
    # -- researchers and papers (archiver.store.papers) ------------------------------------------
    "researchers": {
        "description": "Researcher profiles from OpenAlex, Semantic Scholar, arXiv and imports.",
        "label": "name",
        "facets": ["source"],
        "columns": {
            "source": "openalex, semanticscholar, arxiv or import.", "name": "Name.",
            "orcid": "ORCID iD.", "affiliations": "Affiliations as a JSON list.",
            "topics": "Research topics as a JSON list.",
            "forum_user_id": "The same person as a forum user (users.id), when linked.",
        },
    },
    "researcher_metrics": {
        "description": "Dated metric snapshots: re-fetching a profile adds a row, so metrics "
                       "become a time series.",
        "sort": ("captured_at", True),
        "facets": ["researcher_id"],
        "columns": {"captured_at": "When the snapshot was taken.", "h_index": "h-index.",
                    "i10_index": "i10-index.", "works_count": "Number of works.",
                    "citation_count": "Total citations.",
                    "extra": "Source-specific metrics as JSON (e.g. novelty, AI score)."},
    },
    "papers": {
        "description": "One row per paper across sources (merged by arXiv id, DOI or normalised "
                       "title). Stubs are papers known only from a mention.",
        "label": "title",
        "sort": ("published", True),
        "facets": ["primary_category", "year", "stub", "source"],
        "fts": ["title", "abstract"],
        "columns": {
            "abstract": "Abstract.", "published": "Publication date (ISO 8601).",
            "year": "Publication year.", "venue": "Journal or conference.",
            "doi": "DOI, lower-case, without https://doi.org/.",
            "arxiv_id": "arXiv id without version, e.g. 2404.16014.",
            "categories": "arXiv categories as a JSON list.",
            "primary_category": "arXiv primary category, e.g. cs.LG.",
            "topics": "Topics as a JSON list.", "citation_count": "Citations, per its source.",
            "has_code": "1 if code is available.", "source": "The source that first described it.",
            "source_ids": "Ids in each source, as JSON.",
        },
    },
    "paper_keys": {
        "description": "Bookkeeping: the keys (arXiv id, DOI, title) that identify each paper.",
        "columns": {"key": "A normalised arXiv id, DOI or title key."},
    },
    "paper_authors": {
        "description": "A paper's authors in order.",
        "columns": {"name": "Author's name as the source lists it.",
                    "affiliation": "Affiliation, if given.",
                    "researcher_id": "The author's id in the source (not always a researchers row)."},
    },
    "researcher_papers": {
        "description": "Which papers are on which researcher's profile.",
        "columns": {},
    },
    "mentions": {
        "description": "Where posts, comments and blog articles cite papers: arXiv ids and links, "
                       "DOIs, OpenReview links and titles of archived papers.",
        "facets": ["how", "item_table"],
        "columns": {
            "how": "How it was matched: arxiv_id, arxiv_link, doi, openreview or title.",
            "field": "Which field of the item held it (body, title, …).",
            "span_start": "Start of the match in that field.",
            "span_end": "End of the match in that field.",
            "matched_text": "The text that matched.", "detected_at": "When it was detected.",
        },
    },
    "mention_details": {
        "description": "Mentions with the paper's title, the thread, the author and links.",
        "inherits": "mentions",
        "sort": ("posted_at", True),
        "facets": ["how", "author"],
        "columns": {"paper_title": "The paper.", "post_title": "The thread.",
                    "author": "Who mentioned it."},
    },
    "paper_reviews": {
        "description": "Papers reviewed inside a post (e.g. a newsletter), in order, with the "
                       "comment row holding the reviewer's opinion.",
        "columns": {"comment_id": "The reviewer's opinion (comments.id)."},
    },
    # -- topics and summaries (archiver.analysis.topics / summarize) ------------------------------
    "topics": {
        "description": "Topics: site tags, arXiv categories, blog sections, your own (kind = user, "
                       "from the config or `archiver topics add`) and discovered ones.",
        "label": "name",
        "facets": ["kind"],
        "columns": {
            "kind": "tag, arxiv, blog-section, user or discovered.", "name": "Topic name.",
            "label": "Human-readable label.", "keywords": "Top distinctive terms as JSON.",
            "match": "A user topic's phrases / regular expressions as JSON.",
            "weights": "A discovered topic's term weights as JSON.",
            "description": "What the topic is about.",
        },
    },
    "topic_items": {
        "description": "Which item belongs to which topic, with a membership score.",
        "sort": ("score", True),
        "facets": ["topic_id", "item_table"],
        "columns": {"score": "Membership score (higher = more central).",
                    "assigned_at": "When it was assigned."},
    },
    "primary_topics": {
        "description": "Each item's primary topic: its highest-scoring membership (on a tie a "
                       "user topic, then a tag or blog section, an arXiv category, a discovered "
                       "theme).",
        "facets": ["kind", "name", "item_table"],
        "columns": {"score": "The membership score of the primary topic.",
                    "kind": "The topic's kind.", "name": "The topic's label or name."},
    },
    "summaries": {
        "description": "Topic and thread reports: an extractive summary with a source after each "
                       "sentence, debates, threads by importance, papers, contributors. A row is "
                       "stored by `summarize --out/--save`; the same topic and period replaces "
                       "its row.",
        "label": "title",
        "sort": ("created_at", True),
        "facets": ["topic_name", "method"],
        "columns": {
            "topic_name": "The topic's name.", "post_id": "The thread, for a thread summary.",
            "period_start": "Start of the period summarised (empty = from the beginning).",
            "period_end": "End of the period summarised (empty = up to the report).",
            "method": "How it was made (e.g. lexrank-mmr, +llm:MODEL).",
            "sentences": "Number of summary sentences.",
            "markdown": "The report as Markdown (rendered).", "html": "The report as HTML.",
            "json": "The report as JSON, every sentence with its source.",
        },
    },
    # -- blogs and feeds (archiver.store.sections / feeds) ----------------------------------------
    "post_sections": {
        "description": "Post and article bodies cut at their headings, in order.",
        "facets": ["heading"],
        "columns": {"heading": "The section's heading (empty before the first heading).",
                    "level": "Heading level 1-6 (0 before the first heading).",
                    "body_text": "The section's text."},
    },
    "user_sequences": {
        "description": "Sequences (collections of posts) listed on a forum profile, in order.",
        "columns": {"title": "Sequence title.", "url": "Sequence URL."},
    },
    "feed_state": {
        "description": "Feeds followed: ETag / Last-Modified for conditional requests, last fetch.",
        "label": "title",
        "columns": {"etag": "The ETag the server sent.",
                    "last_modified": "The Last-Modified the server sent.",
                    "fetched_at": "When the feed was last fetched.",
                    "status": "Outcome of the last fetch.",
                    "entry_count": "Entries in the feed at the last fetch.",
                    "title": "The feed's title."},
    },
    "feed_entries": {
        "description": "Every feed entry ever seen, the post it was archived as, and a "
                       "fingerprint so unchanged entries are skipped.",
        "columns": {"feed_url": "The feed (feed_state.url).",
                    "entry_key": "The entry's id, else its link.",
                    "updated": "The entry's updated date.",
                    "fingerprint": "Hash of the entry's date, title, summary and content."},
    },
}

# Canned queries: name -> (title, description, tables it needs, SQL). Empty parameters mean "any".
QUERIES: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "recent_exchanges_on_topic": (
        "Recent exchanges on a topic",
        "Who quoted whom, newest first, in a topic's items and threads (a topic name or id; see "
        "the topics table). Optionally only since a date (YYYY-MM-DD).",
        ("exchanges_view", "topics", "topic_items"),
        """select ev.posted_at, ev.quoter, ev.source_author as quoted, ev.quote, ev.reply,
  ev.kind, ev.post_title, ev.item_url
from exchanges_view ev
where exists (
    select 1 from topic_items ti join topics t on t.id = ti.topic_id
    where (t.name = :topic collate nocase or t.label = :topic collate nocase
           or cast(t.id as text) = :topic)
      and ((ti.item_table = ev.item_table and ti.item_id = ev.item_id)
           or (ti.item_table = 'posts' and ti.item_id = ev.post_id)))
  and (:since = '' or ev.posted_at >= :since)
order by ev.posted_at desc
limit 200""",
    ),
    "most_quoted_passages": (
        "The most-quoted passages of a post",
        "The passages of a post that drew the most quoting replies, grouped by where the quote "
        "starts (a post id like lesswrong:abc, its URL, or its site id). `archiver exchanges "
        "--post ID --hot` groups by sentence.",
        ("exchanges", "posts"),
        """select substr(p.body_text, e.source_start + 1, max(e.source_end) - e.source_start)
    as passage,
  count(distinct e.item_id) as replies,
  group_concat(distinct coalesce(u.name, e.quoter_author)) as repliers,
  min(e.posted_at) as first_reply, max(e.posted_at) as last_reply
from exchanges e
join posts p on p.id = e.source_id and e.source_table = 'posts'
left join users u on u.id = e.quoter_user_id
where (p.id = :post or p.url = :post or p.source_id = :post)
  and e.source_start is not null
group by e.source_start
order by replies desc, e.source_start
limit 50""",
    ),
    "researcher_papers_discussed": (
        "A researcher's papers discussed on the forums",
        "Which of a researcher's papers were mentioned in posts and comments, where and by whom "
        "(a researchers.id or part of a name).",
        ("researchers", "researcher_papers", "papers", "mention_details"),
        # group_concat(distinct x) takes no separator: distinct values in a subquery, joined
        # with ", " so names read as a list.
        """select p.title as paper, p.year, p.url as paper_url,
  count(distinct md.item_table || md.item_id) as mentions,
  (select group_concat(author, ', ') from (select distinct m2.author from mention_details m2
     where m2.paper_id = p.id and m2.author is not null order by m2.author)) as discussed_by,
  (select group_concat(post_title, ', ') from (select distinct m3.post_title
     from mention_details m3 where m3.paper_id = p.id and m3.post_title is not null
     order by m3.post_title)) as threads,
  min(md.posted_at) as first_mentioned, max(md.posted_at) as last_mentioned
from researchers r
join researcher_papers rp on rp.researcher_id = r.id
join papers p on p.id = rp.paper_id
join mention_details md on md.paper_id = p.id
where r.id = :researcher or r.name like '%' || :researcher || '%'
group by p.id
order by mentions desc, last_mentioned desc""",
    ),
    "threads_with_new_comments": (
        "Threads with new comments since a date",
        "Threads by the number of comments posted since a date (YYYY-MM-DD).",
        ("posts", "comments"),
        """select p.title, p.url, p.author, p.site_id, count(c.id) as new_comments,
  max(c.posted_at) as latest_comment
from comments c
join posts p on p.id = c.post_id
where c.posted_at >= :since
group by p.id
order by new_comments desc, latest_comment desc
limit 200""",
    ),
    "latest_summary_per_topic": (
        "The latest summary per topic",
        "The newest report of every summarised topic.",
        ("summaries",),
        """select s.topic_id, s.topic_name, s.created_at, s.period_start, s.period_end, s.method,
  s.markdown
from summaries s
where s.topic_id is not null
  and s.id = (select s2.id from summaries s2 where s2.topic_id = s.topic_id
              order by s2.created_at desc, s2.id desc limit 1)
order by s.topic_name""",
    ),
}

MARKDOWN_PLUGIN = {
    "patterns": ["*_markdown", "markdown"],
    "extensions": ["tables", "fenced_code"],
    "extra_tags": ["table", "thead", "tbody", "tr", "th", "td", "hr", "del", "sup", "sub"],
}


def database_name(db_path: str) -> str:
    """Datasette names a database after its file: db/archive.db -> "archive"."""
    return Path(db_path).stem


def build_metadata(db: sqlite_utils.Database | None = None, name: str = "archive") -> dict:
    """Metadata for database ``name``: every table and view of ``db`` (default: a fresh archive
    with every module's tables) described, and the canned queries whose tables exist."""
    if db is None:
        from archiver.store import open_db

        db = open_db(":memory:")
    present = _present(db)
    names = [t for t in TABLES if t in present] + sorted(t for t in present if t not in TABLES)
    tables = {table: _table(table, present[table]) for table in names}
    queries = {
        key: {"title": title, "description": text, "sql": sql}
        for key, (title, text, needs, sql) in QUERIES.items()
        if all(t in present for t in needs)
    }
    text = description()
    return {
        "title": TITLE,
        "description": text,
        "source": SOURCE,
        "license": LICENSE,
        "databases": {name: {"description": text, "tables": tables, "queries": queries}},
        "plugins": {"datasette-render-markdown": MARKDOWN_PLUGIN},
    }


def _present(db: sqlite_utils.Database) -> dict[str, list[str]]:
    """Tables and views in the database (not FTS internals), with their columns."""
    out = {}
    for name in db.table_names() + db.view_names():
        if "_fts" in name or name.startswith("sqlite_"):
            continue
        out[name] = [c.name for c in db[name].columns]
    return out


def _table(name: str, columns: list[str]) -> dict:
    spec = TABLES.get(name, {})
    described = {**TABLES.get(spec.get("inherits", ""), {}).get("columns", {}),
                 **spec.get("columns", {})}
    out: dict = {
        "description": spec.get("description")
        or f"{name.replace('_', ' ').capitalize()} (added by a module this metadata predates).",
        "columns": {c: described.get(c) or COMMON.get(c) or c.replace("_", " ").capitalize() + "."
                    for c in columns},
    }
    if spec.get("label"):
        out["label_column"] = spec["label"]
    if spec.get("sort"):
        column, descending = spec["sort"]
        out["sort_desc" if descending else "sort"] = column
    if spec.get("facets"):
        out["facets"] = spec["facets"]
    if spec.get("fts"):
        out["fts_table"] = f"{name}_fts"
        out["fts_pk"] = "rowid"
    return out


def write_metadata(data: dict, path: str) -> str:
    """YAML for .yml/.yaml paths (SQL as readable blocks), JSON otherwise."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if path.endswith((".yml", ".yaml")):
        text = to_yaml(data)
    else:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    Path(path).write_text(text, encoding="utf-8")
    return path


def to_yaml(data: dict) -> str:
    try:
        import yaml
    except ImportError:  # JSON is valid YAML: still a working metadata file
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper, value):
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    header = ("# Datasette metadata for the archive, generated by `archiver datasette-metadata`\n"
              "# from archiver/datasette.py: edit that module, not this file.\n")
    return header + yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100)


# -- serve ---------------------------------------------------------------------------------------

DATASETTE_MISSING = ("Datasette is not installed; install it with: pip install 'archiver[datasette]' "
                     "(or pip install datasette datasette-render-markdown)")


def check_installed() -> list[str]:
    """Raise if Datasette is missing; return warnings for optional plugins that are missing."""
    if importlib.util.find_spec("datasette") is None:
        raise UsageError(DATASETTE_MISSING)
    if importlib.util.find_spec("datasette_render_markdown") is None:
        return ["datasette-render-markdown is not installed: Markdown columns will show as plain "
                "text (pip install datasette-render-markdown)"]
    return []


SETTINGS = {"sql_time_limit_ms": 5000, "facet_time_limit_ms": 500}


def take_port(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (port 0: any free one), or one clear error. Taking the port
    before saying "serving" is what makes a busy port an error instead of a false start."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as error:
        raise UsageError(f"--host {host}: not an address to listen on ({error.strerror})") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is ok
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise _port_error(error, host, port) from None
    return sock


def start_listening(sock: socket.socket, host: str, port: int) -> None:
    """Listen once the app is ready: until then a client is refused rather than left waiting."""
    try:
        sock.listen(2048)
    except OSError as error:
        raise _port_error(error, host, port) from None


def _port_error(error: OSError, host: str, port: int) -> ArchiverError:
    if error.errno == errno.EADDRINUSE:
        return ArchiverError(f"port {port} on {host} is already in use (another archiver serve "
                             "or Datasette?): stop it, or pick another with --port")
    return ArchiverError(f"cannot listen on {host}:{port}: {error.strerror}")


def serve(db_path: str, host: str = "127.0.0.1", port: int = 8001, on_start=None,
          quiet: bool = False) -> int:
    """Serve the archive with Datasette, with fresh metadata, until Ctrl-C or SIGTERM.

    Datasette runs in this process (under uvicorn, as ``datasette serve`` itself does), not as a
    child: whatever stops archiver (Ctrl-C, SIGTERM from systemd, SIGKILL) stops the server with
    it, and no orphan is left holding the port."""
    from archiver.store import open_db

    if not os.path.exists(db_path):
        raise UsageError(f"{db_path}: no archive there yet; archive something first "
                         "(or try `archiver demo`, then `archiver serve --db db/demo.db`)")
    check_installed()
    db = open_db(db_path)  # brings an older archive's schema up to date before Datasette reads it
    metadata = build_metadata(db, database_name(db_path))
    db.close()
    sock = take_port(host, port)
    try:
        app = datasette_app(db_path, metadata)
        start_listening(sock, host, port)
        if on_start:
            shown = f"[{host}]" if ":" in host else host
            # The reading room (archiver.web, registered through its entry point) is the home page.
            on_start(f"http://{shown}:{sock.getsockname()[1]}/-/archiver")
        run_server(app, sock, quiet)
    except KeyboardInterrupt:  # uvicorn shut down cleanly, then re-raised Ctrl-C
        pass
    finally:
        sock.close()
    return 0


def datasette_app(db_path: str, metadata: dict):
    """The ASGI app of ``datasette serve DB --metadata ... --setting ...``, plugins started."""
    import asyncio

    from datasette.app import Datasette

    datasette = Datasette([db_path], metadata=metadata, settings=SETTINGS)
    asyncio.run(datasette.invoke_startup())
    return datasette.app()


def run_server(app, sock: socket.socket, quiet: bool) -> None:
    """uvicorn on an already listening socket; it handles SIGINT and SIGTERM itself (graceful
    shutdown, then the signal is re-raised so the exit status still says what stopped it)."""
    import uvicorn

    config = uvicorn.Config(app, lifespan="on", log_level="warning" if quiet else "info")
    uvicorn.Server(config).run(sockets=[sock])
