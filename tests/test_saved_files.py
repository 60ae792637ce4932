"""`archiver import` of saved pages and raw API JSON, each read by its own source: the right thread
tree, nothing flagged missing by a snapshot, and an unknown file is an error naming the known kinds.
Fixtures: tests/data/saved/ (see its README for where each shape comes from)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from archiver.app.forums import archive_thread
from archiver.sources import registry
from archiver.store import open_db
from tests.conftest import shared_file
from tests.fakes.hackernews import FakeHN

DATA = Path(__file__).parent / "data" / "saved"


def _import(cli_run, tmp_path, name: str, *args: str, text: str | None = None):
    path = tmp_path / name
    if text is None:
        shutil.copy(DATA / name, path)
    else:
        path.write_text(text, encoding="utf-8")
    return cli_run("import", str(path), "--captured", "2025-01-10", *args)


def _db(tmp_path):
    return open_db(str(tmp_path / "archive.db"))


def _tree(db, post_id: str) -> dict[str, str | None]:
    """comment id -> parent id (None: a reply to the post)."""
    return {r["id"]: r["parent_id"] for r in db.query(
        "SELECT id, parent_id FROM comments WHERE post_id = ?", [post_id])}


def _no_blog_posts(db) -> None:
    assert not db.execute("SELECT COUNT(*) FROM posts WHERE kind = 'blog' OR site_id = 'saved'"
                          ).fetchone()[0]


# -- LessWrong --------------------------------------------------------------------------------


def test_lesswrong1_page_is_a_post_with_its_nested_comments(cli_run, tmp_path):
    """It used to be stored as one blog post, its comments lost, exit 0."""
    result = _import(cli_run, tmp_path, "lw1_post.html")
    assert result.exit_code == 0, result.output
    assert "forummagnum" in result.output
    db = _db(tmp_path)
    post = db["posts"].get("lesswrong:lw1-1ab")
    assert (post["title"], post["author"], post["score"], post["url"]) == (
        "The Map Is Not the Territory, Again", "Dana_Orr", 31,
        "https://www.lesswrong.com/lw/1ab/the_map_is_not_the_territory_again/")
    assert _tree(db, post["id"]) == {
        "lesswrong:lw1-c01": None, "lesswrong:lw1-c02": "lesswrong:lw1-c01",
        "lesswrong:lw1-c03": "lesswrong:lw1-c02", "lesswrong:lw1-c04": None}
    deleted = db["comments"].get("lesswrong:lw1-c03")
    assert deleted["deleted"] == 1 and deleted["author"] is None
    first = db["comments"].get("lesswrong:lw1-c01")
    assert (first["author"], first["score"], first["url"]) == (
        "Eli_Pratt", 12, "https://www.lesswrong.com/lw/1ab/the_map_is_not_the_territory_again/c01")
    assert "You stop just short" in first["body_text"]
    _no_blog_posts(db)


def test_lesswrong2_saved_post_page(cli_run, tmp_path):
    result = _import(cli_run, tmp_path, "lw2_post.html")
    assert result.exit_code == 0, result.output
    db = _db(tmp_path)
    post = db["posts"].get("lesswrong:GatedSaesPost0001")
    assert (post["title"], post["author"], post["posted_at"], post["score"]) == (
        "Gated SAEs fix shrinkage", "Ada Quint", "2024-05-01T12:00:00Z", 42)
    assert "gated" in post["body_text"] and "Sparse Autoencoders" not in post["body_text"]
    assert json.loads(post["tags"]) == ["Sparse Autoencoders (SAEs)"]
    c = "lesswrong:CmtAaaaaaaaaaa0"
    assert _tree(db, post["id"]) == {c + "1": None, c + "2": c + "1", c + "3": c + "2",
                                     c + "4": None}
    reply = db["comments"].get(c + "2")
    assert (reply["author"], reply["score"], reply["posted_at"]) == (
        "Ada Quint", 5, "2024-05-01T14:00:00Z")
    assert reply["body_text"].startswith("> Why does gating help")  # its own body, not its reply's
    assert "Thanks" not in reply["body_text"]
    # The quote was found and resolved to its parent: the analysis ran on the imported tree.
    assert db.execute("SELECT kind, source_id FROM exchanges WHERE item_id = ?", [c + "2"]
                      ).fetchone() == ("parent", c + "1")
    _no_blog_posts(db)


def test_real_lesswrong_graphql_recording_is_a_forummagnum_response(cli_run, tmp_path):
    text = shared_file("realworld", "lw_graphql_post_agi_ruin.json").read_text(encoding="utf-8")
    result = _import(cli_run, tmp_path, "agi_ruin.json", text=text)
    assert result.exit_code == 0, result.output
    post = _db(tmp_path)["posts"].get("lesswrong:uMQ3cqWDPHhjtiesc")
    assert post["title"] == "AGI Ruin: A List of Lethalities" and post["score"] == 956
    assert len(post["body_text"]) > 10_000


# -- Hacker News ------------------------------------------------------------------------------


def test_algolia_story_on_one_line_is_not_taken_for_jsonl(cli_run, tmp_path):
    result = _import(cli_run, tmp_path, "hn_algolia_story.json")
    assert result.exit_code == 0, result.output
    assert "hackernews" in result.output and "jsonl" not in result.output
    db = _db(tmp_path)
    assert _tree(db, "hackernews:40000010") == {
        "hackernews:40000011": None, "hackernews:40000012": "hackernews:40000011",
        "hackernews:40000013": "hackernews:40000012"}


def test_algolia_comment_item_keeps_the_comment_a_comment(cli_run, tmp_path):
    result = _import(cli_run, tmp_path, "hn_algolia_comment.json")
    assert result.exit_code == 0, result.output
    db = _db(tmp_path)
    assert [r[0] for r in db.execute("SELECT id FROM posts")] == ["hackernews:40000010"]
    assert db["posts"].get("hackernews:40000010")["stub"] == 1
    assert _tree(db, "hackernews:40000010") == {
        "hackernews:40000012": "hackernews:40000011", "hackernews:40000013": "hackernews:40000012"}


def test_firebase_items(cli_run, tmp_path):
    result = _import(cli_run, tmp_path, "hn_firebase_story.json")
    assert result.exit_code == 0, result.output
    story = _db(tmp_path)["posts"].get("hackernews:40000010")
    assert (story["author"], story["score"], story["comment_count"]) == ("alice", 123, 3)
    result = _import(cli_run, tmp_path, "hn_firebase_comment.json")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "does not name its story" in lines[0]
    assert not _db(tmp_path)["comments"].count


def test_a_saved_snapshot_never_flags_the_rest_missing(cli_run, tmp_path, httpserver, http):
    """A thread fetched whole, then a saved page and a saved Algolia tree showing part of it:
    nothing is flagged missing (a partial HN page once flagged the comments it did not show)."""
    fake = FakeHN()
    fake.story(40000010, "Show HN: Sparse autoencoders in the browser", "alice")
    for n in range(11, 16):
        fake.comment(40000000 + n, 40000010, f"user{n}", f"Comment {n}.")
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handler)
    db = _db(tmp_path)
    archive_thread(db, http, "hackernews:40000010", endpoint=httpserver.url_for("/").rstrip("/"))
    assert _db(tmp_path)["comments"].count == 5
    tree = fake._algolia_tree(fake.items[40000010])
    tree["children"] = tree["children"][:1]
    assert _import(cli_run, tmp_path, "part.json", text=json.dumps(tree)).exit_code == 0
    from tests.test_import_export import HN_PAGE  # a saved item page with two comments

    html = HN_PAGE.replace("40000001", "40000010")
    assert _import(cli_run, tmp_path, "part.html", text=html).exit_code == 0
    assert not _db(tmp_path).execute("SELECT COUNT(*) FROM comments WHERE missing = 1"
                                     ).fetchone()[0]


# -- Reddit -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["reddit_thread.json", "reddit_old.html"])
def test_reddit_thread_json_and_old_page(cli_run, tmp_path, name):
    result = _import(cli_run, tmp_path, name)
    assert result.exit_code == 0, result.output
    db = _db(tmp_path)
    post = db["posts"].get("reddit:1abcd2")
    assert (post["title"], post["author"], post["score"]) == ("Gated SAEs fix shrinkage", "alice",
                                                              88)
    assert _tree(db, post["id"]) == {"reddit:k1": None, "reddit:k2": "reddit:k1",
                                     "reddit:k3": None}


def test_real_new_reddit_page_imports_with_its_comments_nested(cli_run, tmp_path):
    text = shared_file("realworld", "reddit_saved_page_askreddit.html").read_text(
        encoding="utf-8")
    result = _import(cli_run, tmp_path, "askreddit.html", text=text)
    assert result.exit_code == 0, result.output
    db = _db(tmp_path)
    post = db["posts"].get("reddit:axtih6")
    assert post["title"] == 'What is the most "worth it" item you have ever purchased?'
    tree = _tree(db, post["id"])
    assert len(tree) == 15
    assert tree["reddit:ehwn1nt"] == "reddit:ehwamnx" and tree["reddit:ehwamnx"] is None
    assert tree["reddit:ehwxv0j"] == "reddit:ehwajv7"
    assert db["comments"].get("reddit:ehwfe48")["author"] == "TheEngLife"
    assert "Miele" in db["comments"].get("reddit:ehwfe48")["body_text"]
    _no_blog_posts(db)


# -- Discourse --------------------------------------------------------------------------------


def test_discourse_topic_json_with_its_url(cli_run, tmp_path):
    url = "https://discuss.example.org/t/gated-saes-fix-shrinkage/4242"
    result = _import(cli_run, tmp_path, "discourse_topic.json", "--url", url)
    assert result.exit_code == 0, result.output
    db = _db(tmp_path)
    host = "discourse:discuss.example.org"
    post = db["posts"].get(f"{host}:4242")
    assert (post["title"], post["author"]) == ("Gated SAEs fix shrinkage", "Alice")
    assert _tree(db, post["id"]) == {f"{host}:9002": None, f"{host}:9003": f"{host}:9002"}


def test_discourse_topic_json_without_url_is_one_clear_error(cli_run, tmp_path):
    result = _import(cli_run, tmp_path, "discourse_topic.json")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "pass --url https://<forum>/t/<slug>/<id>" in lines[0]


# -- detection --------------------------------------------------------------------------------


def test_unknown_json_names_every_kind_and_saves_nothing(cli_run, tmp_path):
    result = _import(cli_run, tmp_path, "mystery.json", text='{"weather": "sunny", "id": 3}')
    assert result.exit_code == 2
    line = result.output.strip()
    assert "\n" not in line and "does not recognise" in line
    for source in registry.saved_sources():
        assert source.name in line
    assert not _db(tmp_path)["posts"].count


def test_archivers_own_one_line_export_is_still_jsonl(cli_run, tmp_path):
    line = json.dumps({"type": "post", "id": "hackernews:7", "site_id": "hackernews",
                       "source_id": "7", "title": "Exported"})
    site = json.dumps({"type": "site", "id": "hackernews", "name": "Hacker News"})
    result = _import(cli_run, tmp_path, "one.jsonl", text=site)
    assert result.exit_code == 0, result.output
    result = _import(cli_run, tmp_path, "two.jsonl", text=line)
    assert result.exit_code == 0, result.output
    assert "jsonl" in result.output
    assert _db(tmp_path)["posts"].get("hackernews:7")["title"] == "Exported"


def test_every_saved_source_is_a_kind():
    from archiver.sources import saved

    names = {s.name for s in registry.saved_sources()}
    assert {"hackernews", "forummagnum", "reddit", "discourse", "greaterwrong"} <= names
    assert names <= set(saved.kinds())


def test_a_file_of_the_right_shape_with_odd_fields_is_one_line(cli_run, tmp_path):
    listing = json.loads((DATA / "reddit_thread.json").read_text())
    del listing[0]["data"]["children"][0]["data"]["id"]  # a post without its id
    result = _import(cli_run, tmp_path, "odd.json", text=json.dumps(listing))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "a damaged Reddit file" in lines[0] and "Traceback" not in result.output
    assert not _db(tmp_path)["posts"].count


@pytest.mark.parametrize("kind", ["lw1", "lw2"])
def test_threads_nested_thousands_deep_parse_whole(kind):
    """Each comment's fields are read from its own markup only and the tree is walked once: a
    thread 1,500 deep (hostile, or just long) parses in linear time, with every parent right."""
    from archiver.sources import forummagnum

    depth = 1500
    if kind == "lw1":
        head = ('<link rel="canonical" href="http://lesswrong.com/lw/1ab/x/"><div class="post" '
                'id="entry_t3_1ab"><h2>T</h2><div class="md"><p>x</p></div></div>')
        node = ('<div class="comment thing id-t1_c{n}"><a class="author" href="/user/u{n}/">u</a>'
                '<div class="md"><p>b{n}</p></div><div class="child">')
        ids = [f"lw1-c{n}" for n in range(depth)]
    else:
        head = ('<link rel="canonical" href="https://www.lesswrong.com/posts/GatedSaesPost0001/x">'
                '<h1 class="PostsPageTitle-root">T</h1>')
        node = ('<div class="CommentsNode-root" id="Cmt{n:011d}"><span class="CommentUserName-'
                'author"><a href="/users/u{n}">u</a></span><div class="CommentBody-root"><p>b{n}'
                '</p></div><div class="CommentsNode-children">')
        ids = [f"Cmt{n:011d}" for n in range(depth)]
    html = f"<html><body>{head}" + "".join(node.format(n=n) for n in range(depth)) + \
        "</div></div>" * depth + "</body></html>"
    comments = forummagnum.parse_saved(html)[0].comments
    assert [c.source_id for c in comments] == ids
    assert [c.parent_id for c in comments] == [None] + [f"lesswrong:{i}" for i in ids[:-1]]
    assert comments[-1].body_html.strip() == f"<p>b{depth - 1}</p>"


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.iterdir() if p.name != "README.md"))
def test_each_fixture_is_claimed_by_exactly_one_source(name):
    text = (DATA / name).read_text(encoding="utf-8")
    claimed = [s.name for s in registry.saved_sources() if s.sniff_saved(text, None)]
    expected = name.split("_")[0].replace("lw1", "forummagnum").replace("lw2", "forummagnum")
    assert claimed == [{"hn": "hackernews"}.get(expected, expected)]


def test_discourse_and_greaterwrong_pages_through_import(cli_run, tmp_path):
    """The pages these sources could parse before, now reached by `archiver import`."""
    from tests.fakes import forummagnum as fm
    from tests.fakes.greaterwrong import render_post
    from tests.test_discourse import SAVED as DISCOURSE_PAGE
    from tests.test_discourse import SITE

    result = _import(cli_run, tmp_path, "topic.html", text=DISCOURSE_PAGE)
    assert result.exit_code == 0 and "discourse" in result.output, result.output
    forum = fm.FakeForum()
    pid = "postid0000000001"
    forum.posts[pid] = fm.post(pid, "Gated SAEs fix shrinkage",
                               fm.user("aliceid000000001", "alice", "Alice"), "<p>Gated.</p>")
    forum.comments.append(fm.comment("c000000000000001", pid,
                                     fm.user("bobid00000000001", "bob", "Bob"), "<p>Why?</p>",
                                     fm.stamp(1)))
    result = _import(cli_run, tmp_path, "gw.html", text=render_post(forum, pid))
    assert result.exit_code == 0 and "greaterwrong" in result.output, result.output
    db = _db(tmp_path)
    assert _tree(db, f"{SITE}:4242") == {f"{SITE}:1002": None, f"{SITE}:1003": f"{SITE}:1002"}
    assert _tree(db, f"lesswrong:{pid}") == {"lesswrong:c000000000000001": None}
    _no_blog_posts(db)


def test_a_thread_page_no_source_reads_is_an_error_not_a_blog_post(cli_run, tmp_path):
    """A LessWrong thread in markup no source knows (say, a future redesign) used to become one
    blog post, its comments lost, exit 0."""
    comments = "".join(f'<div class="NewComment-item"><p>Comment number {n} says something '
                       f'about maps and territories at some length.</p></div>' for n in range(5))
    html = ('<html><head><link rel="canonical" href="https://www.lesswrong.com/posts/'
            'GatedSaesPost0001/x"></head><body><article><h1>A post</h1>'
            + "".join(f"<p>Paragraph {n} of the post says that a map is useful because it "
                      "leaves things out, and that which things it leaves out is the whole "
                      "question; the territory does not care.</p>" for n in range(6))
            + f"</article>{comments}</body></html>")
    result = _import(cli_run, tmp_path, "future.html", text=html)
    assert result.exit_code == 2
    line = result.output.strip()
    assert "\n" not in line and "thread page archiver cannot read" in line
    assert "reddit" in line and "forummagnum" in line
    assert not _db(tmp_path)["posts"].count
    result = _import(cli_run, tmp_path, "future.html", "--kind", "blog", text=html)
    assert result.exit_code == 0, result.output  # kept as an article when asked


def test_a_blank_capture_date_is_no_capture_date(cli_run, tmp_path):
    from archiver.sources import saved

    shutil.copy(DATA / "lw2_post.html", tmp_path / "post.html")
    assert saved.read_saved(str(tmp_path / "post.html"), " ").captured_from == \
        "file modification time"
    result = cli_run("import", str(tmp_path / "post.html"), "--captured", " ")
    assert result.exit_code == 0, result.output


def test_a_saved_forummagnum_user_with_an_odd_id_is_skipped_not_the_file():
    from archiver.sources import forummagnum

    users = [{"_id": {"$oid": "x"}, "slug": "odd", "displayName": "Odd"},
             {"_id": "aliceid000000001", "slug": "alice", "displayName": "Alice"}]
    [page] = forummagnum.parse_saved(json.dumps({"data": {"users": {"results": users}}}))
    assert [u.source_id for u in page.users] == ["aliceid000000001"]


def test_hostile_fields_of_a_saved_page_are_left_out():
    from archiver.sources import forummagnum

    html = (DATA / "lw2_post.html").read_text(encoding="utf-8")
    html = html.replace('dateTime="2024-05-01T14:00:00.000Z"', 'dateTime="tomorrow<script>"')
    html = html.replace('href="/users/bo-ren"', 'href="javascript:alert(1)"', 1)
    [page] = forummagnum.parse_saved(html)
    second = next(c for c in page.comments if c.source_id == "CmtAaaaaaaaaaa02")
    first = next(c for c in page.comments if c.source_id == "CmtAaaaaaaaaaa01")
    assert second.posted_at is None and first.posted_at == "2024-05-01T13:00:00Z"
    assert first.user_id is None and first.author == "Bo Ren"  # no profile link: no user row
