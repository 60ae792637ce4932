"""Summaries: extractive, sourced sentence by sentence, quotes excluded; reports and --llm."""

from __future__ import annotations

import base64
import json
import sys

import pytest

from archiver.analysis import report as R
from archiver.analysis import summarize as S
from archiver.kernel.errors import NotFound, UsageError
from archiver.kernel.records import Comment, Post
from archiver.store import open_db
from tests.fakes import threads

QUOTED = "Scaling laws guarantee that sparse autoencoders recover every true feature."


@pytest.fixture
def db(tmp_path):
    database = open_db(str(tmp_path / "archive.db"))
    threads.build(database)
    # A reply that quotes a claim it disagrees with, and a cross-post of an existing post.
    threads.add(database, posts=[Post(
        id="lesswrong:claim", site_id="lesswrong", source_id="claim", author="alice",
        url="https://www.lesswrong.com/posts/claim/s", title="A bold claim", score=90,
        posted_at="2024-01-20T00:00:00Z", tags=[threads.INTERP],
        body_html=f"<p>{QUOTED} Dictionary learning is therefore solved.</p>")], comments=[Comment(
            id="lesswrong:reply", site_id="lesswrong", source_id="reply", author="bob",
            post_id="lesswrong:claim", posted_at="2024-01-21T00:00:00Z", score=40,
            url="https://www.lesswrong.com/posts/claim/s?commentId=reply",
            body_html=f"<blockquote><p>{QUOTED}</p></blockquote><p>Sparse autoencoders miss rare "
                      "features, so dictionary learning on activations is far from solved.</p>")])
    return database


def body_of(db, item_id: str) -> str:
    row = db.execute("SELECT body_text FROM comments WHERE id = ? UNION ALL "
                     "SELECT title || ' ' || body_text FROM posts WHERE id = ?",
                     [item_id, item_id]).fetchone()
    return row[0]


def test_every_sentence_comes_from_its_source_item(db):
    summary = S.summarize_topic(db, "Interpretability (ML & AI)", sentences=6)
    assert len(summary.sentences) == 6
    for unit in summary.sentences:
        data = unit.as_dict()
        assert data["source_id"] and data["source_url"].startswith("https://www.lesswrong.com/")
        assert data["author"]
        assert data["text"] in " ".join(body_of(db, unit.source_id).split())


def test_a_quote_is_never_attributed_to_the_quoter(db):
    summary = S.summarize_thread(db, "lesswrong:claim", sentences=5)
    pairs = {(u.text, u.author) for u in summary.sentences}
    assert (QUOTED, "bob") not in pairs
    assert any(author == "bob" for _, author in pairs)  # bob's own words are eligible
    units = S._units(S._thread_items(db, "lesswrong:claim", None, None, 100))
    assert not [u for u in units if u.author == "bob" and u.text == QUOTED]


def test_summaries_are_deterministic_and_keep_reading_order(db):
    first = [u.as_dict() for u in S.summarize_topic(db, "Reward Hacking").sentences]
    second = [u.as_dict() for u in S.summarize_topic(db, "Reward Hacking").sentences]
    assert first == second
    assert [u["posted_at"] for u in first] == sorted(u["posted_at"] for u in first)


def test_near_duplicates_and_cross_posts_appear_once(db):
    # A cross-post of an interpretability post on another thread repeats its sentences.
    post, _ = threads.theme_posts("interp", 1, 1)
    copy = post[0]
    copy.id, copy.source_id, copy.url = "lesswrong:copy", "copy", "https://www.lesswrong.com/c"
    copy.posted_at = "2024-01-30T00:00:00Z"
    threads.add(db, posts=[copy])
    texts = [u.text for u in S.summarize_topic(db, "Interpretability (ML & AI)", 10).sentences]
    assert len(texts) == len(set(texts))
    lowered = [t.lower() for t in texts]
    assert not [t for t in lowered if f"i think {t}" in lowered]  # "I think X" vs "X"


def test_rank_prefers_central_diverse_sentences_within_budget():
    units = [S.Unit(t, f"x:{i}", order=i) for i, t in enumerate([
        "Reward models are exploited by the policy during RLHF training runs.",
        "The policy exploits reward models during RLHF training runs, again.",
        "Reward models get exploited by RLHF policies during training runs.",
        "Bananas are yellow and grow in tropical climates around the world.",
        "KL penalties limit how far RLHF policies drift from the reference model.",
    ])]
    picked = S.rank(units, count=2, max_chars=None)
    assert len(picked) == 2 and "Bananas" not in " ".join(u.text for u in picked)
    texts = [u.text for u in picked]
    assert not ({units[0].text, units[1].text} <= set(texts))  # no near-duplicate pair
    budget = S.rank(units, count=5, max_chars=140)
    assert sum(len(u.text) for u in budget) <= 140


