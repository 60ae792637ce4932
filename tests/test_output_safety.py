"""What archiver shows of upstream text: links only to http(s)/mailto, escaped Markdown and HTML,
nothing a terminal acts on; and summaries that survive odd archives (stub papers, ``$`` in
titles, items dated 0001 or 9999, one failing topic among many)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from archiver.analysis import report as R
from archiver.app.ingest import ingest
from archiver.kernel.display import (
    clean_terminal,
    html_link,
    md_escape,
    md_link,
    one_line,
    safe_json,
    safe_url,
)
from archiver.kernel.records import Comment, Page, Post
from archiver.store import open_db
from tests.fakes import forummagnum as fm
from tests.fakes import threads

# -- the helpers -------------------------------------------------------------------------------

BAD_URLS = [
    "javascript:alert(1)", " JaVaScRiPt:alert(1)", "\x01javascript:alert(1)", "java\tscript:x",
    "java\nscript:x", "vbscript:msgbox(1)", "data:text/html;base64,PHNjcmlwdD4=",
    "file:///etc/passwd", "//evil.example/x", "/relative/path", "relative.html", "https:evil",
    "https://", "https://[::1", "mailto:", "", None, 42, "https://ok.example/\x1b[2J",
]
GOOD_URLS = ["https://www.lesswrong.com/posts/abc/slug?commentId=x", "http://example.org",
             "HTTPS://EXAMPLE.ORG/A", "mailto:someone@example.org", "https://x.org/a_(b)"]


@pytest.mark.parametrize("url", BAD_URLS)
def test_only_http_and_mailto_urls_may_become_links(url):
    assert safe_url(url) is None
    assert md_link("label", url) == "label"
    assert html_link("label", url) == "label"


@pytest.mark.parametrize("url", GOOD_URLS)
def test_http_and_mailto_urls_stay_links(url):
    assert safe_url(url) == url
    assert md_link("label", url).startswith("[label](")
    assert html_link("label", url).startswith("<a href='")


def test_a_markdown_link_destination_cannot_be_broken_out_of():
    # ")" would end the destination early and leave "[x](javascript:...)" after it.
    link = md_link("t", "https://x.org/a) [x](javascript:alert(1)")
    assert link == "[t](https://x.org/a%29%20[x]%28javascript:alert%281%29)"
    assert [href for _, href in markdown_links(link)] == [
        "https://x.org/a%29%20%5Bx%5D%28javascript:alert%281%29"]


def test_markdown_escaping_keeps_titles_from_becoming_markup():
    title = "[x](javascript:alert(1)) ![i](javascript:2) <javascript:3> <b>b</b> # h | *e* `c`"
    rendered = render_markdown(md_escape(title))
    assert "<a" not in rendered and "<img" not in rendered and "<b>" not in rendered
    assert "<em>" not in rendered and "<code>" not in rendered
    assert BeautifulSoup(rendered, "html.parser").get_text().strip() == title


TERMINAL_ATTACKS = {
    "csi": "\x1b[2J\x1b[31mred\x1b[0m", "osc title": "\x1b]0;pwned\x07",
    "osc 8 link": "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",
    "c1 csi": "\x9b2J", "c1 osc": "\x9d0;pwned\x9c", "carriage return": "fake\rreal",
    "backspace": "abc\x08\x08", "bell": "\x07", "bidi override": "\u202egnp.exe\u202c",
    "bidi isolate": "\u2066x\u2069", "dcs": "\x1bPq#0\x1b\\",
}
TERMINAL_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize("attack", list(TERMINAL_ATTACKS.values()), ids=list(TERMINAL_ATTACKS))
def test_clean_terminal_leaves_nothing_a_terminal_acts_on(attack):
    cleaned = clean_terminal(f"before {attack} after\n\tnext line")
    assert not TERMINAL_UNSAFE.search(cleaned)
    assert cleaned.startswith("before ") and cleaned.endswith(" after\n\tnext line")
    assert "\n" not in one_line(f"a\n{attack}\nb")


def test_json_output_escapes_what_a_terminal_acts_on_and_loses_nothing():
    value = {"title": "".join(TERMINAL_ATTACKS.values()) + "\u2028ok"}
    line = safe_json(value)
    assert not TERMINAL_UNSAFE.search(line) and "\n" not in line
    assert json.loads(line) == value


# -- a hostile thread archived through the fake ForumMagnum -----------------------------------

HOSTILE_ID = "hostile000000001"
PAGE_URL = "javascript:alert(document.cookie)//"
TITLE = ("[click me](javascript:alert(1)) <img src=x onerror=alert(2)> costs $x^{$ "
         "\x1b]0;pwned\x07\x1b[2J\u202eend")
EVE = fm.user("eveid00000000001", "eve", "Eve\x1b[31m\u202e<script>alert(3)</script>")
BOB = fm.user("bobid00000000001", "bob", "Bob [b](javascript:alert(4))")
TAG = {"_id": "tagHOSTILE00001", "name": "SAE \x1b[2J$\\frac{$ tag", "slug": "hostile-tag"}
CLAIM = "Sparse autoencoders recover every interpretable feature of the residual stream."


def hostile_thread(forum: fm.FakeForum) -> None:
    """A post whose pageUrl is javascript:, so every comment URL is too, with a hostile title,
    author names and tag, a quoting reply (an exchange) and an arXiv mention (a stub paper)."""
    forum.posts[HOSTILE_ID] = fm.post(
        HOSTILE_ID, "hostile", EVE,
        f"<p>{CLAIM} Dictionary learning on transformer activations finds monosemantic features "
        "in every layer we examined.</p><p>Literal text [x](javascript:alert(5)) and "
        "<code>&lt;img src=x onerror=alert(6)&gt;</code> stay text.</p>",
        pageUrl=PAGE_URL, tags=[TAG], commentCount=3)
    forum.posts[HOSTILE_ID]["title"] = TITLE
    forum.comments += [
        fm.comment("hc00000000000001", HOSTILE_ID, BOB,
                   f"<blockquote><p>{CLAIM}</p></blockquote><p>Sparse autoencoders miss rare "
                   "features, so dictionary learning on activations is far from solved.</p>",
                   fm.stamp(1)),
        fm.comment("hc00000000000002", HOSTILE_ID, EVE,
                   "<p>The gated architecture in arXiv:2404.16014 reduces shrinkage of feature "
                   "activations in sparse autoencoders.</p>", fm.stamp(2),
                   parent="hc00000000000001"),
        fm.comment("hc00000000000003", HOSTILE_ID, BOB,
                   "<p>Feature splitting appears when the sparse autoencoder dictionary grows "
                   "larger than the model's width.</p>", fm.stamp(3)),
    ]


@pytest.fixture
def hostile(forum, endpoint, cli_run):
    hostile_thread(forum)
    result = cli_run("thread", f"lesswrong:{HOSTILE_ID}", "--endpoint", endpoint, "--delay", "0")
    assert result.exit_code == 0, result.output
    return cli_run


def render_markdown(text: str) -> str:
    """CommonMark (raw HTML allowed) that renders every link as written, so the test sees what a
    laxer renderer would make of archiver's Markdown."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark")
    md.validateLink = lambda url: True
    return md.render(text)


