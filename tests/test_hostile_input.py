"""Hostile and odd input: CLI filters and search queries with quotes, SQL fragments and FTS syntax;
a read-only archive; a full disk; hostile bodies rendered by Datasette.

Every case ends in results or one clear error line, never a traceback, an injected query or a
half-written page.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.app.demo import build_demo
from archiver.cli import cli
from archiver.kernel.errors import UsageError
from archiver.store import open_db
from archiver.store.search import search
from tests.fakes import forummagnum as fm

INJECTIONS = [
    "x' OR 1=1 --",
    "x\" OR \"1\"=\"1",
    "'; DROP TABLE posts; --",
    "1) UNION SELECT sql, 2, 3 FROM sqlite_master --",
    "Robert'); DELETE FROM comments; --",
    "\\' OR '1'='1",
]
FTS_TRICKS = [
    '"unbalanced', "AND OR NOT", "NEAR(", "NEAR(a b, -1)", "body_text:gating", "title:x",
    "^start", "shrink*", "*", '"', "()", "(((", "a -b", "- -", "+", "{body_text}: x", "'",
    "x' OR 1=1 --", "'; DROP TABLE posts; --", "gating AND", "OR", "\u202egating", "ga\u0000ting",
    "🙂 gating", "gating " * 500, "NOT gating",
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """The demo archive: two threads with exchanges, a researcher, papers, topics, a summary."""
    path = tmp_path_factory.mktemp("hostile") / "archive.db"
    build_demo(str(path), report_dir=str(path.parent / "report"))
    return path


@pytest.fixture(autouse=True)
def elsewhere(tmp_path, monkeypatch):
    """No archiver.toml or ARCHIVER_* setting of the machine running the tests applies."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("ARCHIVER_")]:
        monkeypatch.delenv(name)


def invoke(db: Path, *args: str):
    return CliRunner().invoke(cli, ["--db", str(db), *args])


def assert_clean(result, args) -> None:
    """Results, or one clear error line (ours: "error: ...", click's: "Error: ...")."""
    assert "Traceback" not in result.output, (args, result.output)
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), (args, repr(result.exception))
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output)
    if result.exit_code:
        last = result.output.strip().splitlines()[-1]
        assert re.match(r"(error|Error): \S", last), (args, result.output)


def fingerprint(db_path: Path) -> dict:
    """What the archive holds: its schema and every table's row count."""
    db = open_db(str(db_path))
    try:
        schema = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
        return {"schema": schema, **{t: db[t].count for t in db.table_names()}}
    finally:
        db.close()


LISTINGS = [
    *[("exchanges", "--author", v) for v in INJECTIONS],
    *[("exchanges", "--replier", v) for v in INJECTIONS],
    *[("exchanges", "--between", v, "Ada Quint") for v in INJECTIONS],
    *[("exchanges", "--post", v) for v in INJECTIONS],
    ("exchanges", "--post", "https://www.lesswrong.com/posts/' OR 1=1/x"),
    ("exchanges", "--post", "x' OR 1=1 --", "--hot"),
    ("exchanges", "--since", "not a date"),
    ("exchanges", "--since", "2024-01-01' OR 1=1 --"),
    ("exchanges", "--since", "2024-13-45"),
    ("exchanges", "--kind", "parent' OR 1=1 --"),
    ("exchanges", "--limit", "1; DROP TABLE exchanges"),
    ("exchanges", "--format", "json", "--author", "x' OR 1=1 --"),
    *[("topics", "--kind", v) for v in INJECTIONS[:2]],
    ("topics", "discover", "--since", "yesterday"),
    ("topics", "discover", "--k", "x' OR 1=1"),
    *[("papers", "--researcher", v) for v in INJECTIONS],
    ("papers", "--limit", "-1"),
    *[("mentions", "--paper", v) for v in INJECTIONS],
    ("stats", "--runs", "1 OR 1=1"),
    ("stats", "--json"),
    *[("export", "--user", v) for v in INJECTIONS],
    *[("export", "--thread", v) for v in INJECTIONS[:3]],
    *[("export", "--topic", v) for v in INJECTIONS[:3]],
    *[("summarize", v) for v in INJECTIONS[:3]],
    ("summarize", "--thread", "x' OR 1=1 --"),
    ("summarize", "--all", "--since", "soon"),
    ("summarize", "--all", "--until", "2024-01-01' --"),
]