def test_period_filters_items(db):
    summary = S.summarize_topic(db, "Forecasting", since="2024-03-03", until="2024-03-03")
    assert summary.sentences
    assert {u.posted_at[:10] for u in summary.sentences} == {"2024-03-03"}
    assert S.summarize_topic(db, "Forecasting", since="2025-01-01").sentences == []


def test_unknown_topic_and_post_are_clear_errors(db, cli_run):
    with pytest.raises(NotFound):
        S.summarize_topic(db, "Nope")
    with pytest.raises(NotFound, match="archiver thread"):
        S.summarize_thread(db, "lesswrong:nope")
    result = cli_run("summarize", "Nope")
    assert result.exit_code == 1 and result.output.startswith("error: no topic 'Nope'")
    both = cli_run("summarize", "Forecasting", "--all")
    assert both.exit_code == 2 and "exactly one" in both.output
    bad = cli_run("summarize", "Forecasting", "--since", "last week")
    assert bad.exit_code == 2 and "--since takes a date" in bad.output


def test_cli_json_carries_a_source_for_every_sentence(db, cli_run):
    out = json.loads(cli_run("summarize", "Reward Hacking", "--format", "json",
                             "--sentences", "4").stdout)
    assert len(out["summary"]) == 4
    for sentence in out["summary"]:
        assert set(sentence) >= {"text", "source_id", "source_url", "author"}
        assert all(sentence[k] for k in ("text", "source_id", "source_url", "author"))
    assert out["topic"]["name"] == "Reward Hacking" and out["method"] == "lexrank-mmr"
    thread = json.loads(cli_run("summarize", "--thread",
                                "https://www.lesswrong.com/posts/claim/s", "--format",
                                "json").stdout)
    assert thread["post_id"] == "lesswrong:claim"


def test_report_markdown_html_png_and_summaries_row(db, tmp_path):
    out = tmp_path / "digests"
    reports, warnings = R.make_reports(db, thread="lesswrong:claim", out_dir=str(out))
    report = reports[0]
    assert warnings == []
    names = sorted(p.name for p in out.iterdir())
    assert names == ["thread-a-bold-claim-activity.png", "thread-a-bold-claim.html",
                     "thread-a-bold-claim.json", "thread-a-bold-claim.md"]
    markdown = (out / "thread-a-bold-claim.md").read_text()
    summary_lines = [line for line in markdown.splitlines() if line[:2] in ("1.", "2.")]
    assert summary_lines and all("](https://www.lesswrong.com/" in line for line in summary_lines)
    assert "![Activity over time](thread-a-bold-claim-activity.png)" in markdown
    assert "## Top contributors" in markdown and "## Threads, most important first" in markdown
    page = (out / "thread-a-bold-claim.html").read_text()
    encoded = page.split("data:image/png;base64,")[1].split("'")[0]
    assert base64.b64decode(encoded)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "src='http" not in page and "<script" not in page  # self-contained, no scripts
    assert (out / "thread-a-bold-claim-activity.png").read_bytes()[:4] == b"\x89PNG"
    row = db.execute("SELECT post_id, method, markdown, json FROM summaries WHERE id = ?",
                     [report.summary_id]).fetchone()
    assert row[0] == "lesswrong:claim" and row[1] == "lexrank-mmr" and row[2] == markdown
    assert json.loads(row[3])["summary"] == report.data["summary"]


def test_report_shows_key_exchanges_and_papers(db):
    from archiver.kernel.records import Paper, PaperAuthor
    from archiver.store.papers import save_papers

    save_papers(db, [Paper(source="arxiv", source_id="2309.08600", arxiv_id="2309.08600",
                           title="Sparse Autoencoders Find Highly Interpretable Features",
                           authors=[PaperAuthor("Hoagy Cunningham", 0),
                                    PaperAuthor("Aidan Ewart", 1)])])
    paper_id = db.execute("SELECT id FROM papers").fetchone()[0]
    db["mentions"].insert({"item_table": "comments", "item_id": "lesswrong:reply",
                           "paper_id": paper_id, "how": "title"})
    report = R.make_reports(db, topic="Interpretability (ML & AI)", store=False)[0][0]
    quotes = report.data["exchanges"]["quotes"]
    assert quotes and quotes[0]["quote"].startswith("Scaling laws") and quotes[0]["repliers"] == ["bob"]
    assert {"replier": "bob", "quoted": "alice", "times": 1} in report.data["exchanges"]["pairs"]
    assert report.data["papers"][0]["authors"] == ["Hoagy Cunningham", "Aidan Ewart"]
    assert "## Key exchanges" in report.markdown and "## Papers discussed" in report.markdown
    assert "Hoagy Cunningham, Aidan Ewart" in report.html