def markdown_links(text: str) -> list[tuple[str, str]]:
    return html_links(render_markdown(text))


def html_links(page: str) -> list[tuple[str, str]]:
    """(tag, URL) of everything in the page that links or loads something."""
    found = []
    for element in BeautifulSoup(page, "html.parser").find_all(True):
        for name in ("href", "src", "action", "formaction", "background", "poster"):
            if element.get(name) is not None:
                found.append((element.name, element[name]))
    return found


def assert_safe_page(page: str, where: str, chart: str | None) -> list[str]:
    """Only http(s)/mailto links, the chart the only image, no upstream tags or handlers;
    returns the links."""
    soup = BeautifulSoup(page, "html.parser")
    for element in soup.find_all(True):
        assert element.name not in ("script", "iframe", "object", "embed", "svg", "form"), where
        assert not any(a.lower().startswith("on") for a in element.attrs), (where, str(element))
    links = []
    for tag, url in html_links(page):
        if tag == "img":
            assert chart and url.startswith(chart), (where, url)
            continue
        assert re.match(r"(https?://|mailto:)", url, re.I), (where, tag, url)
        links.append(url)
    assert "javascript:" not in " ".join(links).lower()
    return links


def test_a_javascript_page_url_never_becomes_a_link_in_any_report_format(hostile, tmp_path):
    out = tmp_path / "digests"
    written = hostile("summarize", "--thread", f"lesswrong:{HOSTILE_ID}", "--out", str(out))
    assert written.exit_code == 0, written.output
    markdown = next(out.glob("*.md")).read_text()
    page = next(out.glob("*.html")).read_text()
    saved = next(out.glob("*.json")).read_text()
    assert json.loads(saved)["title"] == TITLE and not TERMINAL_UNSAFE.search(saved)
    stdout_md = hostile("summarize", "--thread", f"lesswrong:{HOSTILE_ID}").stdout
    stdout_html = hostile("summarize", "--thread", f"lesswrong:{HOSTILE_ID}", "--format",
                          "html").stdout
    data = json.loads(hostile("summarize", "--thread", f"lesswrong:{HOSTILE_ID}", "--format",
                              "json").stdout)
    # Not vacuous: the report has sentences whose source URL is javascript:, and the thread.
    assert data["summary"] and all(s["source_url"].startswith("javascript:")
                                   for s in data["summary"])
    assert data["threads"][0]["url"] == PAGE_URL and data["exchanges"]["quotes"]
    for where, text in (("file.md", markdown), ("stdout.md", stdout_md)):
        links = assert_safe_page(render_markdown(text), where, chart="thread-")
        assert links == ["https://arxiv.org/abs/2404.16014"]  # safe links are still links
        assert "click me" in text and "arXiv:2404.16014" in text
    for where, text in (("file.html", page), ("stdout.html", stdout_html)):
        links = assert_safe_page(text, where, chart="data:image/png;base64,")
        assert links == ["https://arxiv.org/abs/2404.16014"]
        assert "[click me](javascript:alert(1))" in BeautifulSoup(text, "html.parser").h1.text


