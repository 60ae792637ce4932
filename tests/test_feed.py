"""`archiver feed`: RSS and Atom from a loopback server; incremental runs; full articles fetched
for summary-only entries; a URL that is not a feed is a one-line error."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from werkzeug import Response

from archiver.app.blogs import archive_feed, archive_page
from archiver.cli import cli
from archiver.kernel.errors import UsageError
from archiver.kernel.http import Http, HttpSettings
from archiver.store import open_db
from tests.test_blog import article_html

FULL = ("<p>Interpretability research has progressed quickly this year. We summarise the main "
        "results on sparse autoencoders, and what they mean for alignment.</p>"
        "<h2>Sparse autoencoders</h2><p>Dictionary learning finds features that are far more "
        "interpretable than neurons, at the cost of reconstruction error.</p>" * 3)


def rss(base: str, second_summary: str = "Last week I talked about six papers…",
        first_body: str = FULL) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
  <title>Example Research Blog</title>
  <link>{base}/</link>
  <description>Notes on machine learning safety</description>
  <atom:link href="{base}/feed.xml" rel="self" type="application/rss+xml"/>
  <item>
    <title>Interpretability in 2024</title>
    <link>{base}/posts/interp-2024/</link>
    <guid isPermaLink="false">post-101</guid>
    <dc:creator><![CDATA[Ada Example]]></dc:creator>
    <pubDate>Tue, 02 Jan 2024 09:00:00 +0000</pubDate>
    <category><![CDATA[Interpretability]]></category>
    <category><![CDATA[Sparse Autoencoders]]></category>
    <description><![CDATA[<p>Interpretability research has progressed quickly…</p>]]></description>
    <content:encoded><![CDATA[{first_body}]]></content:encoded>
  </item>
  <item>
    <title>Robust ML, part 2</title>
    <link>{base}/posts/robust-ml-2/</link>
    <guid isPermaLink="false">post-100</guid>
    <dc:creator><![CDATA[Jacob Example]]></dc:creator>
    <pubDate>Sun, 10 Apr 2022 13:30:00 +0000</pubDate>
    <description><![CDATA[{second_summary}]]></description>
  </item>
</channel>
</rss>"""


ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Atom Research Notes</title>
  <link href="{base}/" rel="alternate"/>
  <link href="{base}/atom.xml" rel="self"/>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2024-03-01T10:00:00Z</updated>
  <entry>
    <title>Scaling laws, revisited</title>
    <link href="{base}/notes/scaling" rel="alternate" type="text/html"/>
    <id>tag:notes.example,2024:scaling</id>
    <published>2024-02-28T08:00:00Z</published>
    <updated>2024-03-01T10:00:00Z</updated>
    <author><name>Grace Example</name></author>
    <summary>Why compute-optimal training changed.</summary>
    <content type="html">{content}</content>
  </entry>
