"""`archiver import` of saved files and `archiver export` to JSON Lines: detection, the round
trip export -> import into an empty archive, and clear one-line errors."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from archiver.app.jsonl import exportable_tables
from archiver.app.transfer import export_archive, import_paths
from archiver.cli import cli
from archiver.store import open_db
from tests.conftest import shared_file

POST_ID = "Ab12Cd34Ef56Gh78"
GRAPHQL_POST = {"data": {"post": {"result": {
    "_id": POST_ID, "slug": "on-sparse-features", "title": "On sparse features",
    "pageUrl": f"https://www.lesswrong.com/posts/{POST_ID}/on-sparse-features",
    "postedAt": "2024-05-01T10:00:00.000Z", "baseScore": 42, "voteCount": 20,
    "commentCount": 2, "af": False, "question": False,
    "user": {"_id": "userAAAAAAAAAAAA1", "slug": "alice", "username": "alice",
             "displayName": "Alice"},
    "tags": [{"_id": "tagBBBBBBBBBBBBB1", "name": "Interpretability (ML & AI)",
              "slug": "interpretability-ml-and-ai"}],
    "contents": {"html": "<p>We replicate <a href='https://arxiv.org/abs/2309.08600'>the "
                         "sparse dictionary paper</a> and extend it.</p>"},
}}}}
GRAPHQL_COMMENTS = {"data": {"comments": {"results": [
    {"_id": "cmtCCCCCCCCCCCC01", "postId": POST_ID, "parentCommentId": None,
     "postedAt": "2024-05-01T11:00:00.000Z", "baseScore": 5, "voteCount": 3, "af": False,
     "deleted": False, "answer": False,
     "user": {"_id": "userDDDDDDDDDDDD1", "slug": "bob", "username": "bob",
              "displayName": "Bob"},
     "contents": {"html": "<p>How does this compare to arXiv:2309.08600?</p>"}},
    {"_id": "cmtCCCCCCCCCCCC02", "postId": POST_ID, "parentCommentId": "cmtCCCCCCCCCCCC01",
     "postedAt": "2024-05-01T12:00:00.000Z", "baseScore": 7, "voteCount": 4, "af": False,
     "deleted": False, "answer": False,
     "user": {"_id": "userAAAAAAAAAAAA1", "slug": "alice", "username": "alice",
              "displayName": "Alice"},
     "contents": {"html": "<blockquote><p>How does this compare</p></blockquote><p>It is a "
                          "replication with larger dictionaries.</p>"}},
]}}}

ARTICLE = ("A research blog post saved as text.\n\n"
           "It has several paragraphs of prose, so that it reads as an article and not as a "
           "note or a menu.\n\nMethods\n\nWe trained sparse autoencoders on the residual "
           "stream of a small transformer and looked at the features.\n\nResults\n\n"
           "Most features were interpretable, and some were split across layers.")

HN_PAGE = """<html lang="en" op="item"><head><title>Show HN: Sparse autoencoders in the browser |
Hacker News</title></head><body><center><table id="hnmain"><tr><td>
<table class="fatitem" border="0">
<tr class="athing submission" id="40000001">
 <td align="right" valign="top" class="title"><span class="rank"></span></td>
 <td valign="top" class="votelinks"><center><a id="up_40000001" href="vote?id=40000001&amp;how=up">
 <div class="votearrow" title="upvote"></div></a></center></td>
 <td class="title"><span class="titleline"><a href="https://example.org/sae">Show HN: Sparse
 autoencoders in the browser</a><span class="sitebit comhead"> (<a href="from?site=example.org">
 <span class="sitestr">example.org</span></a>)</span></span></td></tr>
<tr><td colspan="2"></td><td class="subtext"><span class="subline">
 <span class="score" id="score_40000001">123 points</span> by
 <a href="user?id=alice" class="hnuser">alice</a>
 <span class="age" title="2024-05-01T12:00:00 1714564800"><a href="item?id=40000001">3 hours
 ago</a></span> | <a href="item?id=40000001">2&nbsp;comments</a></span></td></tr>