def test_the_stored_report_has_no_unsafe_link_either(hostile, tmp_path):
    hostile("summarize", "--thread", f"lesswrong:{HOSTILE_ID}", "--save")
    db = open_db(str(tmp_path / "archive.db"))
    markdown, page = db.execute("SELECT markdown, html FROM summaries").fetchone()
    assert_safe_page(render_markdown(markdown), "summaries.markdown", chart="thread-")
    assert_safe_page(page, "summaries.html", chart="data:image/png;base64,")


def test_exchanges_markdown_makes_no_unsafe_link(hostile):
    result = hostile("exchanges", "--post", f"lesswrong:{HOSTILE_ID}", "--format", "markdown")
    assert result.exit_code == 0 and "quoted" in result.stdout
    assert assert_safe_page(render_markdown(result.stdout), "exchanges", chart=None) == []
    assert "Bob \\[b\\](javascript:alert(4))" in result.stdout  # the name, as text


def test_datasette_pages_of_the_hostile_archive_make_no_unsafe_link(hostile, tmp_path):
    """Datasette links only http(s) cell values and the Markdown plugin drops other schemes;
    this keeps it so for archiver's metadata, views, canned queries and stored reports."""
    pytest.importorskip("datasette")
    pytest.importorskip("datasette_render_markdown")
    import asyncio

    from datasette.app import Datasette
    from datasette.utils import tilde_encode

    from archiver.app import datasette as ds

    assert hostile("summarize", "--thread", f"lesswrong:{HOSTILE_ID}", "--save").exit_code == 0
    path = tmp_path / "archive.db"
    db = open_db(str(path))
    metadata = ds.build_metadata(db, "archive")
    db.close()
    datasette = Datasette([str(path)], metadata=metadata)
    pages = ["/archive/posts", "/archive/posts/" + tilde_encode(f"lesswrong:{HOSTILE_ID}"),
             "/archive/comments", "/archive/exchanges_view", "/archive/summaries",
             "/archive/summaries/1", "/archive/mention_details", "/archive/users",
             "/archive/latest_summary_per_topic",
             "/archive/threads_with_new_comments?since=2000-01-01"]

    async def fetch():
        await datasette.invoke_startup()
        return [await datasette.client.get(p) for p in pages]

    for page, response in zip(pages, asyncio.run(fetch())):
        assert response.status_code == 200, page
        for tag, url in html_links(response.text):
            assert not re.sub(r"[\s\x00-\x1f]", "", url).lower().startswith(
                ("javascript:", "data:text", "vbscript:")), (page, tag, url)