</feed>"""


@pytest.fixture
def http():
    return Http(HttpSettings(delay=0, backoff=0, retries=1))


class Server:
    """The blog: a feed (with ETag support) and the article pages, counting requests."""

    def __init__(self, httpserver, feed_text):
        self.base = httpserver.url_for("").rstrip("/")
        self.feed = feed_text(self.base)
        self.etag = '"v1"'
        self.hits: dict[str, int] = {}
        httpserver.expect_request("/feed.xml").respond_with_handler(self.serve_feed)
        httpserver.expect_request("/posts/robust-ml-2/").respond_with_handler(self.serve_article)

    def serve_feed(self, request):
        self.hits["feed"] = self.hits.get("feed", 0) + 1
        if request.headers.get("If-None-Match") == self.etag:
            return Response(status=304, headers={"ETag": self.etag})
        return Response(self.feed, content_type="application/rss+xml; charset=utf-8",
                        headers={"ETag": self.etag,
                                 "Last-Modified": "Tue, 02 Jan 2024 09:00:00 GMT"})

    def serve_article(self, request):
        self.hits["article"] = self.hits.get("article", 0) + 1
        return Response(article_html(), content_type="text/html; charset=utf-8")

    @property
    def url(self) -> str:
        return self.base + "/feed.xml"


def test_rss_entries_become_posts_with_full_text(httpserver, http, tmp_path):
    server = Server(httpserver, rss)
    db = open_db(str(tmp_path / "a.db"))
    counts, report = archive_feed(db, http, server.url)
    assert (report.title, report.entries, report.archived) == ("Example Research Blog", 2, 2)
    assert report.fetched_articles == 1 and server.hits["article"] == 1
    posts = {p["title"]: p for p in db.query("SELECT * FROM posts")}
    interp = posts["Interpretability in 2024"]
    assert interp["id"] == "blog:localhost:/posts/interp-2024"
    assert (interp["kind"], interp["author"]) == ("blog", "Ada Example")
    assert interp["posted_at"] == "2024-01-02T09:00:00Z"
    assert "Dictionary learning finds features" in interp["body_text"]  # content:encoded
    tags = [r[0] for r in db.execute(
        "SELECT t.name FROM post_tags pt JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id = ? "
        "ORDER BY t.name", [interp["id"]])]
    assert tags == ["Interpretability", "Sparse Autoencoders"]
    robust = posts["Robust ML, part 2"]
    # Only a teaser in the feed: the article itself was fetched and extracted.
    assert "Yaodong Yu" in robust["body_text"] and "six papers…" not in robust["body_text"]
    assert '"summary": "Last week I talked about six papers' in robust["extra"]
    headings = [r[0] for r in db.execute(
        "SELECT heading FROM post_sections WHERE post_id = ? AND heading IS NOT NULL "
        "ORDER BY position", [robust["id"]])]
    assert headings[0] == "Robustness"
    state = next(db.query("SELECT * FROM feed_state"))
    assert (state["etag"], state["entry_count"], state["status"]) == ('"v1"', 2, "ok")


def test_same_article_by_page_and_by_feed_is_one_post(httpserver, http, tmp_path):
    server = Server(httpserver, rss)
    db = open_db(str(tmp_path / "a.db"))
    archive_page(db, http, server.base + "/posts/robust-ml-2/")
    archive_feed(db, http, server.url)
    assert db.execute("SELECT COUNT(*) FROM posts WHERE title = 'Robust ML, part 2'").fetchone() \
        == (1,)


def test_second_run_is_incremental(httpserver, http, tmp_path):
    server = Server(httpserver, rss)
    db = open_db(str(tmp_path / "a.db"))
    archive_feed(db, http, server.url)
    # The server still has the same feed: the ETag makes it answer 304.
    _counts, report = archive_feed(db, http, server.url)
    assert report.not_modified and server.hits == {"feed": 2, "article": 1}
    # A server ignoring conditional requests: entries are compared one by one instead.
    server.etag = '"v2"'
    _counts, report = archive_feed(db, http, server.url)
    assert (report.archived, report.unchanged, report.fetched_articles) == (0, 2, 0)
    assert server.hits["article"] == 1


def test_changed_entry_is_updated_with_history(httpserver, http, tmp_path):
    server = Server(httpserver, rss)
    db = open_db(str(tmp_path / "a.db"))
    archive_feed(db, http, server.url)
    server.feed = rss(server.base, first_body=FULL + "<p>Correction: we fixed a figure.</p>")
    server.etag = '"v2"'
    counts, report = archive_feed(db, http, server.url)
    assert (report.archived, report.unchanged) == (1, 1)
    assert counts.updated == 1
    assert db.execute("SELECT COUNT(*) FROM item_versions WHERE item_table = 'posts'").fetchone() \
        == (1,)
    assert "Correction" in db.execute(
        "SELECT body_text FROM posts WHERE title = 'Interpretability in 2024'").fetchone()[0]


def test_atom_feed_with_full_content_fetches_no_page(httpserver, http, tmp_path):
    base = httpserver.url_for("").rstrip("/")
    content = ("&lt;p&gt;" + "Compute-optimal training means more data per parameter. " * 20
               + "&lt;/p&gt;")
    httpserver.expect_request("/atom.xml").respond_with_data(
        ATOM.format(base=base, content=content), content_type="application/atom+xml")
    db = open_db(str(tmp_path / "a.db"))
    _counts, report = archive_feed(db, http, base + "/atom.xml")
    assert (report.archived, report.fetched_articles) == (1, 0)
    post = next(db.query("SELECT * FROM posts"))
    assert (post["title"], post["author"]) == ("Scaling laws, revisited", "Grace Example")
    assert (post["posted_at"], post["edited_at"]) == ("2024-02-28T08:00:00Z",
                                                      "2024-03-01T10:00:00Z")
    assert post["body_text"].startswith("Compute-optimal training")


def test_summary_kept_when_the_article_cannot_be_fetched(httpserver, http, tmp_path):
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/feed.xml").respond_with_data(rss(base),
                                                             content_type="application/rss+xml")
    httpserver.expect_request("/posts/robust-ml-2/").respond_with_data("gone", status=404)
    db = open_db(str(tmp_path / "a.db"))
    _counts, report = archive_feed(db, http, base + "/feed.xml")
    assert report.archived == 2 and len(report.summary_only) == 1
    row = db.execute("SELECT body_text, extra FROM posts WHERE title = 'Robust ML, part 2'") \
        .fetchone()
    assert row[0] == "Last week I talked about six papers…"
    assert '"summary_only": true' in row[1]


def test_html_page_is_not_a_feed_and_names_its_feed(httpserver, tmp_path):
    httpserver.expect_request("/").respond_with_data(
        '<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml">'
        "</head><body><p>Home page</p></body></html>", content_type="text/html")
    result = CliRunner().invoke(cli, ["feed", httpserver.url_for("/"),
                                      "--db", str(tmp_path / "a.db")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "is not an RSS or Atom feed but an HTML page" in lines[0]
    assert httpserver.url_for("/feed.xml") in lines[0]


def test_json_is_not_a_feed(httpserver, http, tmp_path):
    httpserver.expect_request("/api").respond_with_json({"posts": []})
    db = open_db(str(tmp_path / "a.db"))
    with pytest.raises(UsageError, match="not an RSS or Atom feed"):
        archive_feed(db, http, httpserver.url_for("/api"))
    assert db.execute("SELECT status FROM runs").fetchone() == ("failed",)


def test_feed_command_prints_a_summary(httpserver, tmp_path):
    server = Server(httpserver, rss)
    result = CliRunner().invoke(cli, ["feed", server.url, "--db", str(tmp_path / "a.db"),
                                      "--delay", "0"])
    assert result.exit_code == 0, result.output
    assert "Example Research Blog: 2 entries, 2 new or changed, 0 unchanged; 1 articles " \
           "fetched" in result.output


def test_a_304_to_a_first_unconditional_fetch_is_not_modified(httpserver, http, tmp_path):
    """A server answering 304 although nothing was asked conditionally (no feed state yet): the
    feed is reported not modified, with no traceback."""
    httpserver.expect_request("/feed.xml").respond_with_response(Response(status=304))
    db = open_db(str(tmp_path / "a.db"))
    _counts, report = archive_feed(db, http, httpserver.url_for("/feed.xml"))
    assert report.not_modified
    assert next(db.query("SELECT status FROM feed_state"))["status"] == "not-modified"
