"""The reading room (archiver/web): every page on the demo archive through Datasette's own test
client, hostile content, missing rows, search ranking, and the table pages' rendering."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from archiver.app import datasette as ds
from archiver.app.demo import build_demo
from archiver.store import open_db

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

pytest.importorskip("datasette")
from datasette.app import Datasette  # noqa: E402
from datasette.plugins import pm  # noqa: E402
from datasette.utils import tilde_encode  # noqa: E402

import archiver.web  # noqa: E402
from archiver.web import render  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
POST = "lesswrong:demoPostGated001"
THREAD = f"/-/archiver/thread/{POST}"


@pytest.fixture(scope="module")
def plugin():
    """The plugin registered for this module only (the shared test venv may predate its entry
    point); unregistered afterwards so other modules see plain Datasette."""
    added = not pm.is_registered(archiver.web)
    if added:
        pm.register(archiver.web, name="archiver")
    yield
    if added:
        pm.unregister(archiver.web)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("web") / "demo.db"
    build_demo(str(path))
    return str(path)


def make_client(path: str):
    db = open_db(path)
    metadata = ds.build_metadata(db, "demo")
    db.close()
    datasette = Datasette([path], metadata=metadata)

    def get(url: str):
        async def fetch():
            await datasette.invoke_startup()
            return await datasette.client.get(url)
        return asyncio.run(fetch())

    return get


@pytest.fixture(scope="module")
def client(plugin, demo_db):
    return make_client(demo_db)


@pytest.fixture()
def copy_db(demo_db, tmp_path) -> str:
    path = tmp_path / "demo.db"
    shutil.copy(demo_db, path)
    return str(path)


def anchors(html: str) -> list[str]:
    return re.findall(r'<article class="archiver-item[^"]*" id="([^"]+)"', html)


# -- home -----------------------------------------------------------------------------------------

def test_home_lists_digests_threads_disputed_passages_and_tables(client):
    page = client("/-/archiver")
    assert page.status_code == 200
    html = page.text
    assert 'href="/-/archiver/topic/3"' in html  # the demo digest, linked to its topic page
    assert f'href="/-/archiver/thread/{render.path_part(POST)}"' in html
    disputed = html.split('id="disputed"')[1].split("</section>")[0]
    # The newest week of the demo holds one disputing reply: Ada's "Fair, but ..." to Chen.
    assert "Calling this a failure assumes there is one right" in disputed
    assert "disputed in 1 reply" in disputed
    reply = (f'/-/archiver/thread/{render.path_part("lesswrong:demoPostSplit001")}'
             f'#{render.anchor("lesswrong:demoCmtP2a000001")}')
    assert f'<a href="{reply}">Ada Quint</a>' in disputed  # linked to her reply
    assert 'action="/-/archiver/search"' in html
    assert 'href="/demo/exchanges_view"' in html


# -- thread ---------------------------------------------------------------------------------------

def test_thread_shows_every_comment_once_in_thread_order_nested_by_depth(client, demo_db):
    html = client(THREAD).text
    db = open_db(demo_db)
    expected = [render.anchor(POST)] + [render.anchor(r[0]) for r in db.execute(
        "select id from comments where post_id = ? order by path", [POST])]
    depths = [r[0] for r in db.execute(
        "select depth from comments where post_id = ? order by path", [POST])]
    assert anchors(html) == expected
    assert re.findall(r'style="--indent: (\d+)"', html)[1:] == [str(d) for d in depths]
    # Each body once: the Markdown and plain-text copies are not on the page.
    assert html.count("Is that really systematic?") == 1
    assert "&lt;blockquote&gt;" not in html


def test_thread_quotes_are_styled_and_linked_to_the_comment_they_quote(client):
    html = client(THREAD).text
    parent = render.anchor("lesswrong:demoCmtP1a000001")
    # Comment 2 quotes comment 1: its blockquote is marked and followed by a link to comment 1.
    reply = html.split(f'id="{render.anchor("lesswrong:demoCmtP1a000002")}"')[1]
    reply = reply.split("<article")[0]
    assert '<blockquote class="quoted-source">' in reply
    assert f'href="#{parent}"' in reply and "quoting Ben Okoro" in reply
    assert f'id="{parent}"' in html  # the anchor it points to exists
    # The post's passages others quoted: marked in the body and listed with who quoted them.
    post = html.split(f'id="{render.anchor(POST)}"')[1].split("<article")[0]
    assert "<mark>Gating removes shrinkage entirely for features above threshold</mark>" in post
    assert "quoted by 1" in post
    assert f'href="#{render.anchor("lesswrong:demoCmtP1a000003")}"' in post


def test_thread_marks_deleted_comments_mentions_and_links_out(client):
    html = client(THREAD).text
    deleted = html.split(f'id="{render.anchor("lesswrong:demoCmtP1a000008")}"')[1]
    assert "deleted upstream" in deleted.split("</article>")[0]
    assert "Papers mentioned:" in html and "/demo/papers/" in html
    assert 'href="https://www.lesswrong.com/posts/demoPostGated001/' in html  # original site
    assert f'href="/demo/posts/{tilde_encode(POST)}"' in html  # the row page


def test_thread_links_edited_items_to_their_earlier_versions(plugin, copy_db):
    db = open_db(copy_db)
    comment = "lesswrong:demoCmtP1a000003"
    db["item_versions"].insert({"item_table": "comments", "item_id": comment, "version": 1,
                                "body_html": "<p>first wording</p>", "archived_at": "2024-05-02"})
    db.execute("update comments set edited_at = '2024-05-03T00:00:00Z' where id = ?", [comment])
    db.conn.commit()
    db.close()
    html = make_client(copy_db)(THREAD).text
    item = html.split(f'id="{render.anchor(comment)}"')[1].split("</article>")[0]
    assert "edited 2024-05-03T00:00:00Z" in item
    assert "1 earlier version" in item
    assert "/demo/item_versions?item_table=comments&amp;item_id=lesswrong%3AdemoCmtP1a000003" in item


def test_hostile_bodies_titles_names_and_urls_are_neutralised(plugin, copy_db):
    """Stored rows written behind the store's back (as by an older version): the page still
    escapes titles and names, sanitises bodies and links only http(s) URLs."""
    db = open_db(copy_db)
    db.execute("update posts set title = '<script>alert(1)</script>Title', "
               "url = 'javascript:alert(2)' where id = ?", [POST])
    db.execute("update comments set author = '<img src=x onerror=alert(3)>', user_id = null, "
               "body_html = '<p onclick=\"alert(4)\">hi</p><script>alert(5)</script>"
               "<a href=\"javascript:alert(6)\">x</a><img src=\"data:image/png;base64,AA\">', "
               "url = 'data:text/html,boom' where id = 'lesswrong:demoCmtP1a000009'")
    db.conn.commit()
    db.close()
    html = make_client(copy_db)(THREAD).text
    for bad in ("<script>alert", "<img src=x", "onclick", "javascript:", "data:text/html",
                "data:image/png"):
        assert bad not in html, bad
    assert "&lt;script&gt;alert(1)&lt;/script&gt;Title" in html
    assert "&lt;img src=x onerror=alert(3)&gt;" in html  # the name, shown as text


def test_missing_thread_person_topic_and_chart_are_404_with_a_way_back(client):
    for url in ("/-/archiver/thread/lesswrong:nope", "/-/archiver/person/nobody",
                "/-/archiver/topic/999", "/-/archiver/item/nothing"):
        page = client(url)
        assert page.status_code == 404, url
        assert 'href="/-/archiver"' in page.text
    assert client("/-/archiver/topic/1/activity.png").status_code == 404  # no digest for 1


def test_item_redirects_to_its_place_in_the_thread(client):
    page = client("/-/archiver/item/lesswrong:demoCmtP1a000003")
    assert page.status_code == 302
    assert page.headers["location"] == (
        f"/-/archiver/thread/{render.path_part(POST)}#"
        f"{render.anchor('lesswrong:demoCmtP1a000003')}")


# -- person and topic -----------------------------------------------------------------------------

def section(html: str, anchor: str) -> str:
    return html.split(f'id="{anchor}"')[1].split("</section>")[0].split('<div id="')[0]


def test_person_page_shows_quotes_both_ways_pushback_and_papers(client):
    html = client("/-/archiver/person/lesswrong:demoUserChen0001").text
    assert "<h1>Chen Wei</h1>" in html
    whom = html.split("Whom they quote")[1].split("Who quotes them")[0]
    assert "Ada Quint" in whom
    by = html.split("Who quotes them")[1].split("Pushback given")[0]
    assert "Ben Okoro" in by  # quoting is quoting, whatever the stance
    assert "Gating removes shrinkage entirely" in section(html, "disputed-given")
    # Dara's "Only if the weights are tied" disputes Chen; Ben's "Agreed with Chen here" does not.
    received = section(html, "disputed-received")
    assert "the gate still leaks" in received and "Dara Hollis" in received
    assert "Entirely is too strong" not in received
    assert "Pushback received: disputed by others · 2" in html
    assert "Entirely is too strong" in section(html, "agreed-received")


def test_person_page_counts_agreement_apart_from_pushback(client):
    """The digests' rule: only a disputing reply is pushback. Ben disputes Ada and agrees with
    Chen; the second is listed under "Agreed with", never as pushback given."""
    html = client("/-/archiver/person/lesswrong:demoUserBen00001").text
    given = section(html, "disputed-given")
    assert "the L1 penalty pulls every active feature" in given
    assert "Entirely is too strong" not in given and "Agreed with Chen here" not in given
    assert "Pushback given: replies that dispute · 1" in html
    agreed = section(html, "agreed-given")
    assert "Agreed with Chen here" in agreed
    assert '<span class="stance stance-agrees">agrees</span>' in agreed
    ada = client("/-/archiver/person/lesswrong:demoUserAda00001").text
    assert "Gated Sparse Autoencoders for Cleaner Features" in ada.split("Papers they discussed")[1]


def test_topic_page_renders_the_digest_with_a_served_chart(client):
    html = client("/-/archiver/topic/3").text
    assert "Latest digest" in html and "Gating removes shrinkage entirely" in html
    assert '<img class="chart" src="/-/archiver/topic/3/activity.png"' in html
    assert "data:image/png" not in html
    chart = client("/-/archiver/topic/3/activity.png")
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(b"\x89PNG")
    threads = html.split("<h2>Threads</h2>")[1].split("<h2>Debates</h2>")[0]
    assert "Gated sparse autoencoders fix shrinkage, mostly" in threads
    assert "Gated Sparse Autoencoders for Cleaner Features" in html.split("<h2>Papers</h2>")[1]


def test_topic_page_tells_the_digests_debates_with_stances_and_disputed_markers(client):
    html = client("/-/archiver/topic/3").text
    debates = section(html, "debates")
    claim = debates.split('<div class="debate">')[1]
    assert "Gating removes shrinkage entirely for features above threshold" in claim
    chen = f'href="/-/archiver/item/{render.path_part("lesswrong:demoCmtP1a000003")}"'
    ben = f'href="/-/archiver/item/{render.path_part("lesswrong:demoCmtP1a000005")}"'
    assert re.search(chen + r'>Chen Wei</a> <span class="stance stance-disputes">disputes</span>',
                     claim)
    assert re.search(ben + r'>Ben Okoro</a> <span class="stance stance-agrees">agrees</span>',
                     claim)
    digest = html.split('<ol class="digest">')[1].split("</ol>")[0]
    assert re.search(r"disputed by <a " + chen + r">Chen Wei</a>", digest)
    assert "lesswrong.com" not in debates  # links stay in the reading room


def test_topic_debates_come_from_the_stored_digest_not_recomputed(plugin, copy_db):
    """What the page shows is the digest's JSON, odd or hostile fields and all: a made-up debate
    appears, a bad stance or a wrongly typed field is left out, names are escaped."""
    db = open_db(copy_db)
    data = json.loads(db.execute("select json from summaries where topic_id = 3").fetchone()[0])
    data["debates"] = [
        {"claim": "A claim nobody in the exchanges table made", "claim_author": "<b>Zed</b>",
         "claim_id": "javascript:alert(1)", "replies": [
             {"author": "Quill", "id": "lesswrong:demoCmtP1a000004", "stance": "disputes",
              "text": "No.", "responses": [{"author": "Rook", "stance": "<script>x</script>",
                                            "text": {"not": "text"}}]},
             "not a turn"]},
        {"claim": 42}, "junk"]
    data["summary"][0]["disputed_by"] = [{"author": "<i>Mal</i>", "id": 7}, "junk"]
    db.execute("update summaries set json = ? where topic_id = 3", [json.dumps(data)])
    db.conn.commit()
    db.close()
    html = make_client(copy_db)("/-/archiver/topic/3").text
    debates = section(html, "debates")
    assert debates.count('<div class="debate">') == 1
    assert "A claim nobody in the exchanges table made" in debates
    assert "&lt;b&gt;Zed&lt;/b&gt;" in debates and "Quill" in debates and "Rook" in debates
    assert 'stance-disputes">disputes' in debates
    assert "<script>x" not in html and "&lt;script&gt;" not in debates
    assert 'href="javascript' not in html
    assert "disputed by &lt;i&gt;Mal&lt;/i&gt;" in html


# -- stance ---------------------------------------------------------------------------------------

def test_thread_shows_each_replys_stance_and_who_disputed_a_passage(client):
    html = client(THREAD).text

    def article(item_id: str) -> str:
        return html.split(f'id="{render.anchor(item_id)}"')[1].split("</article>")[0]

    chen = article("lesswrong:demoCmtP1a000003")
    assert '↑ quoting Ada Quint</a> <span class="stance stance-disputes">disputes</span>' in chen
    ben = article("lesswrong:demoCmtP1a000005")
    assert '<span class="stance stance-agrees">agrees</span>' in ben
    assert "disputes</span>" not in ben
    # The post's passage Chen quoted: "disputed by Chen Wei", linked to his reply.
    post = article(POST)
    assert re.search(r'disputed by <a href="#' + render.anchor("lesswrong:demoCmtP1a000003")
                     + r'">Chen Wei</a>', post)
    # Chen's own comment: Dara disputed "the gate still leaks ...", Ben agreed with "Entirely ...".
    quoted = chen.split('class="quoted-by"')[1]
    leaks = [p for p in quoted.split("<p>") if "the gate still leaks" in p][0]
    entirely = [p for p in quoted.split("<p>") if "Entirely is too strong" in p][0]
    assert "disputed by" in leaks and "Dara Hollis" in leaks
    assert "disputed by" not in entirely and "stance-agrees" in entirely


def test_home_counts_only_disputing_replies_in_the_week(plugin, copy_db):
    """Every demo exchange moved into the last week: Ben's agreement with Chen's "Entirely is too
    strong" is not a disputed passage; Dara's "Only if the weights are tied" makes Chen's
    sentence one. A reply seven days and some hours old is outside the week."""
    db = open_db(copy_db)
    db.execute("update exchanges set posted_at = '2024-05-10T09:00:00Z' where id != 11")
    db.execute("update exchanges set posted_at = '2024-05-10T13:20:00Z' where id = 11")
    db.execute("update exchanges set posted_at = '2024-05-03T08:20:00Z' where id = 1")
    db.conn.commit()
    db.close()
    html = make_client(copy_db)("/-/archiver").text
    disputed = html.split('id="disputed"')[1].split("</section>")[0]
    assert "the gate still leaks some of the penalty" in disputed
    assert "Gating removes shrinkage entirely" in disputed
    assert "Entirely is too strong" not in disputed
    assert "At matched sparsity the gap comes back" not in disputed  # Chen agrees with it
    assert "the L1 penalty pulls every active feature" not in disputed  # 7 days 5 hours old


def test_stance_is_classified_once_per_exchange(monkeypatch):
    from archiver.analysis import stance
    from archiver.web import stances

    calls = []
    real = stance.classify
    monkeypatch.setattr(stance, "classify", lambda reply, quote=None: calls.append(reply)
                        or real(reply, quote))
    row = {"id": 987654321, "reply": "I disagree, it leaks.", "quote": "q"}
    assert stances.of(row) == "disputes" and stances.of(dict(row)) == "disputes"
    assert len(calls) == 1
    assert stances.of({**row, "reply": "Agreed, well put."}) == "agrees"  # re-extracted reply
    assert len(calls) == 2


# -- search ---------------------------------------------------------------------------------------

def test_search_spans_posts_comments_exchanges_and_papers_with_snippets(client):
    html = client("/-/archiver/search?q=gated").text
    kinds = set(re.findall(r'<span class="kind">(\w+)</span>', html))
    assert {"post", "comment", "paper"} <= kinds
    assert "<mark>" in html
    assert "exchange" in set(re.findall(r'<span class="kind">(\w+)</span>',
                                        client("/-/archiver/search?q=shrinkage").text))


def test_search_ranks_by_relevance_not_date(plugin, copy_db):
    db = open_db(copy_db)
    for cid, when, body in (("zz1", "2020-01-01T00:00:00Z", "zebra zebra zebra stripes"),
                            ("zz2", "2025-01-01T00:00:00Z",
                             "a long comment that mentions a zebra once among many other words "
                             "about sparse autoencoders, gating, shrinkage and features")):
        db["comments"].insert({"id": f"lesswrong:{cid}", "site_id": "lesswrong",
                               "source_id": cid, "post_id": POST, "posted_at": when,
                               "body_text": body, "body_html": f"<p>{body}</p>", "depth": 0,
                               "path": f"{when}-{cid}"})
    db.conn.commit()
    db.close()
    html = make_client(copy_db)("/-/archiver/search?q=zebra").text
    assert html.index(render.anchor("lesswrong:zz1")) < html.index(render.anchor("lesswrong:zz2"))


def test_search_survives_fts_syntax_errors_and_escapes_the_query(client):
    page = client('/-/archiver/search?q=%22gated%20%3Cscript%3E')
    assert page.status_code == 200
    main = page.text.split('<div class="archiver-page">')[1].split("<footer")[0]
    assert "<script>" not in main and "&lt;script&gt;" in main


def test_slash_search_is_no_longer_a_404(client):
    page = client("/-/search?q=gated")
    assert page.status_code == 302
    assert page.headers["location"] == "/-/archiver/search?q=gated"


# -- Datasette's own pages ------------------------------------------------------------------------

def test_table_pages_render_one_body_and_fold_the_rest(client):
    html = client("/demo/comments").text
    assert 'class="archiver-cell-body"' in html
    assert '<details class="archiver-alt"><summary>body_markdown' in html
    assert '<details class="archiver-alt"><summary>body_text' in html
    assert "&lt;blockquote&gt;" not in html.split("<table")[1].split("<details")[0]
    assert "dl.column-descriptions" in html  # the script that folds the column docs
    assert 'href="/-/archiver/archiver.css"' in html


def test_row_pages_show_names_for_linked_ids_and_link_to_the_reading_room(client, demo_db):
    comment = client(f"/demo/comments/{tilde_encode('lesswrong:demoCmtP1a000002')}").text
    assert "Gated sparse autoencoders fix shrinkage, mostly (lesswrong:demoPostGated001)" in comment
    assert "Ada Quint (lesswrong:demoUserAda00001)" in comment
    assert f'href="/-/archiver/thread/{render.path_part(POST)}"' in comment
    table, item = open_db(demo_db).execute(
        "select item_table, item_id from topic_items where topic_id = 3").fetchone()
    row = client(f"/demo/topic_items/3,{table},{tilde_encode(item)}").text
    assert "Sparse autoencoders (3)" in row
    assert "Sparse autoencoders" in row and 'href="/-/archiver/topic/3"' in row


def test_latest_summary_query_renders_the_digest_with_its_chart_not_raw_html(client):
    html = client("/demo/latest_summary_per_topic").text
    assert '<img alt="Activity over time" src="/-/archiver/topic/3/activity.png"' in html
    assert "data:image/png" not in html and "&lt;img" not in html


def test_researcher_papers_discussed_separates_names(client):
    rows = client("/demo/researcher_papers_discussed.json?_shape=array&researcher=Okafor").json()
    gated = next(r for r in rows if r["paper"].startswith("Gated"))
    assert gated["discussed_by"] == "Ada Quint, Mira Okafor"


# -- packaging ------------------------------------------------------------------------------------

def test_plugin_is_declared_as_a_datasette_entry_point_with_its_files():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["datasette"]["archiver"] == "archiver.web"
    patterns = project["tool"]["setuptools"]["package-data"]["archiver.web"]
    folder = ROOT / "archiver" / "web"
    shipped = {p for pattern in patterns for p in folder.glob(pattern)}
    needed = set(folder.glob("templates/*")) | set(folder.glob("static/*"))
    assert needed and needed <= shipped


def test_thread_page_queries_do_not_grow_with_the_thread(plugin, tmp_path, monkeypatch):
    """A long thread costs the same few set-based queries as a short one (none per comment)."""
    from datasette.database import Database

    from tests.fakes.web import big_thread

    counts = {}
    current = None
    original = Database.execute

    async def counting(self, sql, *args, **kwargs):
        counts[current] = counts.get(current, 0) + 1
        return await original(self, sql, *args, **kwargs)

    monkeypatch.setattr(Database, "execute", counting)
    for size in (5, 80):
        path = str(tmp_path / f"t{size}.db")
        post_id = big_thread(open_db(path), size)
        get = make_client(path)
        current = None
        get("/-/archiver")  # startup and first-request queries out of the way
        current = size
        page = get(f"/-/archiver/thread/{post_id}")
        assert page.status_code == 200 and len(anchors(page.text)) == size + 1
    assert counts[80] == counts[5] <= 10


def test_plain_datasette_loads_the_plugin_through_its_entry_point(demo_db, tmp_path):
    """`datasette archive.db` (no archiver command) serves the reading room once archiver is
    installed: a distribution declaring pyproject's entry point is put on the path, and
    Datasette's own CLI (`--get`, non-zero on an error page) fetches the home and a thread."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    target = project["project"]["entry-points"]["datasette"]["archiver"]
    dist = tmp_path / "archiver_entry_point_probe-0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: archiver-entry-point-probe\n"
                                   "Version: 0.0\n")
    (dist / "entry_points.txt").write_text(f"[datasette]\narchiver = {target}\n")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{tmp_path}"}
    for url, text in (("/-/archiver", "Reading room"), (THREAD, "quoting Ben Okoro")):
        result = subprocess.run([sys.executable, "-m", "datasette", demo_db, "--get", url],
                                capture_output=True, text=True, env=env, timeout=120)
        assert result.returncode == 0, result.stderr[-1000:]
        assert text in result.stdout