def test_terminal_output_carries_no_escape_sequence_or_control(hostile):
    commands = [
        ("search", "sparse autoencoders"), ("stats",), ("exchanges",),
        ("exchanges", "--format", "markdown"),
        ("exchanges", "--post", f"lesswrong:{HOSTILE_ID}", "--hot"), ("topics",),
        ("summarize", "--thread", f"lesswrong:{HOSTILE_ID}"), ("papers",), ("mentions",),
        ("summarize", TAG["name"]),
    ]
    for args in commands:
        result = hostile(*args)
        assert result.exit_code == 0, (args, result.output)
        assert not TERMINAL_UNSAFE.search(result.output), (args, result.output)
    shown = hostile("search", "sparse autoencoders").stdout
    assert "costs $x^{$" in shown and "Eve" in shown  # the text is shown, its controls are not


def test_every_command_prints_through_the_cleaning_echo():
    """One printing path: a new command that calls click.echo or print directly would skip it."""
    import archiver.cli

    folder = Path(archiver.cli.__file__).parent
    direct = [f"{path.name}:{n}" for path in sorted(folder.glob("*.py")) if path.name != "common.py"
              for n, line in enumerate(path.read_text().splitlines(), 1)
              if re.search(r"\bclick\.echo\(|(?<![\w.])print\(|\.write\(", line)]
    assert direct == []


def test_the_thread_command_prints_a_hostile_title_cleanly(forum, endpoint, cli_run):
    hostile_thread(forum)
    result = cli_run("thread", f"lesswrong:{HOSTILE_ID}", "--endpoint", endpoint, "--delay", "0")
    assert result.exit_code == 0
    assert "[click me](javascript:alert(1)) <img src=x onerror=alert(2)> costs $x^{$ end: 4 new" \
        in result.output
    assert not TERMINAL_UNSAFE.search(result.output)


def test_json_lines_stay_exact_and_safe(hostile, tmp_path):
    lines = hostile("search", "sparse autoencoders", "--json").stdout.splitlines()
    assert lines
    for line in lines:
        assert not TERMINAL_UNSAFE.search(line)
    titles = {json.loads(line)["title"] for line in lines}
    assert TITLE in titles  # the data is exact for whoever parses it


def test_export_to_stdout_is_escaped_like_every_json_output_and_imports_exactly(hostile,
                                                                              tmp_path):
    exported = hostile("export", "--thread", f"lesswrong:{HOSTILE_ID}").stdout
    assert "\\u202e" in exported  # the bidi override is there, as an escape
    assert not TERMINAL_UNSAFE.search(exported)
    (tmp_path / "thread.jsonl").write_text(exported, encoding="utf-8")
    copy = tmp_path / "copy.db"
    assert hostile("import", str(tmp_path / "thread.jsonl"), "--db", str(copy)).exit_code == 0
    title = open_db(str(copy)).execute("SELECT title FROM posts WHERE id = ?",
                                       [f"lesswrong:{HOSTILE_ID}"]).fetchone()[0]
    assert title == TITLE


