"""``archiver exchanges``: who quoted whom, and ``archiver exchanges extract``."""

from __future__ import annotations

import click

from archiver.analysis.choices import EXCHANGE_KINDS
from archiver.cli.common import echo, echo_json, global_options, info, state
from archiver.kernel.display import md_escape, md_link, one_line

DEFAULT_LIMIT = 50  # table and markdown output; json lists everything unless --limit is given


@click.group(invoke_without_command=True)
@click.option("--post", metavar="ID|URL", help="Only this post's thread (an archived post's id or URL).")
@click.option("--author", metavar="SLUG", help="Only quotes of this author (slug, name, user id or profile URL).")
@click.option("--replier", metavar="SLUG", help="Only quotes made by this person.")
@click.option("--between", nargs=2, metavar="A B", help="Only A quoting B or B quoting A.")
@click.option("--since", metavar="DATE", help="Only quotes written since DATE (YYYY-MM-DD).")
@click.option("--kind", type=click.Choice(EXCHANGE_KINDS), help="Only this kind of source.")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json"]),
              default="table", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--hot", is_flag=True, help="With --post: the post's sentences by how often quoted.")
@click.option("--limit", type=click.IntRange(0), metavar="N",
              help=f"At most N results (default {DEFAULT_LIMIT} for table/markdown, all for json; "
                   "0 = all).")
@global_options
@click.pass_context
def exchanges(ctx, post, author, replier, between, since, kind, fmt, as_json, hot, limit):
    """Quoted exchanges: "A quoted B: «…» → A's reply", with links.

    \b
    archiver exchanges --post https://www.lesswrong.com/posts/<id>/<slug>
    archiver exchanges --author paulfchristiano --kind parent
    archiver exchanges --between rohinmshah evhub --format markdown
    archiver exchanges --post lesswrong:<id> --hot
    archiver exchanges extract [--all]
    """
    if ctx.invoked_subcommand is not None:
        return
    from archiver.app import resolve
    from archiver.kernel.parse import parse_since

    X = _analysis()
    db = state().db(read=True)
    fmt = "json" if as_json else fmt
    if limit is None:
        limit = None if fmt == "json" else DEFAULT_LIMIT
    post_id = resolve.post_id(db, post) if post else None
    author, replier = (resolve.person(db, p) if p else None for p in (author, replier))
    between = tuple(resolve.person(db, p) for p in between) if between else None
    if hot:
        if not post_id:
            raise click.UsageError("--hot needs --post ID|URL")
        _print_hot(X.hot_passages(db, post_id, limit or None), fmt)
        return
    rows = X.list_exchanges(db, post=post_id, author=author, replier=replier, between=between,
                            since=parse_since(since), kind=kind,
                            limit=(limit + 1) if limit else None)
    more = bool(limit) and len(rows) > limit
    rows = rows[:limit] if limit else rows
    for row in rows:
        if fmt == "json":
            echo_json(_json(row))
        elif fmt == "markdown":
            echo(_markdown(row))
        else:
            echo(_table(row))
    if not rows:
        info("no exchanges match; run `archiver exchanges extract` if items were imported "
             "without analysis")
    elif more:
        info(f"(first {limit} shown; use --limit 0 for all)")


@exchanges.command()
@click.option("--all", "everything", is_flag=True,
              help="Re-extract every item, not only new or changed ones.")
@global_options
def extract(everything):
    """Find quotes in new or changed items and resolve their sources."""
    stats = _analysis().extract(state().db(read=True), all=everything)
    kinds = ", ".join(f"{k} {n}" for k, n in stats.as_dict()["kinds"].items()) or "none"
    info(f"scanned {stats.scanned} items, {stats.quoting} quoting; "
         f"{stats.exchanges} exchanges ({kinds})")


def _analysis():
    """The analysis (numpy, rapidfuzz) is imported when a command runs, not for --help."""
    from archiver.analysis import exchanges

    return exchanges


def _json(row: dict) -> dict:
    out = {"comment_id": row["item_id"] if row["item_table"] == "comments" else None}
    out.update({k: row[k] for k in (
        "item_id", "item_table", "item_url", "quoter", "quoter_slug", "posted_at", "post_id",
        "post_title", "source_id", "source_table", "source_url", "source_author", "source_slug",
        "kind", "score", "quote", "reply", "source_start", "source_end", "position",
        "attribution")})
    out["turns"] = row["turns"]
    return out


def _short(value: str | None, width: int = 300) -> str:
    value = " ".join((value or "").split())
    return value if len(value) <= width else value[:width - 1].rstrip() + "…"


def _source_name(row: dict) -> str:
    return row["source_author"] or {"external": "an outside source"}.get(row["kind"], "someone")


def _quote_text(row: dict) -> str:
    if row["turns"]:
        return " / ".join(f"{one_line(t['speaker'])}: {_short(t['text'], 120)}"
                          for t in row["turns"])
    return _short(row["quote"])


def _table(row: dict) -> str:
    score = "" if row["score"] is None else f", {row['score']:g}"
    lines = [f"{one_line(row['quoter'] or '[anonymous]')} quoted {one_line(_source_name(row))} "
             f"({row['kind']}{score}): «{_quote_text(row)}»"]
    if row["reply"]:
        lines.append(f"  → {_short(row['reply'])}")
    links = [one_line(row["item_url"] or row["item_id"])]
    if row["source_url"] or row["source_id"]:
        links.append(f"quoting {one_line(row['source_url'] or row['source_id'])}")
    lines.append("  " + " ".join(links))
    return "\n".join(lines) + "\n"


def _md_lines(text: str, prefix: str = "") -> str:
    """Multi-line upstream text as Markdown, line by line, so it cannot become markup."""
    lines = (text or "").strip().split("\n")
    return "\n".join((prefix + md_escape(line)) if line.strip() else prefix.rstrip()
                     for line in lines)


def _markdown(row: dict) -> str:
    who = md_link(row["quoter"] or "[anonymous]", row["item_url"])
    source = md_link(_source_name(row), row["source_url"])
    out = [f"**{who}** quoted **{source}** ({md_escape(row['kind'])}):", "",
           _md_lines(row["quote"], "> "), ""]
    if row["reply"]:
        out += [f"→ {_md_lines(row['reply'])}", ""]
    return "\n".join(out) + "\n---\n"


def _print_hot(passages: list[dict], fmt: str) -> None:
    for passage in passages:
        if fmt == "json":
            echo_json(passage)
            continue
        if fmt == "markdown":
            people = ", ".join(md_escape(p) for p in passage["quoted_by"])
            echo(f"- {passage['quotes']}× «{md_escape(_short(passage['sentence']))}» ({people})")
        else:
            people = ", ".join(one_line(p) for p in passage["quoted_by"])
            echo(f"{passage['quotes']}× «{_short(passage['sentence'])}» ({people})")
    if not passages:
        info("no sentence of this post has been quoted (yet)")


def register(group: click.Group) -> None:
    group.add_command(exchanges)
