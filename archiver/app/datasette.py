"""Datasette metadata for the archive, and ``archiver serve``.

``build_metadata`` turns the table declarations (``archiver.store.schema.DECLARED``: each
table's description, column descriptions, label, sort, facets and FTS) and the ``QUERIES`` below
into Datasette metadata: title, description, source and licence notes, a description for every
table and column (tables found in the database but not declared still get one, so new modules'
tables are never blank), label columns, default sort and facets, full-text search wiring, canned
queries, and the datasette-render-markdown settings (``*_markdown`` columns and summaries' ``markdown``).

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

from archiver.kernel.errors import ArchiverError, UsageError
from archiver.sources import registry
from archiver.store.schema import DECLARED
from archiver.store.tables import COMMON_DOCS, Table, View

TITLE = "archiver: forum threads, research blogs, researchers and papers"


def description(sources: bool = True) -> str:
    """The database's description; the sites come from the source registry. The shipped
    db/metadata.yml (``sources=False``) names none: which sources are installed (built-ins and
    plugins) is only known where archiver runs, and a new source must not make it stale."""
    if sources:
        forums = ", ".join(s.title for s in registry.forum_sources())
        scholarly = ", ".join(s.title for s in registry.researcher_sources())
        what = (f"Discussion threads ({forums}), research blogs, researcher profiles and papers "
                f"({scholarly})")
    else:
        what = "Discussion threads, research blogs, researcher profiles and papers"
    return (
        f"{what} in one SQLite database, with who-quoted-whom exchanges, topics and "
        "per-topic summaries. Start with the canned queries below, search posts and comments, or "
        "open exchanges_view to read debates as quote and reply."
    )



SOURCE = "The sites' public APIs and pages, fetched by archiver"
LICENSE = ("Archived content belongs to its authors and remains under each source site's terms; "
           "check them before republishing. The archiver tool itself is MIT-licensed.")

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
    with every module's tables: the shipped db/metadata.yml) described, and the canned queries
    whose tables exist."""
    fresh = db is None
    if db is None:
        from archiver.store import open_db

        db = open_db(":memory:")
    present = _present(db)
    shown = _declared()
    names = [t for t in shown if t in present] + sorted(t for t in present if t not in shown)
    tables = {table: _table(shown, table, present[table]) for table in names}
    queries = {
        key: {"title": title, "description": text, "sql": sql}
        for key, (title, text, needs, sql) in QUERIES.items()
        if all(t in present for t in needs)
    }
    text = description(sources=not fresh)
    return {
        "title": TITLE,
        "description": text,
        "source": SOURCE,
        "license": LICENSE,
        "databases": {name: {"description": text, "tables": tables, "queries": queries}},
        "plugins": {"datasette-render-markdown": MARKDOWN_PLUGIN},
    }


def _declared() -> dict[str, Table | View]:
    """Every declared table, each followed by the views it owns."""
    out: dict[str, Table | View] = {}
    for table in DECLARED:
        out[table.name] = table
        out.update((view.name, view) for view in table.views)
    return out


def _present(db: sqlite_utils.Database) -> dict[str, list[str]]:
    """Tables and views in the database (not FTS internals), with their columns."""
    out = {}
    for name in db.table_names() + db.view_names():
        if "_fts" in name or name.startswith("sqlite_"):
            continue
        out[name] = [c.name for c in db[name].columns]
    return out


def _table(shown: dict[str, Table | View], name: str, columns: list[str]) -> dict:
    spec = shown.get(name)
    inherited = shown.get(spec.inherits) if isinstance(spec, View) and spec.inherits else None
    described = {**(inherited.docs if inherited else {}), **(spec.docs if spec else {})}
    out: dict = {
        "description": (spec.description if spec else "")
        or f"{name.replace('_', ' ').capitalize()} (added by a module this metadata predates).",
        "columns": {c: described.get(c) or COMMON_DOCS.get(c)
                    or c.replace("_", " ").capitalize() + "." for c in columns},
    }
    if spec and spec.label:
        out["label_column"] = spec.label
    if spec and spec.sort:
        column, descending = spec.sort
        out["sort_desc" if descending else "sort"] = column
    if spec and spec.facets:
        out["facets"] = list(spec.facets)
    if isinstance(spec, Table) and spec.fts:
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
              "# from archiver/app/datasette.py: edit that module, not this file.\n")
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