def test_an_upstream_error_message_is_printed_cleanly(httpserver, cli_run):
    httpserver.expect_request("/graphql", method="POST").respond_with_json(
        {"errors": [{"message": "\x1b]0;pwned\x07\x1b[2Jdocument not found\u202e"}],
         "data": None})
    result = cli_run("thread", f"lesswrong:{HOSTILE_ID}", "--endpoint",
                     httpserver.url_for("/graphql"), "--delay", "0")
    assert result.exit_code != 0 and result.output.startswith("error:")
    assert not TERMINAL_UNSAFE.search(result.output)


# -- summaries on odd archives -----------------------------------------------------------------


@pytest.fixture
def archive(tmp_path):
    db = open_db(str(tmp_path / "archive.db"))
    threads.build(db)
    return db


def add(db, *posts: Post, comments: tuple[Comment, ...] = ()) -> None:
    ingest(db, [Page(sites=[threads.SITE], posts=list(posts), comments=list(comments))],
           "test", "odd")


def odd_post(post_id: str, posted_at: str, title: str = "Odd", tags=(threads.INTERP,),
             body: str = "Sparse autoencoders recover interpretable features in every layer."):
    return Post(id=f"lesswrong:{post_id}", site_id="lesswrong", source_id=post_id, title=title,
                url=f"https://www.lesswrong.com/posts/{post_id}/s", author="alice",
                posted_at=posted_at, tags=list(tags), body_html=f"<p>{body}</p>")


def every_format(cli_run, *args: str, out: Path) -> dict:
    """Run summarize in every format and with --out; return the outputs (all must succeed)."""
    outputs = {}
    for fmt in ("markdown", "html", "json"):
        result = cli_run("summarize", *args, "--format", fmt)
        assert result.exit_code == 0, (fmt, result.output)
        assert "Traceback" not in result.output
        outputs[fmt] = result.stdout
    written = cli_run("summarize", *args, "--out", str(out))
    assert written.exit_code == 0, written.output
    outputs["files"] = sorted(p.name for p in out.iterdir())
    return outputs


def test_a_stub_paper_without_title_is_shown_by_its_arxiv_id_or_doi(archive, cli_run, tmp_path):
    add(archive, odd_post("stubs", "2024-01-09T00:00:00Z",
                          body="Gated sparse autoencoders (arXiv:2404.16014) and "
                               "doi:10.1234/example.5678 both reduce shrinkage."))
    stubs = archive.execute("SELECT id, title, stub FROM papers ORDER BY id").fetchall()
    assert [(t, s) for _, t, s in stubs] == [(None, 1), (None, 1)]
    shown = every_format(cli_run, "Interpretability (ML & AI)", out=tmp_path / "out")
    for fmt in ("markdown", "html"):
        assert "arXiv:2404.16014" in shown[fmt] and "doi:10.1234/example.5678" in shown[fmt]
    papers = json.loads(shown["json"])["papers"]
    assert {p["label"] for p in papers} == {"arXiv:2404.16014", "doi:10.1234/example.5678"}
    assert {p["title"] for p in papers} == {None}  # the data says what is known: no title yet


def test_an_upstream_paper_url_is_checked_like_any_other(archive):
    from archiver.kernel.records import Paper
    from archiver.store.papers import save_papers

    save_papers(archive, [Paper(source="openalex", source_id="W1", title="A Hostile Paper",
                                url="javascript:alert('paper')")])
    paper_id = archive.execute("SELECT id FROM papers").fetchone()[0]
    archive["mentions"].insert({"item_table": "posts", "item_id": "lesswrong:interp0",
                                "paper_id": paper_id, "how": "title"})
    report = R.make_reports(archive, topic="Interpretability (ML & AI)", store=False)[0][0]
    assert report.data["papers"][0]["url"] == "javascript:alert('paper')"  # kept as data
    assert "- A Hostile Paper (1 mentions)" in report.markdown
    assert "<li>A Hostile Paper (1 mentions)" in report.html  # text, not a link
    assert_safe_page(render_markdown(report.markdown), "markdown", chart="interpretability")
    assert_safe_page(report.html, "html", chart="data:image/png;base64,")