</table>
<table class="comment-tree" border="0">
<tr class="athing comtr" id="40000002"><td><table border="0"><tr>
 <td class="ind" indent="0"><img src="s.gif" height="1" width="0"></td>
 <td class="default"><div><span class="comhead"><a href="user?id=bob" class="hnuser">bob</a>
 <span class="age" title="2024-05-01T13:00:00 1714568400"><a href="item?id=40000002">2 hours
 ago</a></span></span></div><br><div class="comment"><div class="commtext c00">Does it run
 <i>GPT-2</i> small?<p>Asking for the dictionary sizes.</p></div>
 <div class="reply"><p><font size="1"><u><a href="reply?id=40000002">reply</a></u></font></p>
 </div></div></td></tr></table></td></tr>
<tr class="athing comtr" id="40000003"><td><table border="0"><tr>
 <td class="ind" indent="1"><img src="s.gif" height="1" width="40"></td>
 <td class="default"><div><span class="comhead"><a href="user?id=alice" class="hnuser">alice</a>
 <span class="age" title="2024-05-01T14:00:00 1714572000"><a href="item?id=40000003">1 hour
 ago</a></span></span></div><br><div class="comment"><div class="commtext c00">
 <p>&gt; Does it run GPT-2 small?</p><p>Yes, in about a second per prompt.</p></div>
 <div class="reply"><p><font size="1"><u><a href="reply?id=40000003">reply</a></u></font></p>
 </div></div></td></tr></table></td></tr>