def test_listing_filters_give_results_or_a_clear_error_and_change_nothing(archive):
    before = fingerprint(archive)
    for args in LISTINGS:
        result = invoke(archive, *args)
        assert_clean(result, args)
    assert fingerprint(archive) == before  # no statement was injected, nothing was written


@pytest.mark.parametrize("option", ["--author", "--replier"])
def test_an_injected_person_filter_matches_no_one(archive, option):
    everyone = invoke(archive, "exchanges", "--format", "json")
    assert everyone.exit_code == 0 and everyone.output.count('"comment_id"') >= 8
    for value in INJECTIONS:
        result = invoke(archive, "exchanges", option, value, "--format", "json")
        assert result.exit_code == 0 and '"comment_id"' not in result.output, (option, value)


@pytest.mark.parametrize("value", ["%", "_%"])
def test_like_wildcards_in_a_person_filter_are_literal(archive, value):
    result = invoke(archive, "exchanges", "--author", value, "--format", "json")
    assert result.exit_code == 0 and '"comment_id"' not in result.output


def test_unknown_things_are_named_in_the_error(archive):
    for args, needle in [(("exchanges", "--post", "x' OR 1=1 --"), "no archived post"),
                         (("export", "--user", "x' OR 1=1 --"), "no archived user"),
                         (("summarize", "x' OR 1=1 --"), "no topic"),
                         (("exchanges", "--since", "not a date"), "--since takes a date")]:
        result = invoke(archive, *args)
        assert result.exit_code in (1, 2) and needle in result.output, (args, result.output)
        assert "x' OR 1=1 --" in result.output or "not a date" in result.output


def test_search_queries_with_fts_syntax_and_sql_fragments(archive):
    before = fingerprint(archive)
    for query in FTS_TRICKS + INJECTIONS:
        for extra in ([], ["--json"]):
            result = invoke(archive, "search", *extra, "--", query)
            assert_clean(result, query)
            assert result.exit_code == 0, (query, result.output)
    assert fingerprint(archive) == before
    empty = invoke(archive, "search", "   ")
    assert empty.exit_code == 2 and "empty search query" in empty.output


def test_a_user_regex_that_is_not_a_regex_is_a_clear_error(archive, tmp_path):
    copy = tmp_path / "archive.db"
    shutil.copy(archive, copy)
    for pattern in ["(", "[a-", "a{2,1}", "(?P<x>"]:
        result = invoke(copy, "topics", "add", "Broken", "--match", pattern)
        assert_clean(result, pattern)
        assert result.exit_code == 2 and "not a valid regular expression" in result.output


TOKENS = ['"', "'", "*", "(", ")", ":", "^", "-", "+", ";", "--", "AND", "OR", "NOT", "NEAR",
          "NEAR(", "body_text:", "title", "{", "}", ",", "gating", "shrinkage", "sparse", "\u0000",
          "SELECT", "DROP", "1=1", " ", "é", "🙂"]


@pytest.fixture(scope="module")
def opened(archive):
    db = open_db(str(archive))
    yield db
    db.close()


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=6)), min_size=1, max_size=12))
def test_search_never_fails_on_any_query(opened, parts):
    query = "".join(parts)
    try:
        rows = search(opened, query, limit=5)
    except UsageError:
        assert not query.strip()
        return
    assert all(row["type"] in ("post", "comment") for row in rows)


# -- a read-only archive ----------------------------------------------------------------------


def _chattr(flag: str, *paths: Path) -> bool:
    if not shutil.which("chattr"):
        return False
    done = subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True)
    return done.returncode == 0


@pytest.fixture
def read_only_archive(archive, tmp_path):
    """The archive in a folder where nothing can be written.

    Not simulated: as root, permission bits do not stop writes, so the file and its folder are
    made immutable (``chattr +i``: even root gets EPERM); as another user, plain chmod does it.
    Skipped when neither is possible (no chattr, or no CAP_LINUX_IMMUTABLE, or a filesystem
    without the flag).
    """
    folder = tmp_path / "published"
    folder.mkdir()
    path = folder / "archive.db"
    shutil.copy(archive, path)
    if os.geteuid() == 0:
        if not _chattr("+i", path, folder):
            pytest.skip("cannot make a file read-only for root here (chattr +i refused)")
        try:
            yield path
        finally:
            _chattr("-i", folder, path)
    else:
        path.chmod(0o444)
        folder.chmod(0o555)
        try:
            yield path
        finally:
            folder.chmod(0o755)
            path.chmod(0o644)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_read_only_archive_can_be_read_and_refuses_writes_clearly(read_only_archive):
    before = digest(read_only_archive)
    for args in [("search", "gating"), ("exchanges", "--format", "json"), ("stats",),
                 ("topics",), ("papers",), ("export", "--all")]:
        result = invoke(read_only_archive, *args)
        assert result.exit_code == 0, (args, result.output)
        assert result.output.strip()
    for args in [("topics", "add", "New", "--match", "sparse"), ("exchanges", "extract", "--all"),
                 ("summarize", "--all"),
                 ("thread", "lesswrong:postid0000000001", "--endpoint", "http://127.0.0.1:9/x",
                  "--delay", "0")]:
        result = invoke(read_only_archive, *args)
        assert_clean(result, args)
        assert result.exit_code == 1 and "read-only" in result.output, (args, result.output)
    sync = invoke(read_only_archive, "sync")
    assert_clean(sync, "sync")
    assert sync.exit_code == 1 and "archive.db.lock" in sync.output  # cannot take the lock
    assert digest(read_only_archive) == before
    assert sorted(p.name for p in read_only_archive.parent.iterdir()) == ["archive.db"]