def test_dollar_signs_in_a_topic_name_or_title_are_plain_chart_text(archive, cli_run, tmp_path):
    add(archive, odd_post("dollars", "2024-01-09T00:00:00Z", title="Costs $x^{$ and $\\frac{$"))
    added = cli_run("topics", "add", "Budget $x^{$ sparse", "--match", "sparse autoencoder")
    assert added.exit_code == 0, added.output
    shown = every_format(cli_run, "Budget $x^{$ sparse", out=tmp_path / "topic")
    assert "budget-x-sparse-activity.png" in shown["files"]
    shown = every_format(cli_run, "--thread", "lesswrong:dollars", out=tmp_path / "thread")
    assert "thread-costs-x-and-frac-activity.png" in shown["files"]
    assert "Costs $x^{$ and $\\frac{$" in json.loads(shown["json"])["title"]


@pytest.mark.parametrize("posted_at", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_items_dated_at_the_ends_of_the_calendar_do_not_break_the_chart(archive, cli_run,
                                                                        tmp_path, posted_at):
    add(archive, odd_post("edge", posted_at))
    shown = every_format(cli_run, "Interpretability (ML & AI)", out=tmp_path / "topic")
    assert "interpretability-ml-ai-activity.png" in shown["files"]
    activity = json.loads(shown["json"])["activity"]
    assert activity[0]["period"][:4] == "0001" or activity[-1]["period"][:4] == "9999"
    assert every_format(cli_run, "--thread", "lesswrong:edge", out=tmp_path / "thread")["files"]


def test_one_failing_topic_does_not_stop_summarize_all(archive, cli_run, tmp_path, monkeypatch):
    real_chart = R.chart

    def chart(points, title):
        if title == "Reward Hacking":
            raise RuntimeError("the chart broke")
        return real_chart(points, title)

    monkeypatch.setattr(R, "chart", chart)
    out = tmp_path / "all"
    result = cli_run("summarize", "--all", "--out", str(out))
    assert result.exit_code == 3
    assert "Traceback" not in result.output
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: 1 topic report(s) failed (Reward Hacking: RuntimeError: "
                            "the chart broke)")
    assert sorted(p.name for p in out.glob("*.md")) == ["forecasting.md",
                                                       "interpretability-ml-ai.md"]
    stored = archive.execute("SELECT topic_name FROM summaries ORDER BY topic_name").fetchall()
    assert stored == [("Forecasting",), ("Interpretability (ML & AI)",)]
    as_json = cli_run("summarize", "--all", "--format", "json")
    assert as_json.exit_code == 3
    assert json.loads(as_json.stdout)["failed"] == [
        "Reward Hacking: RuntimeError: the chart broke"]


def test_every_topic_failing_is_exit_1(archive, cli_run, monkeypatch):
    monkeypatch.setattr(R, "chart", lambda points, title: 1 / 0)
    result = cli_run("summarize", "--all")
    assert result.exit_code == 1 and result.stderr.startswith("error: every topic report failed")


def test_one_topic_or_thread_still_raises_its_error(archive, monkeypatch):
    monkeypatch.setattr(R, "chart", lambda points, title: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        R.make_reports(archive, topic="Forecasting", failures=[])


def test_topics_whose_names_make_the_same_file_name_keep_their_own_files(archive, cli_run,
                                                                         tmp_path):
    for name, match in (("Интерпретируемость", "sparse autoencoder"), ("Прогнозы", "forecast")):
        assert cli_run("topics", "add", name, "--match", match).exit_code == 0
    out = tmp_path / "all"
    result = cli_run("summarize", "--all", "--out", str(out))
    assert result.exit_code == 0, result.output
    markdown_files = [line for line in result.stdout.splitlines() if line.endswith(".md")]
    assert len(markdown_files) == len(set(markdown_files)) == 5
    titles = {Path(f).read_text().splitlines()[0] for f in markdown_files}
    assert {"# Интерпретируемость", "# Прогнозы"} <= titles