def test_summarize_all_writes_one_report_per_active_topic(db, cli_run, tmp_path):
    out = tmp_path / "all"
    result = cli_run("summarize", "--all", "--since", "2024-02-01", "--out", str(out))
    written = [line for line in result.output.splitlines() if line.endswith(".md")]
    assert sorted(p.rsplit("/", 1)[1] for p in written) == ["forecasting.md", "reward-hacking.md"]
    stored = db.execute("SELECT count(*) FROM summaries WHERE period_start = '2024-02-01'")
    assert stored.fetchone()[0] == 2


# -- --llm -------------------------------------------------------------------------------------


@pytest.fixture
def fake_llm(monkeypatch, tmp_path):
    llm = pytest.importorskip("llm")
    monkeypatch.setenv("LLM_USER_PATH", str(tmp_path / "llm"))  # no stored keys or aliases
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    prompts = []

    class FakeSummary(llm.Model):
        model_id = "fake-summary"

        def execute(self, prompt, stream, response, conversation):
            prompts.append(prompt.prompt)
            yield "The thread debates whether dictionary learning is solved [1], and bob "
            yield "argues that rare features are missed [2] [99]."

    class Plugin:
        __name__ = "FakeSummaryPlugin"

        @llm.hookimpl
        def register_models(self, register):
            register(FakeSummary())

    llm.pm.register(Plugin(), name="fake-summary-plugin")
    yield prompts
    llm.pm.unregister(name="fake-summary-plugin")


def test_llm_summary_is_grounded_in_the_extracted_sentences(db, cli_run, fake_llm):
    result = cli_run("summarize", "--thread", "lesswrong:claim", "--format", "json",
                     "--sentences", "3", "--llm", "fake-summary")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["abstract"]["model"] == "fake-summary"
    assert set(out["abstract"]["citations"]) == {"1", "2"}  # [99] cites nothing: dropped
    assert out["abstract"]["citations"]["1"] == out["summary"][0]
    assert all(f"[{i}] " in fake_llm[0] for i in (1, 2, 3))
    assert out["summary"][0]["text"] in fake_llm[0]
    markdown = cli_run("summarize", "--thread", "lesswrong:claim", "--llm", "fake-summary").output
    assert f"[\\[1\\]]({out['summary'][0]['source_url']})" in markdown


def test_llm_unknown_model_or_missing_key_falls_back_with_one_warning(db, cli_run, fake_llm):
    result = cli_run("summarize", "--all", "--format", "json", "--llm", "no-such-model")
    assert result.exit_code == 0
    assert result.stderr.count("warning:") == 1 and "unknown llm model" in result.stderr
    assert all(r["summary"] and "abstract" not in r for r in json.loads(result.stdout)["reports"])
    keyless = cli_run("summarize", "Forecasting", "--llm", "gpt-4o-mini")
    assert keyless.stderr.count("warning:") == 1 and "key" in keyless.stderr.lower()
    assert "## Summary" in keyless.stdout


def test_llm_library_missing_falls_back(db, monkeypatch):
    monkeypatch.setitem(sys.modules, "llm", None)
    summary = S.summarize_topic(db, "Forecasting")
    warnings = S.add_abstract([summary], "anything")
    assert warnings == ["the llm library is not installed (pip install 'archiver[llm]'); "
                        "showing the extractive summary only"]
    assert summary.abstract is None and summary.sentences


def test_sentences_must_be_positive(db):
    with pytest.raises(UsageError):
        R.make_reports(db, topic="Forecasting", sentences=0)


def test_courtesies_are_not_summary_material():
    units = S.units_from_text("Thanks for writing this up! Great post. Goodhart's law bites hard "
                              "when the reward model is optimised against.", "x:1")
    assert [u.text for u in units] == [
        "Goodhart's law bites hard when the reward model is optimised against."]