# -- a full disk ------------------------------------------------------------------------------


def test_a_full_disk_is_a_clear_error_and_keeps_every_page_written_before(forum, endpoint,
                                                                         tmp_path, monkeypatch):
    """Simulated: the CLI's connection gets ``PRAGMA max_page_count`` just above the archive's
    size, so SQLite fails the next page that needs room with SQLITE_FULL, as on a full disk."""
    import archiver.store

    fm.big_thread(forum, "smallthread00001", 5, body_chars=100)
    fm.big_thread(forum, "largethread00001", 1500, body_chars=600)
    db_path = tmp_path / "archive.db"
    first = invoke(db_path, "thread", "lesswrong:smallthread00001", "--endpoint", endpoint,
                   "--delay", "0")
    assert first.exit_code == 0, first.output

    real_open = archiver.store.open_db
    room = {"pages": 40}

    def full_disk_open(path, **options):
        db = real_open(path, **options)
        used = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {used + room['pages']}")
        return db

    monkeypatch.setattr(archiver.store, "open_db", full_disk_open)
    full = invoke(db_path, "thread", "lesswrong:largethread00001", "--endpoint", endpoint,
                  "--delay", "0")
    assert_clean(full, "thread on a full disk")
    assert full.exit_code == 1, full.output
    assert "the disk is full" in full.output and "free some space" in full.output

    monkeypatch.setattr(archiver.store, "open_db", real_open)
    db = open_db(str(db_path))
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    counts = dict(db.execute("SELECT post_id, COUNT(*) FROM comments GROUP BY post_id"))
    # The earlier thread is intact; the page in flight (all 1,500 comments) was rolled back whole.
    assert counts == {"lesswrong:smallthread00001": 5}
    assert db["posts"].get("lesswrong:largethread00001")["title"]  # the page before it stayed
    db.close()

    again = invoke(db_path, "thread", "lesswrong:largethread00001", "--endpoint", endpoint,
                   "--delay", "0")  # space freed: the same command completes the thread
    assert again.exit_code == 0, again.output
    db = open_db(str(db_path))
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM comments WHERE post_id = "
                      "'lesswrong:largethread00001'").fetchone() == (1500, 1500)
    assert db.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0] > 0
    db.close()


# -- hostile bodies rendered by Datasette ---------------------------------------------------------

HOSTILE_HTML = (
    '<p>ok</p><script>alert(1)</script><p onclick="steal()" onmouseover="x()">hover</p>'
    '<a href="javascript:alert(1)">js</a> <a href="JaVaScRiPt&#58;alert(1)">js2</a> '
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>'
    '<iframe src="https://evil.example"></iframe><style>body{display:none}</style>'
    '<p style="position:fixed;top:0;left:0;width:100%;height:100%">cover</p>'
    '<img src="x" onerror="alert(1)"><svg onload="alert(1)"><script>alert(2)</script></svg>'
    '<form action="https://evil.example"><input name="p"></form>'
    '<p>&lt;script&gt;alert("escaped text")&lt;/script&gt; and &lt;img src=x onerror=alert(3)&gt;'
    '</p><object data="x.swf"></object><embed src="x"><base href="https://evil.example/">'
    '<meta http-equiv="refresh" content="0;url=https://evil.example">'
)
HOSTILE_MARKDOWN = (
    "ok\n\n<script>alert(1)</script>\n\n[js](javascript:alert(1)) [data](data:text/html,x) "
    "![img](javascript:alert(2))\n\n<iframe src=\"https://evil.example\"></iframe>\n\n"
    "<a href=\"https://ok.example\" onclick=\"steal()\" style=\"position:fixed\">cover</a>\n\n"
    "<img src=x onerror=alert(3)>\n\n<style>body{display:none}</style>\n\n"
    "<details open ontoggle=alert(5)>x</details>\n\n[ref]: javascript:alert(6)\n[reflink][ref]\n"
)
EXECUTABLE_TAGS = {"script", "iframe", "style", "object", "embed", "svg", "form", "input", "base",
                   "meta", "link", "frame", "frameset", "applet", "math"}
