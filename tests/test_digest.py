"""Digests worth reading: stances, debates, disputed claims, standalone sentences, sentence choice,
threads by importance. The demo archive holds the gating debate the digest must show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archiver.analysis import report as R
from archiver.analysis import stance
from archiver.analysis import summarize as S
from archiver.app.demo import build_demo
from archiver.store import open_db

LABELLED = Path(__file__).parent / "data" / "stance_labelled.jsonl"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    build_demo(str(path), report_dir=None)
    db = open_db(str(path))
    report = R.make_reports(db, topic="Sparse autoencoders", store=False)[0][0]
    yield db, report
    db.close()


# -- the stance classifier ---------------------------------------------------------------------


def test_stance_classifier_on_the_labelled_set():
    rows = [json.loads(line) for line in LABELLED.read_text().splitlines()]
    assert {r["stance"] for r in rows} == set(stance.STANCES) and len(rows) >= 140
    # dev/test were written with the rules; tune and heldout are real-style replies labelled
    # before the rules saw them (heldout never used to write a rule).
    bars = {"dev": 0.9, "test": 0.9, "tune": 0.75, "heldout": 0.7}
    for split, bar in bars.items():
        part = [r for r in rows if r["split"] == split]
        right = sum(stance.classify(r["reply"], r["quote"]) == r["stance"] for r in part)
        assert right / len(part) >= bar, split
    # The error the issue names: agreement taken for pushback (1 of 27 on the whole set).
    agreeing = [r for r in rows if r["stance"] == "agrees"]
    wrong = sum(stance.classify(r["reply"]) == "disputes" for r in agreeing)
    assert wrong / len(agreeing) <= 0.05


@pytest.mark.parametrize("reply, expected", [
    ("Agreed with Chen here. Even untied, the threshold is trained.", "agrees"),
    (":-|", "refines"),
    ("I think this overstates it.", "disputes"),
    ("Right, but at matched sparsity the gap comes back.", "disputes"),
    ("Which tokenizer did you use?", "asks"),
    ("> quoted again\n\nNo. It misses rare features.", "disputes"),
    ("", "refines"),
])
def test_stance_of_typical_openings(reply, expected):
    assert stance.classify(reply) == expected


# -- the demo digest: the gating debate --------------------------------------------------------


def test_demo_digest_shows_the_gating_debate_as_a_debate(demo):
    _, report = demo
    first = report.data["debates"][0]
    assert first["claim"].startswith("Gating removes shrinkage entirely")
    assert first["claim_author"] == "Ada Quint" and first["claim_url"].startswith("https://")
    rebuttal = first["replies"][0]
    assert (rebuttal["author"], rebuttal["stance"]) == ("Chen Wei", "disputes")
    assert rebuttal["text"].startswith("I think this overstates it.")  # the reply's own text
    assert "commentId=demoCmtP1a000003" in rebuttal["url"]
    responses = {r["author"]: r["stance"] for r in rebuttal["responses"]}
    assert responses == {"Dara Hollis": "disputes", "Ben Okoro": "agrees"}
    # Each reply appears once: the nested exchanges are not repeated as debates of their own.
    shown = [t["id"] for d in report.data["debates"] for t in d["replies"]]
    assert len(shown) == len(set(shown))
    # Two replies quoting more or less of one sentence argue about one claim.
    gating = [d for d in report.data["debates"] if "Gating removes" in d["claim"]]
    assert len(gating) == 1 and gating[0]["claim"].endswith("at the same sparsity.")
    assert {t["author"] for t in gating[0]["replies"]} == {"Chen Wei"}
    assert "**[Chen Wei](" in report.markdown and "_disputes_: I think this overstates it" \
        in report.markdown


def test_disputed_overview_sentence_is_marked_with_who_and_a_link(demo):
    _, report = demo
    gating = [s for s in report.data["summary"] if s["text"].startswith("Gating removes")]
    assert gating, "the disputed claim is a finding of the post and is picked"
    assert [d["author"] for d in gating[0]["disputed_by"]] == ["Chen Wei"]
    assert "commentId=demoCmtP1a000003" in gating[0]["disputed_by"][0]["url"]
    assert "**(disputed by [Chen Wei](https://" in report.markdown
    assert "(disputed by <a href=" in report.html
    marked = {s["text"][:30]: [d["author"] for d in s["disputed_by"]]
              for s in report.data["summary"] if "disputed_by" in s}
    # Only sentences holding a passage that a disputing reply quoted: "Is that really
    # systematic?" answered "the L1 penalty pulls every active feature toward zero".
    for text, who in marked.items():
        assert who in (["Chen Wei"], ["Ben Okoro"]), text
    assert len(marked) < len(report.data["summary"])


def test_agreement_is_not_counted_as_pushback(demo):
    _, report = demo
    pairs = {(p["replier"], p["quoted"]) for p in report.data["exchanges"]["pairs"]}
    # Ben Okoro only quoted Chen Wei to agree ("Agreed with Chen here."), Chen only agreed with
    # Ada's "At matched sparsity the gap comes back" in the gated thread.
    assert ("Ben Okoro", "Chen Wei") not in pairs
    assert ("Chen Wei", "Ada Quint") in pairs  # "I think this overstates it."
    assert ("Dara Hollis", "Chen Wei") in pairs


def test_digest_sentences_carry_title_author_and_link_and_skip_boilerplate(demo):
    _, report = demo
    summary = report.data["summary"]
    assert all(s["title"] and s["author"] and s["source_url"] for s in summary)
    assert not any("fictional" in s["text"] or s["text"].endswith("?") for s in summary)
    assert len({s["source_id"] for s in summary}) >= 3  # several sources, not one post
    assert "Ada Quint, in [Gated sparse autoencoders fix shrinkage, mostly](" in report.markdown
    assert all(not S.dangling(s["text"]) for s in summary)


def test_threads_are_ranked_by_importance_with_a_gist(demo):
    _, report = demo
    threads = report.data["threads"]
    assert [t["id"] for t in threads][:2] == ["lesswrong:demoPostGated001",
                                               "lesswrong:demoPostSplit001"]
    assert threads[-1]["comments"] == 0  # the undiscussed blog post comes last, not first
    gated = threads[0]
    assert gated["comments"] == 10 and gated["on_topic"] < gated["comments"]
    assert gated["gist"] and gated["exchanges"] >= 5


# -- standalone sentences and sentence choice --------------------------------------------------


def test_dangling_sentence_is_shown_with_its_predecessor_or_left_out():
    text = ("They were wrong about the compute needed.\n\n"
            "The forecast assumed a fixed hardware budget for the whole period. So the median "
            "moved from 2050 to 2035 once algorithmic progress was counted.")
    units = [u.text for u in S.units_from_text(text, "x:1")]
    assert "They were wrong about the compute needed." not in units  # nothing to lean on
    assert ("The forecast assumed a fixed hardware budget for the whole period. So the median "
            "moved from 2050 to 2035 once algorithmic progress was counted.") in units
    assert not any(u.startswith("So the median") for u in units)


def test_findings_beat_setup_questions_and_boilerplate():
    post = ("In this post I want to look at how much compute the forecast really needs. "
            "Demo data shipped with archiver: the people and posts are fictional. "
            "What does the model assume about hardware growth over the next decades? "
            "We find that the same capability needs about 1,000x less compute than the "
            "forecast assumed, moving the median from 2050 to 2035.")
    units = S.units_from_text(post, "x:1", source_url="https://example.org/x")
    for i, unit in enumerate(units):
        unit.order = i
    picked = [u.text for u in S.rank(units, 1, max_chars=None)]
    assert picked == ["We find that the same capability needs about 1,000x less compute than "
                      "the forecast assumed, moving the median from 2050 to 2035."]
    assert not any("fictional" in u.text for u in units)
    assert S.cue_weight(units[0].text) < 1.0 < S.cue_weight(picked[0])


def test_reddit_comment_without_permalink_is_cited_by_its_own_link(tmp_path):
    from archiver.app.ingest import ingest
    from archiver.kernel.records import Comment, Page, Post, Site

    db = open_db(str(tmp_path / "r.db"))
    site = Site(id="reddit", name="Reddit", url="https://www.reddit.com", kind="reddit")
    post_url = "https://www.reddit.com/r/MachineLearning/comments/abc123/gated_saes/"
    page = Page(sites=[site], posts=[Post(
        id="reddit:abc123", site_id="reddit", source_id="abc123", title="Gated SAEs",
        url=post_url, author="op", posted_at="2024-01-01T00:00:00Z",
        body_html="<p>We find gated SAEs reduce shrinkage by 30% at matched sparsity.</p>")],
        comments=[Comment(
            id="reddit:k9x", site_id="reddit", source_id="k9x", post_id="reddit:abc123",
            author="critic", url=None, posted_at="2024-01-02T00:00:00Z",
            body_html="<p>The 30% figure drops to 10% once the threshold is trained jointly.</p>")])
    ingest(db, [page], "test", "test")
    summary = S.summarize_thread(db, "reddit:abc123", sentences=2)
    urls = {u.source_id: u.source_url for u in summary.sentences}
    assert urls["reddit:k9x"] == post_url + "k9x/"
    assert urls["reddit:abc123"] == post_url
    assert S.permalink("reddit", "https://www.reddit.com/comments/abc123/", "k9x") == \
        "https://www.reddit.com/comments/abc123/_/k9x/"
    assert S.permalink("lesswrong", "https://www.lesswrong.com/posts/x", "k9x") == \
        "https://www.lesswrong.com/posts/x"


def test_summarize_stores_a_row_only_when_asked_and_replaces_the_same_period(tmp_path, cli_run):
    path = str(tmp_path / "demo.db")
    build_demo(path, report_dir=None)
    db = open_db(path)
    before = db["summaries"].count
    for fmt in ("markdown", "json"):
        assert cli_run("--db", path, "summarize", "Sparse autoencoders", "--format", fmt,
                       "--since", "2024-05-03").exit_code == 0
    assert db["summaries"].count == before  # printing only: nothing stored
    for _ in range(2):
        result = cli_run("--db", path, "summarize", "Sparse autoencoders", "--save",
                         "--since", "2024-05-01")
        assert result.exit_code == 0, result.output
    assert db["summaries"].count == before + 1  # the same topic and period: one row, updated
    result = cli_run("--db", path, "summarize", "Sparse autoencoders", "--out",
                     str(tmp_path / "out"), "--since", "2024-05-02")
    assert db["summaries"].count == before + 2


def test_thread_digest_is_claim_then_answers_and_objections(demo):
    db, _ = demo
    summary = S.summarize_thread(db, "lesswrong:demoPostGated001")
    structure = summary.structure
    assert structure["opening"]["kind"] == "claim" and structure["opening"]["author"] == "Ada Quint"
    objections = {o["author"]: o for o in structure["objections"]}
    assert objections["Chen Wei"]["url"].endswith("commentId=demoCmtP1a000003")
    assert all(o["stance"] == "disputes" for o in structure["objections"])
    answers = {(a["author"], a["stance"]) for a in structure["answers"]}
    assert ("Ben Okoro", "agrees") in answers  # "Agreed with Chen here." is no objection
    asked = [a for a in structure["answers"] if a["stance"] == "asks"]
    assert asked and asked[0]["text"].endswith("?")
    report = R.build(db, summary)
    assert "## The discussion" in report.markdown and "Objections:" in report.markdown


def test_thread_sentences_never_signatures_headers_or_flattened_quotes():
    body = ("On Tue, Jan 2, 2024 at 9:00 AM Eve Stone <eve@example.org> wrote:\n"
            "> The release should wait for the ARM fix.\n\n"
            "We measured the ARM build and it is 40% slower with the fix applied.\n"
            "Bob said > the fix is small and we should ship it anyway today.\n"
            "Regrets, I cannot make the meeting on Thursday afternoon this week.\n\n"
            "Best regards,\nCarol Diaz\n\n-- \nCarol Diaz, release manager at Example Corp\n")
    texts = [u.text for u in S.units_from_text(body, "m:1")]
    assert texts == ["We measured the ARM build and it is 40% slower with the fix applied."]


def test_papers_say_who_discussed_them(demo):
    _, report = demo
    gated = next(p for p in report.data["papers"]
                 if p["title"] == "Gated Sparse Autoencoders for Cleaner Features")
    assert gated["discussed_by"] and "Ada Quint" in gated["discussed_by"]
    assert "discussed by" in report.markdown


def test_new_digest_links_are_http_only_and_text_is_escaped():
    turn = {"author": "x](javascript:alert(1))", "url": "javascript:alert(1)", "stance": "disputes",
            "text": "<script>alert(1)</script> *bold*", "responses": []}
    debate = {"claim": "<img src=x onerror=alert(1)>", "claim_author": "a", "claim_url":
              "https://ok.example/a b", "claim_title": "T", "replies": [turn]}
    markdown = "\n".join(R._md_debate(debate))
    assert "javascript:" not in markdown.replace("x\\](javascript:alert(1))", "")
    assert "](https://ok.example/a b)" not in markdown
    page = R._html_debate(debate)
    assert "<script>" not in page and "<img" not in page and "href='javascript" not in page


def test_a_claim_quoted_with_a_cut_is_still_marked_disputed():
    sentence = {"text": "Gating removes shrinkage entirely for features above threshold, and it "
                        "does so at the same sparsity.", "source_id": "p:1"}
    rows = [{"source_id": "p:1", "stance": "disputes", "quoter_author": "Chen Wei",
             "item_id": "c:3", "quote": "Gating removes shrinkage entirely [...] at the same "
                                        "sparsity"},
            {"source_id": "p:1", "stance": "agrees", "quoter_author": "Ben Okoro",
             "item_id": "c:5", "quote": "Gating removes shrinkage entirely"}]

    R.mark_disputed(open_db(":memory:"), [sentence], rows)
    assert [d["author"] for d in sentence["disputed_by"]] == ["Chen Wei"]


def _activity(unit: str, days: list[int], items: int) -> list[dict]:
    from datetime import date, timedelta

    return [{"period": (date(2024, 1, 1) + timedelta(days=d)).isoformat(), "unit": unit,
             "items": items + d % 5} for d in days]


def test_charts_reuse_one_frame_and_keep_nothing_from_the_previous_chart(monkeypatch):
    """Charts were half of `summarize --all`: making a figure, axes, a patch per bar and a dozen
    tick artists per chart. Now one frame is redrawn: a run of charts makes almost no new
    artists, and a chart drawn after another is byte-identical to the same chart drawn first."""
    from matplotlib import axis, patches

    weekly, daily = _activity("week", list(range(0, 364, 7)), 3), _activity("day", [0, 1, 5], 40)
    first = R.chart(weekly, "Sparse autoencoders")
    made = {"ticks": 0, "patches": 0}

    def counting(cls, key):
        original = cls.__init__

        def init(self, *args, **kwargs):
            made[key] += 1
            original(self, *args, **kwargs)
        monkeypatch.setattr(cls, "__init__", init)

    counting(axis.Tick, "ticks")
    counting(patches.Rectangle, "patches")
    other = R.chart(daily, "Reward hacking $x^{$")
    again = R.chart(weekly, "Sparse autoencoders")
    assert again == first and other != first
    assert made["patches"] == 0 and made["ticks"] <= 6, made