@pytest.mark.parametrize("url,expected", [
    ("https://www.lesswrong.com/posts/x", "https://www.lesswrong.com/posts/x"),
    (" http://example.org/a ", "http://example.org/a"),
    ("javascript:alert(1)", None), ("JaVaScRiPt:alert(1)", None), ("data:text/html,x", None),
    ("//evil.example/x", None), ("http:///nohost", None), ("mailto:a@b.c", None), ("", None),
    (None, None), ("http://[::1", None),
])
def test_safe_url_lets_only_http_and_https_links_through(url, expected):
    assert render.safe_url(url) == expected
    shown = str(render.link(url, "<b>x</b>"))
    assert "&lt;b&gt;x&lt;/b&gt;" in shown
    assert ("href=" in shown) == (expected is not None)


def test_a_reader_follows_the_gating_debate_home_thread_person_topic_by_links(client):
    """The issue's "done when": from the home page to the thread, to a person, to the topic,
    following links only."""
    def follow(html: str, pattern: str) -> str:
        found = re.search(r'href="(' + pattern + r')"', html)
        assert found, pattern
        return found.group(1)

    home = client("/-/archiver").text
    thread_url = follow(home, r"/-/archiver/thread/lesswrong%3AdemoPostGated001")
    thread = client(thread_url).text
    assert "Gating removes shrinkage entirely" in thread
    person = client(follow(thread, r"/-/archiver/person/lesswrong%3AdemoUserChen0001")).text
    assert "<h1>Chen Wei</h1>" in person
    topic = client(follow(person, r"/-/archiver/topic/3")).text
    assert "Latest digest" in topic and "/-/archiver/topic/3/activity.png" in topic
    assert follow(topic, r"/-/archiver/thread/[^\"]+")  # and back to a thread