PLUGIN_STYLES = {"white-space: normal", "max-width: 100%"}  # what the render plugin adds itself


def assert_inert(fragment: str, where: str) -> None:
    from bs4 import BeautifulSoup

    for element in BeautifulSoup(fragment, "html.parser").find_all(True):
        assert element.name not in EXECUTABLE_TAGS, (where, str(element))
        for name, value in element.attrs.items():
            value = " ".join(value) if isinstance(value, list) else value
            assert not name.lower().startswith("on"), (where, str(element))
            if name.lower() == "style":
                assert value in PLUGIN_STYLES, (where, str(element))
            if name.lower() in ("href", "src", "action", "formaction", "xlink:href"):
                scheme = re.sub(r"[\s\x00-\x1f]", "", value).lower()
                assert not scheme.startswith(("javascript:", "data:", "vbscript:")), \
                    (where, str(element))


def test_hostile_bodies_stay_harmless_when_datasette_renders_them(tmp_path):
    pytest.importorskip("datasette")
    pytest.importorskip("datasette_render_markdown")
    from bs4 import BeautifulSoup
    from datasette.app import Datasette
    from datasette.utils import tilde_encode

    from archiver.app import datasette as ds
    from archiver.app.ingest import ingest
    from archiver.kernel.records import Comment, Page, Post, Site

    site = Site(id="lesswrong", name="LessWrong", url="https://www.lesswrong.com",
                kind="forummagnum")
    posts = [
        Post(id="lesswrong:htmlpost", site_id="lesswrong", source_id="htmlpost",
             title='<script>alert("title")</script>', author="<b onmouseover=x>eve</b>",
             body_html=HOSTILE_HTML),
        Post(id="lesswrong:mdpost", site_id="lesswrong", source_id="mdpost", title="md",
             body_markdown=HOSTILE_MARKDOWN),
    ]
    comments = [Comment(id="lesswrong:c1", site_id="lesswrong", source_id="c1",
                        post_id="lesswrong:htmlpost", body_html=HOSTILE_HTML,
                        posted_at="2024-05-01T00:00:00Z"),
                Comment(id="lesswrong:c2", site_id="lesswrong", source_id="c2",
                        post_id="lesswrong:mdpost", body_markdown=HOSTILE_MARKDOWN,
                        posted_at="2024-05-02T00:00:00Z")]
    path = tmp_path / "archive.db"
    db = open_db(str(path))
    ingest(db, [Page(sites=[site], posts=posts, comments=comments)], "test", "hostile")
    metadata = ds.build_metadata(db, "archive")
    db.close()
    datasette = Datasette([str(path)], metadata=metadata)

    async def fetch(paths):
        await datasette.invoke_startup()
        return [await datasette.client.get(p) for p in paths]

    pages = ["/archive/posts/" + tilde_encode("lesswrong:htmlpost"),
             "/archive/posts/" + tilde_encode("lesswrong:mdpost"),
             "/archive/comments/" + tilde_encode("lesswrong:c1"),
             "/archive/comments/" + tilde_encode("lesswrong:c2"),
             "/archive/posts", "/archive/comments"]
    rendered_markdown = 0
    for page, response in zip(pages, asyncio.run(fetch(pages))):
        assert response.status_code == 200, page
        soup = BeautifulSoup(response.text, "html.parser")
        cells = [td for td in soup.find_all("td")
                 if any(c.startswith("col-") for c in td.get("class") or [])]
        assert cells, page
        for cell in cells:
            assert_inert(cell.decode_contents(), f"{page} {cell.get('class')}")
            # archiver's Datasette plugin shows the body once, rendered from body_html; without the
            # plugin, datasette-render-markdown renders body_markdown.
            rendered = {"col-body_markdown", "col-body_html"} & set(cell.get("class"))
            if rendered and cell.find("p"):
                rendered_markdown += 1
    assert rendered_markdown >= 4  # the bodies were really rendered as HTML, not shown as text