</table></td></tr></table></center></body></html>"""

RSS_FILE = """<?xml version="1.0"?><rss version="2.0"><channel><title>Saved Feed</title>
<link>https://notes.example.net/</link><description>x</description>
<item><title>A note</title><link>https://notes.example.net/a-note</link>
<guid>https://notes.example.net/a-note</guid><pubDate>Mon, 01 Jan 2024 00:00:00 GMT</pubDate>
<description>Just a teaser…</description></item></channel></rss>"""

OPENALEX_AUTHOR = {
    "id": "https://openalex.org/A5023888391", "orcid": "https://orcid.org/0000-0001-2345-6789",
    "display_name": "Jane Example", "display_name_alternatives": ["J. Example"],
    "works_count": 42, "cited_by_count": 1234,
    "summary_stats": {"2yr_mean_citedness": 3.5, "h_index": 17, "i10_index": 25},
    "ids": {"openalex": "https://openalex.org/A5023888391"},
    "last_known_institutions": [{"id": "https://openalex.org/I136199984",
                                 "display_name": "Harvard University", "country_code": "US",
                                 "type": "education"}],
    "topics": [{"id": "https://openalex.org/T10028", "display_name": "Topic Modeling",
                "count": 12}],
    "counts_by_year": [{"year": 2024, "works_count": 5, "cited_by_count": 300}],
    "works_api_url": "https://api.openalex.org/works?filter=author.id:A5023888391",
    "updated_date": "2024-05-01T00:00:00", "created_date": "2023-07-21",
}


def write(tmp_path, name: str, content) -> str:
    path = tmp_path / name
    if isinstance(content, (dict, list)):
        content = json.dumps(content)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def run(*args):
    return CliRunner().invoke(cli, list(args))


def table_rows(path: str) -> dict[str, list]:
    db = open_db(path)
    conn = sqlite3.connect(path)
    return {t: sorted(map(repr, conn.execute(f"SELECT * FROM [{t}]").fetchall()))
            for t in exportable_tables(db)}


@pytest.fixture
def archive(tmp_path):
    """An archive with a forum thread, a blog post, a saved feed, an HN thread and a researcher."""
    path = str(tmp_path / "source.db")
    files = [write(tmp_path, "post.json", GRAPHQL_POST),
             write(tmp_path, "comments.json", GRAPHQL_COMMENTS),
             write(tmp_path, "article.txt", ARTICLE),
             write(tmp_path, "feed.xml", RSS_FILE),
             write(tmp_path, "hn.html", HN_PAGE),
             write(tmp_path, "author.json", OPENALEX_AUTHOR)]
    result = run("import", *files, "--captured", "2024-06-01", "--db", path)
    assert result.exit_code == 0, result.output
    return path


def test_saved_files_are_detected_and_archived(archive):
    db = open_db(archive)
    post = next(db.query("SELECT * FROM posts WHERE id = ?", [f"lesswrong:{POST_ID}"]))
    assert (post["title"], post["author"], post["score"]) == ("On sparse features", "Alice", 42)
    comments = list(db.query("SELECT * FROM comments WHERE post_id = ? ORDER BY path",
                             [post["id"]]))
    assert [c["author"] for c in comments] == ["Bob", "Alice"]
    assert comments[1]["parent_id"] == "lesswrong:cmtCCCCCCCCCCCC01" and comments[1]["depth"] == 1
    story = next(db.query("SELECT * FROM posts WHERE id = 'hackernews:40000001'"))
    assert (story["title"], story["score"], story["author"]) == (
        "Show HN: Sparse autoencoders in the browser", 123, "alice")
    assert story["posted_at"] == "2024-05-01T12:00:00Z"
    reply = next(db.query("SELECT * FROM comments WHERE id = 'hackernews:40000003'"))
    assert reply["parent_id"] == "hackernews:40000002"
    assert reply["body_text"].startswith("> Does it run GPT-2 small?")
    assert "reply" not in db.execute("SELECT body_text FROM comments WHERE id = "
                                     "'hackernews:40000002'").fetchone()[0]
    note = next(db.query("SELECT * FROM posts WHERE url = 'https://notes.example.net/a-note'"))
    assert note["site_id"] == "blog:notes.example.net" and '"summary_only": true' in note["extra"]
    sections = [r[0] for r in db.execute("SELECT heading FROM post_sections s JOIN posts p ON "
                                         "p.id = s.post_id WHERE p.site_id = 'saved'")]
    assert sections == [None, "Methods", "Results"]
    metrics = next(db.query("SELECT * FROM researcher_metrics"))
    assert (metrics["researcher_id"], metrics["h_index"], metrics["i10_index"],
            metrics["citation_count"]) == ("openalex:A5023888391", 17, 25, 1234)
    # Imports run the analysis: the arXiv id in the comment is a mention (of a stub paper).
    assert db.execute("SELECT COUNT(*) FROM mentions WHERE item_id = 'lesswrong:cmtCCCCCCCCCCCC01'"
                      ).fetchone()[0] == 1
    assert db.execute("SELECT COUNT(*) FROM runs WHERE command = 'import' AND status = 'ok'"
                      ).fetchone()[0] == 6


def test_export_all_then_import_into_empty_archive_gives_same_rows(archive, tmp_path):
    out = str(tmp_path / "all.jsonl")
    assert run("export", "--all", "-o", out, "--db", archive).exit_code == 0
    copy = str(tmp_path / "copy.db")
    result = run("import", out, "--db", copy)
    assert result.exit_code == 0, result.output
    before, after = table_rows(archive), table_rows(copy)
    assert set(before) <= set(after)
    for table, rows in before.items():
        assert after[table] == rows, table
    assert sum(len(rows) for rows in before.values()) > 30
    search = run("search", "dictionaries", "--db", copy, "--json")  # FTS rebuilt by triggers
    assert "lesswrong:cmtCCCCCCCCCCCC02" in search.output


def test_every_line_has_a_type_and_table_columns(archive, tmp_path):
    db = open_db(archive)
    lines = [json.loads(line) for line in export_lines_of(db)]
    kinds = {line["type"] for line in lines}
    assert {"site", "user", "post", "comment", "tag", "post_tag", "researcher",
            "researcher_metrics", "post_section"} <= kinds
    post = next(line for line in lines if line["type"] == "post" and line["id"].startswith("less"))
    assert set(post) - {"type"} == set(db["posts"].columns_dict)


def export_lines_of(db):
    from archiver.app.jsonl import export_lines

    return list(export_lines(db))


def test_thread_export_by_url_imports_on_its_own(archive, tmp_path):
    out = str(tmp_path / "thread.jsonl")
    url = f"https://www.lesswrong.com/posts/{POST_ID}/on-sparse-features"
    assert run("export", "--thread", url, "-o", out, "--db", archive).exit_code == 0
    types = [json.loads(line)["type"] for line in open(out, encoding="utf-8")]
    assert types.count("post") == 1 and types.count("comment") == 2
    assert "user" in types and "site" in types and "tag" in types
    copy = str(tmp_path / "copy.db")
    assert run("import", out, "--db", copy).exit_code == 0
    original, restored = sqlite3.connect(archive), sqlite3.connect(copy)
    thread = f"'lesswrong:{POST_ID}'"
    for sql in (f"SELECT * FROM posts WHERE id = {thread}",
                f"SELECT * FROM comments WHERE post_id = {thread} ORDER BY id",
                "SELECT * FROM users WHERE id IN (SELECT user_id FROM comments WHERE post_id = "
                f"{thread}) ORDER BY id"):
        assert restored.execute(sql).fetchall() == original.execute(sql).fetchall()
    assert restored.execute("SELECT COUNT(*) FROM posts").fetchone() == (1,)


def test_user_export_has_their_comments_and_the_posts_they_are_on(archive, tmp_path):
    out = str(tmp_path / "bob.jsonl")
    assert run("export", "--user", "lesswrong:userDDDDDDDDDDDD1", "-o", out, "--db", archive
               ).exit_code == 0
    lines = [json.loads(line) for line in open(out, encoding="utf-8")]
    assert [line["id"] for line in lines if line["type"] == "comment"] == \
        ["lesswrong:cmtCCCCCCCCCCCC01"]
    assert [line["id"] for line in lines if line["type"] == "post"] == [f"lesswrong:{POST_ID}"]
    # A bare slug means that name on every site: Bob on LessWrong and bob on Hacker News.
    out = str(tmp_path / "bobs.jsonl")
    assert run("export", "--user", "bob", "-o", out, "--db", archive).exit_code == 0
    comments = [json.loads(line)["id"] for line in open(out, encoding="utf-8")
                if json.loads(line)["type"] == "comment"]
    assert comments == ["hackernews:40000002", "lesswrong:cmtCCCCCCCCCCCC01"]


def test_importing_an_export_twice_adds_nothing(archive, tmp_path):
    out = str(tmp_path / "all.jsonl")
    run("export", "--all", "-o", out, "--db", archive)
    copy = str(tmp_path / "copy.db")
    run("import", out, "--db", copy)
    result = run("import", out, "--db", copy, "--json")
    report = json.loads(result.output.splitlines()[-1])
    assert report["new"] == 0 and report["updated"] == 0 and report["unchanged"] > 30
    assert table_rows(copy) == table_rows(archive) | {
        t: rows for t, rows in table_rows(copy).items() if t not in table_rows(archive)}


def test_renumbered_ids_keep_their_references(tmp_path):
    """Integer ids taken by other rows in the target get new numbers; children follow."""
    source, target = open_db(str(tmp_path / "s.db")), open_db(str(tmp_path / "t.db"))
    for db, name, turn in ((source, "q:1", "Alice: yes"), (target, "q:2", "Carol: no")):
        with db.conn:
            db.conn.execute("INSERT INTO exchanges (id, item_id, item_table, quote) "
                            "VALUES (1, ?, 'comments', 'x')", [name])
            db.conn.execute("INSERT INTO exchange_turns (id, exchange_id, position, text) "
                            "VALUES (1, 1, 0, ?)", [turn])
    with open(tmp_path / "s.jsonl", "w", encoding="utf-8") as out:
        export_archive(source, out, everything=True)
    import_paths(target, [str(tmp_path / "s.jsonl")])
    rows = target.execute("SELECT e.item_id, t.text FROM exchanges e JOIN exchange_turns t ON "
                          "t.exchange_id = e.id ORDER BY e.item_id").fetchall()
    assert rows == [("q:1", "Alice: yes"), ("q:2", "Carol: no")]


def test_hand_written_lines_are_completed_and_analysed(tmp_path):
    lines = [
        {"type": "site", "id": "notes", "name": "My notes", "url": "", "kind": "blog"},
        {"type": "post", "id": "notes:1", "site_id": "notes", "source_id": "1",
         "title": "Reading list", "kind": "blog",
         "body_html": "<p>Read <a href='https://arxiv.org/abs/2404.16014'>this</a>"
                      "<script>alert(1)</script></p>", "tags": ["reading"]},
    ]
    path = write(tmp_path, "notes.jsonl", "\n".join(json.dumps(x) for x in lines))
    db_path = str(tmp_path / "a.db")
    assert run("import", path, "--db", db_path).exit_code == 0
    db = open_db(db_path)
    post = next(db.query("SELECT * FROM posts"))
    assert post["body_text"] == "Read this" and "script" not in post["body_html"]
    assert post["tags"] == '["reading"]'
    assert db.execute("SELECT paper_id FROM mentions").fetchone() == ("arxiv:2404.16014",)


@pytest.mark.parametrize("content, message", [
    ('{"type": "post", "id": "x:1"}\n{"type": "planet", "id": 1}\n',
     ":2: unknown type 'planet'"),
    ('{"type": "post", "id": "x:1"}\n{"type": "post", \n', ":2: not valid JSON"),
    ('{"type": "post", "id": "x:1", "colour": "red"}\n{"type": "site", "id": "x"}\n',
     ":1: post has no column(s) colour"),
])
def test_bad_export_lines_are_one_line_errors(tmp_path, content, message):
    path = write(tmp_path, "bad.jsonl", content)
    result = run("import", path, "--db", str(tmp_path / "a.db"))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


@pytest.mark.parametrize("name, content, message", [
    ("blob.bin", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "a binary file"),
    ("note.txt", "just a line of text", "cannot tell what kind of saved page this is"),
    ("empty.html", "", "the file is empty"),
    ("data.json", {"weather": "sunny"}, "a JSON file archiver does not recognise"),
])
def test_unknown_kind_is_a_one_line_error(tmp_path, name, content, message):
    path = write(tmp_path, name, content)
    result = run("import", path, "--db", str(tmp_path / "a.db"))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_missing_file_is_a_one_line_error(tmp_path):
    result = run("import", str(tmp_path / "nope.txt"), "--db", str(tmp_path / "a.db"))
    assert result.exit_code == 1
    assert result.output.strip() == f"error: No such file: {tmp_path / 'nope.txt'}"


def test_export_needs_a_scope_and_known_items(archive):
    assert run("export", "--db", archive).exit_code == 2
    result = run("export", "--thread", "lesswrong:NoSuchPost123", "--db", archive)
    assert result.exit_code == 1 and "no archived thread" in result.output


def test_real_forummagnum_responses(tmp_path):
    db = open_db(str(tmp_path / "a.db"))
    reports = import_paths(db, [str(shared_file("realworld", "lw_graphql_post_agi_ruin.json")),
                                str(shared_file("realworld", "lw_graphql_top_posts_small.json"))])
    assert [r.kind for r in reports] == ["forummagnum", "forummagnum"]
    post = next(db.query("SELECT * FROM posts WHERE id = 'lesswrong:uMQ3cqWDPHhjtiesc'"))
    assert post["title"] == "AGI Ruin: A List of Lethalities" and post["score"] == 956
    assert len(post["body_text"]) > 40000
    top = db.execute("SELECT COUNT(*) FROM posts WHERE site_id = 'lesswrong' AND author IS NOT "
                     "NULL AND id != 'lesswrong:uMQ3cqWDPHhjtiesc'").fetchone()[0]
    assert top >= 10  # ids taken from each post's pageUrl


def test_real_research_api_responses(tmp_path):
    db = open_db(str(tmp_path / "a.db"))
    reports = import_paths(db, [
        str(shared_file("realworld", "semanticscholar_author_turing.json")),
        str(shared_file("realworld", "arxiv_api_search_au_del_maestro.xml"))],
        captured="2024-06-01")
    assert [r.kind for r in reports] == ["semanticscholar", "arxiv"]
    turing = next(db.query("SELECT * FROM researchers WHERE id = 'semanticscholar:2262347'"))
    assert turing["name"] == "A. Turing"
    metrics = next(db.query("SELECT * FROM researcher_metrics WHERE researcher_id = ?",
                            [turing["id"]]))
    assert (metrics["h_index"], metrics["works_count"]) == (23, 60)
    assert db.execute("SELECT COUNT(*) FROM researcher_papers WHERE researcher_id = ?",
                      [turing["id"]]).fetchone()[0] == 60
    maestro = next(db.query("SELECT * FROM researchers WHERE source = 'arxiv'"))
    assert maestro["name"] == "Adrian Del Maestro"
    paper = next(db.query("SELECT * FROM papers WHERE arxiv_id = '1201.4869'"))
    assert paper["title"] == "A Luttinger Liquid Core Inside Helium-4 Filled Nanopores"
    assert paper["primary_category"]


REVIEW = """Introduction

