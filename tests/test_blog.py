"""`archiver page`: one article from a loopback web server, extracted, sectioned, stored once."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from archiver.app.blogs import archive_page
from archiver.cli import cli
from archiver.kernel.errors import NotFound
from archiver.kernel.http import Http, HttpSettings
from archiver.sources import blog
from archiver.store import open_db

INTRO = ("Last week I talked about six recent papers from our group and discussed the first two "
         "in detail. This week I will discuss the remaining four papers.")
ROBUST = ("By robustness I mean both making systems less likely to fail in new situations and "
          "being able to predict when and how they will fail. See "
          '<a href="https://arxiv.org/abs/2202.05834">the paper</a>.')
OOD = ("Yaodong Yu, Zitong Yang and Alex Wei sought to solve the following problem: given a "
       "classifier trained on one distribution, predict its error on another one.")
SCIENCE = ("Science of ML is a fairly broad term, but for me it means trying to understand laws "
           "that govern neural network behaviour, so that we can predict it.")


def article_html(body_extra: str = "", duplicate: bool = False) -> str:
    body = f"""
      <h1>Robust ML, part 2</h1>
      <p class="byline">By Jacob Example · April 10, 2022</p>
      <p>{INTRO}</p>
      <h2>Robustness</h2>
      <p>{ROBUST}</p>
      <h3>Predicting Out-of-Distribution Error</h3>
      <p>{OOD}</p>
      <blockquote><p>We present a new method that does well on hard distribution shifts.</p>
      </blockquote>
      <h2>Science of ML</h2>
      <p>{SCIENCE}</p>
      <script>document.write("tracking")</script>
      {body_extra}"""
    second = ""
    if duplicate:  # the same text again, as a second rendering (no markup, words re-split)
        second = "".join(f"<p>{p}</p>" for p in [
            INTRO, "## Robustness", ROBUST.replace("See ", "See"), OOD, "## Science of ML",
            SCIENCE])
    return f"""<!DOCTYPE html><html lang="en"><head>
      <meta charset="utf-8"><title>Robust ML, part 2 | Example Research Blog</title>
      <meta property="og:title" content="Robust ML, part 2">
      <meta property="og:site_name" content="Example Research Blog">
      <meta name="author" content="Jacob Example">
      <meta property="article:published_time" content="2022-04-10T15:30:00+02:00">
      <link rel="canonical" href="/posts/robust-ml-2/">
      </head><body>
      <nav><a href="/">Home</a> <a href="/about">About</a> <a href="/archive">Archive</a></nav>
      <main><article>{body}{second}</article></main>
      <footer><p>Subscribe to the newsletter. Copyright 2022 Example.</p></footer>
      </body></html>"""


@pytest.fixture
def http():
    return Http(HttpSettings(delay=0, backoff=0, retries=1))


def test_extracts_title_author_date_body_and_sections():
    article = blog.extract_article(article_html(), "https://blog.example.org/posts/robust-ml-2/")
    assert article.title == "Robust ML, part 2"
    assert article.author == "Jacob Example"
    assert article.published == "2022-04-10T13:30:00Z"
    assert article.site_name == "Example Research Blog"
    assert "tracking" not in article.body_html and "Subscribe" not in article.body_html
    assert "Home" not in article.body_html
    assert 'href="https://arxiv.org/abs/2202.05834"' in article.body_html
    sections = blog.split_sections("p", article.body_html)
    assert [(s.heading, s.level) for s in sections] == [
        (None, 0), ("Robustness", 2), ("Predicting Out-of-Distribution Error", 3),
        ("Science of ML", 2)]
    assert sections[2].body_text.startswith("Yaodong Yu")
    assert "> We present a new method" in sections[2].body_text  # quotes kept as quotes


def test_second_rendering_of_the_same_text_is_dropped():
    article = blog.extract_article(article_html(duplicate=True), "https://blog.example.org/p/")
    plain = article.body_html
    assert plain.count("Yaodong Yu") == 1
    assert plain.count("fairly broad term") == 1
    assert "## Robustness" not in plain


def test_a_repeated_pull_quote_does_not_cut_the_article():
    paragraphs = [f"Paragraph {n} says something new about neural network training, "
                  f"point number {n}." for n in range(8)]
    blocks = paragraphs[:4] + [paragraphs[1]] + paragraphs[4:]  # a pull quote, then more text
    assert blog.drop_repeated_run(blocks, lambda b: b) == blocks


def test_page_command_archives_article_with_sections(httpserver, tmp_path):
    httpserver.expect_request("/posts/robust-ml-2/").respond_with_data(
        article_html(duplicate=True), content_type="text/html; charset=utf-8")
    url = httpserver.url_for("/posts/robust-ml-2/")
    db_path = tmp_path / "a.db"
    result = CliRunner().invoke(cli, ["page", url, "--db", str(db_path), "--delay", "0"])
    assert result.exit_code == 0, result.output
    db = open_db(str(db_path))
    post = next(db.query("SELECT * FROM posts"))
    assert post["id"] == "blog:localhost:/posts/robust-ml-2"
    assert (post["kind"], post["title"], post["author"]) == ("blog", "Robust ML, part 2",
                                                            "Jacob Example")
    assert post["posted_at"] == "2022-04-10T13:30:00Z"
    assert post["body_text"].count("Yaodong Yu") == 1
    assert "## Robustness" in post["body_markdown"]
    site = next(db.query("SELECT * FROM sites WHERE id = ?", [post["site_id"]]))
    assert site["kind"] == "blog"
    headings = [r["heading"] for r in db.query(
        "SELECT heading FROM post_sections WHERE post_id = ? ORDER BY position", [post["id"]])]
    assert headings == [None, "Robustness", "Predicting Out-of-Distribution Error",
                        "Science of ML"]
    run = next(db.query("SELECT command, status, new FROM runs"))
    assert run == {"command": "page", "status": "ok", "new": 1}


def test_page_again_is_unchanged_and_edit_keeps_the_old_version(httpserver, http, tmp_path):
    db = open_db(str(tmp_path / "a.db"))
    httpserver.expect_ordered_request("/a").respond_with_data(article_html(), content_type="text/html")
    httpserver.expect_ordered_request("/a").respond_with_data(article_html(), content_type="text/html")
    httpserver.expect_ordered_request("/a").respond_with_data(
        article_html("<p>Update: we added a section on calibration to this post.</p>"),
        content_type="text/html")
    url = httpserver.url_for("/a")
    assert archive_page(db, http, url)[0].new == 1
    assert archive_page(db, http, url)[0].unchanged == 1
    counts, _post = archive_page(db, http, url)
    assert counts.updated == 1
    assert db.execute("SELECT COUNT(*) FROM item_versions").fetchone()[0] == 1
    body = db.execute("SELECT body_text FROM posts").fetchone()[0]
    assert "calibration" in body


def test_page_with_no_article_is_a_clear_error(httpserver, tmp_path):
    httpserver.expect_request("/empty").respond_with_data(
        "<html><body><nav><a href='/'>Home</a></nav></body></html>", content_type="text/html")
    result = CliRunner().invoke(cli, ["page", httpserver.url_for("/empty"),
                                      "--db", str(tmp_path / "a.db")])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no article found in")


def test_not_a_web_page_is_a_clear_error(httpserver, http, tmp_path):
    httpserver.expect_request("/paper.pdf").respond_with_data(b"%PDF-1.5", content_type="application/pdf")
    db = open_db(str(tmp_path / "a.db"))
    with pytest.raises(Exception, match="not a web page"):
        archive_page(db, http, httpserver.url_for("/paper.pdf"))


def test_bad_url_and_missing_article_errors():
    with pytest.raises(Exception, match="not a web page URL"):
        blog.check_url("ftp://example.org/x")
    with pytest.raises(NotFound):
        blog.extract_article("<html><body></body></html>", "https://x.org/")


def test_plain_text_article_gets_headings_and_sections():
    text = ("Intro paragraph that explains what this post is about and why it matters.\n\n"
            "Robustness\n\nA long paragraph about robustness and distribution shift, with "
            "enough words to be prose.\n\n### Details\n\nMore text about the details here.")
    article = blog.article_from_text(text)
    sections = blog.split_sections("p", article.body_html)
    assert [(s.heading, s.level) for s in sections] == [(None, 0), ("Robustness", 2),
                                                         ("Details", 3)]