This week I read two papers that matter for alignment, and I list them here with my notes.

Papers

Attention Is All You Need

The dominant sequence transduction models are based on complex recurrent networks.

My opinion: A classic that everyone should read.

Deep Double Descent: Where Bigger Models and More Data Hurt

We show that a variety of modern deep learning tasks exhibit a double-descent phenomenon.

My opinion: Surprising at first. Then obvious.
"""


def test_review_post_in_paragraphs_with_its_url(tmp_path):
    path = write(tmp_path, "review.txt", REVIEW)
    db_path = str(tmp_path / "a.db")
    url = "https://www.lesswrong.com/posts/Zz9Yy8Xx7Ww6Vv5U/paper-roundup"
    result = run("import", path, "--url", url, "--name", "Paper roundup #1", "--db", db_path)
    assert result.exit_code == 0, result.output
    db = open_db(db_path)
    post = next(db.query("SELECT * FROM posts"))
    assert (post["id"], post["title"], post["kind"]) == (
        "lesswrong:Zz9Yy8Xx7Ww6Vv5U", "Paper roundup #1", "paper-review")
    assert post["body_markdown"].count("## Papers") == 1
    rows = db.execute("SELECT p.title, p.abstract, c.body_text FROM paper_reviews r JOIN papers p "
                      "ON p.id = r.paper_id JOIN comments c ON c.id = r.comment_id "
                      "ORDER BY r.position").fetchall()
    assert rows == [
        ("Attention Is All You Need",
         "The dominant sequence transduction models are based on complex recurrent networks.",
         "A classic that everyone should read."),
        ("Deep Double Descent: Where Bigger Models and More Data Hurt",
         "We show that a variety of modern deep learning tasks exhibit a double-descent "
         "phenomenon.", "Surprising at first. Then obvious."),
    ]


def test_review_post_from_a_discourse_topic(tmp_path):
    """The saved post takes the Discourse topic's site and id (site_record needs the topic's host:
    this import used to end in a TypeError traceback)."""
    path = write(tmp_path, "roundup.txt", REVIEW)
    db_path = str(tmp_path / "a.db")
    result = run("import", path, "--kind", "review-post",
                 "--url", "https://discuss.example.org/t/paper-roundup/4242", "--db", db_path)
    assert result.exit_code == 0, result.output
    db = open_db(db_path)
    post = next(db.query("SELECT * FROM posts"))
    assert (post["id"], post["site_id"], post["url"]) == (
        "discourse:discuss.example.org:4242", "discourse:discuss.example.org",
        "https://discuss.example.org/t/paper-roundup/4242")
    site = db["sites"].get("discourse:discuss.example.org")
    assert (site["kind"], site["url"]) == ("discourse", "https://discuss.example.org")
    assert db.execute("SELECT COUNT(*) FROM paper_reviews").fetchone()[0] == 2


def test_forum_page_saved_as_html_keeps_the_forums_post_id(tmp_path):
    from tests.test_blog import article_html

    html = article_html().replace(
        'href="/posts/robust-ml-2/"', f'href="https://www.lesswrong.com/posts/{POST_ID}/robust"')
    db_path = str(tmp_path / "a.db")
    assert run("import", write(tmp_path, "saved.html", html), "--db", db_path).exit_code == 0
    post = next(open_db(db_path).query("SELECT * FROM posts"))
    assert (post["id"], post["site_id"], post["title"]) == (
        f"lesswrong:{POST_ID}", "lesswrong", "Robust ML, part 2")
    assert "Yaodong Yu" in post["body_text"]


# -- the archive cannot be lost through export or import ---------------------------------------


def archive_state(path: str) -> dict:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return {t: conn.execute(f"SELECT COUNT(*) FROM [{t}]").fetchone()[0]
                for t in ("posts", "comments", "users", "papers")}
    finally:
        conn.close()


@pytest.mark.parametrize("target", ["{db}", "{db}-wal", "{db}-shm", "{folder}/other.db",
                                    "{folder}/./link.db"])
def test_export_refuses_the_archive_its_files_and_any_sqlite_file(archive, tmp_path, target):
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE notes (text)")
    other.commit()
    other.close()
    (tmp_path / "link.db").symlink_to(archive)
    before = archive_state(archive)
    output = target.format(db=archive, folder=tmp_path)
    result = run("export", "--all", "--db", archive, "-o", output)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: -o {output} is ")
    assert "give a new file name" in lines[0]
    assert archive_state(archive) == before and before["posts"] > 0
    assert (tmp_path / "other.db").read_bytes().startswith(b"SQLite format 3\x00")


def test_a_failed_export_keeps_the_previous_file_whole(archive, tmp_path, monkeypatch):
    from archiver.app import jsonl

    out = tmp_path / "all.jsonl"
    assert run("export", "--all", "--db", archive, "-o", str(out)).exit_code == 0
    good = out.read_bytes()
    real = jsonl.export_lines

    def fails_halfway(db, selection=None):
        for number, line in enumerate(real(db, selection)):
            if number == 5:
                raise OSError(28, "No space left on device")
            yield line

    monkeypatch.setattr(jsonl, "export_lines", fails_halfway)
    result = run("export", "--all", "--db", archive, "-o", str(out))
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert out.read_bytes() == good  # the previous export, not a half file
    assert sorted(p.name for p in tmp_path.iterdir() if "jsonl" in p.name) == ["all.jsonl"]


def test_export_replaces_a_file_whole_and_keeps_its_permissions(archive, tmp_path):
    out = tmp_path / "thread.jsonl"
    out.write_text("old\n" * 10000, encoding="utf-8")
    out.chmod(0o640)
    assert run("export", "--thread", f"lesswrong:{POST_ID}", "--db", archive, "-o", str(out)
               ).exit_code == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines and all(json.loads(line)["type"] for line in lines)
    assert out.stat().st_mode & 0o777 == 0o640


def import_lines(tmp_path, lines: list, db_path: str):
    path = write(tmp_path, "hand.jsonl", "\n".join(
        line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path, run("import", path, "--db", db_path)


SITE_LINE = {"type": "site", "id": "notes", "name": "My notes", "url": "", "kind": "blog"}


@pytest.mark.parametrize("bad, message", [
    ({"type": "post", "id": None, "site_id": "notes", "title": "No id"}, ":3: post needs id"),
    ({"type": "comment", "site_id": "notes", "post_id": "notes:1"}, ":3: comment needs id"),
    ({"type": "user", "id": None, "site_id": "notes"}, ":3: user needs id"),
])
def test_rows_without_an_id_are_refused_with_their_line(tmp_path, bad, message):
    db_path = str(tmp_path / "a.db")
    good = {"type": "post", "id": "notes:1", "site_id": "notes", "title": "Fine"}
    _path, result = import_lines(tmp_path, [SITE_LINE, good, bad], db_path)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "nothing was imported from this file" in lines[0]
    db = open_db(db_path)
    assert [db[t].count for t in ("sites", "posts", "comments", "users")] == [0, 0, 0, 0]


@pytest.mark.parametrize("match, message", [
    ("[\"sparse autoencoder\", ", ":3: topic match is not valid JSON"),
    (["SAE", "(unclosed"], ":3: topic match '(unclosed' is not a valid regular expression"),
    ({"phrase": "SAE"}, ":3: topic match must be a JSON list of strings"),
    ("[1, 2]", ":3: topic match must be a JSON list of strings"),
    ([" "], ":3: topic match is empty"),
])
def test_a_topic_with_a_bad_match_is_refused_and_later_imports_work(tmp_path, match, message):
    db_path = str(tmp_path / "a.db")
    post = {"type": "post", "id": "notes:1", "site_id": "notes", "title": "SAEs",
            "body_html": "<p>Sparse autoencoder features.</p>"}
    topic = {"type": "topic", "kind": "user", "name": "SAEs", "match": match}
    _path, result = import_lines(tmp_path, [SITE_LINE, post, topic], db_path)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    db = open_db(db_path)
    assert db["posts"].count == 0
    assert "topics" not in db.table_names() or db["topics"].count == 0
    db.close()
    # A valid topic imports, and the topic analysis of the next import uses it.
    topic["match"] = ["sparse autoencoder", "\\bSAEs?\\b"]
    _path, result = import_lines(tmp_path, [SITE_LINE, post, topic], db_path)
    assert result.exit_code == 0, result.output
    later = dict(post, id="notes:2", body_html="<p>Gated SAEs fix shrinkage.</p>")
    _path, result = import_lines(tmp_path, [SITE_LINE, later], db_path)
    assert result.exit_code == 0, result.output
    db = open_db(db_path)
    assert db.execute("SELECT t.name, i.item_id FROM topic_items i JOIN topics t ON "
                      "t.id = i.topic_id WHERE t.kind = 'user'").fetchall() == [("SAEs", "notes:2")]


def test_hand_written_html_is_sanitised_even_when_its_text_is_given(tmp_path):
    db_path = str(tmp_path / "a.db")
    hostile = ("<p onclick='steal()'>Hi <a href='javascript:alert(1)'>there</a></p>"
               "<script>alert(1)</script><iframe src='https://evil.example'></iframe>")
    lines = [SITE_LINE,
             {"type": "user", "id": "notes:me", "site_id": "notes", "bio_html": hostile},
             {"type": "post", "id": "notes:1", "site_id": "notes", "title": "T",
              "body_html": hostile, "body_text": "Hi there", "body_markdown": "Hi there"},
             {"type": "comment", "id": "notes:c1", "site_id": "notes", "post_id": "notes:1",
              "body_html": hostile, "body_text": "Hi there"}]
    _path, result = import_lines(tmp_path, lines, db_path)
    assert result.exit_code == 0, result.output
    db = open_db(db_path)
    stored = [r[0] for r in db.execute(
        "SELECT bio_html FROM users UNION ALL SELECT body_html FROM posts "
        "UNION ALL SELECT body_html FROM comments")]
    assert len(stored) == 3
    for html in stored:
        assert "Hi" in html and "there" in html
        for bad in ("script", "onclick", "javascript:", "iframe", "alert"):
            assert bad not in html, html


def test_an_import_failing_midway_says_which_lines_it_kept(tmp_path, monkeypatch):
    import archiver.app.ingest
    import archiver.app.transfer

    lines = [SITE_LINE] + [{"type": "post", "id": f"notes:{n}", "site_id": "notes",
                            "title": f"Post {n}"} for n in range(25)]
    real, saved = archiver.app.ingest.save_page, []

    def disk_fills_up(db, page):
        if len(saved) == 2:
            raise sqlite3.OperationalError("database or disk is full")
        saved.append(page)
        return real(db, page)

    monkeypatch.setattr(archiver.app.transfer, "ROWS_PER_PAGE", 10)
    monkeypatch.setattr(archiver.app.ingest, "save_page", disk_fills_up)
    db_path = str(tmp_path / "a.db")
    path, result = import_lines(tmp_path, lines, db_path)
    assert result.exit_code == 1
    assert f"{path}: lines 1-20 were imported and are kept" in result.output
    assert "error: the disk is full" in result.output
    assert open_db(db_path)["posts"].count == 19  # the site and 19 posts: lines 1-20
    monkeypatch.setattr(archiver.app.ingest, "save_page", real)
    _path, result = import_lines(tmp_path, lines, db_path)
    assert result.exit_code == 0 and open_db(db_path)["posts"].count == 25
