"""Sentence splitting of forum text: what a summary may quote, and what it must not."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.analysis import sentences as S
from archiver.kernel import text
from tests.conftest import shared_file


def texts(items):
    return [s.text for s in items]


def test_abbreviations_initials_and_decimals_do_not_end_sentences():
    paragraph = ("Methods such as RLHF, e.g. PPO or DPO, help vs. the base model (Smith et al. "
                 "2020, Fig. 3). J. Smith found a 3.5% gain, i.e. not much. It was reported in "
                 "Sec. 2.1 of the U.S. report. The i.i.d. assumption fails w.r.t. the test set.")
    assert S.split_sentences(paragraph) == [
        "Methods such as RLHF, e.g. PPO or DPO, help vs. the base model (Smith et al. 2020, Fig. 3).",
        "J. Smith found a 3.5% gain, i.e. not much.",
        "It was reported in Sec. 2.1 of the U.S. report.",
        "The i.i.d. assumption fails w.r.t. the test set.",
    ]


def test_words_that_look_like_abbreviations_still_end_a_sentence():
    assert S.split_sentences("We said no. Then it was done. We went out in the sun. Dr. Who "
                             "agreed.") == ["We said no.", "Then it was done.",
                                            "We went out in the sun.", "Dr. Who agreed."]


def test_urls_emails_and_inline_code_stay_whole():
    paragraph = ("See https://arxiv.org/abs/2401.12345v2. Mail me at a.b@example.org. Then run "
                 "`model.fit(x). Done` to train. Questions? Ask!")
    assert S.split_sentences(paragraph) == [
        "See https://arxiv.org/abs/2401.12345v2.", "Mail me at a.b@example.org.",
        "Then run `model.fit(x). Done` to train.", "Questions?", "Ask!"]


def test_quoted_lines_are_tagged_and_never_candidates():
    body = "> The features are monosemantic.\n> Mostly, anyway.\n\nI disagree with that claim strongly."
    parts = S.split(body)
    assert [(s.kind, s.text) for s in parts] == [
        ("quote", "The features are monosemantic."), ("quote", "Mostly, anyway."),
        ("prose", "I disagree with that claim strongly.")]
    assert texts(S.candidates(body)) == ["I disagree with that claim strongly."]


def test_quotes_from_real_html_blockquotes_are_excluded():
    body = text.convert("<blockquote><p>Scaling alone will get us to AGI by 2027.</p></blockquote>"
                        "<p>I doubt that scaling alone is enough for general intelligence.</p>")
    assert texts(S.candidates(body.text)) == [
        "I doubt that scaling alone is enough for general intelligence."]


def test_code_lists_headings_and_attributions():
    body = ("Results\n\n"
            "We compared three methods on the benchmark carefully.\n"
            "- first the sparse autoencoder baseline\n"
            "* second the transcoder variant. It was faster.\n"
            "1. third the linear probe on layer six\n\n"
            "```\nfor x in range(10): print(x)\n```\n\n"
            "def train(model):\nreturn model.fit(data)\n\n"
            "On Tue, 5 Mar 2024, Bob Smith wrote:\n\n"
            "That is all I have to say on the matter.")
    kinds = [(s.kind, s.text) for s in S.split(body)]
    assert kinds == [
        ("heading", "Results"),
        ("prose", "We compared three methods on the benchmark carefully."),
        ("item", "first the sparse autoencoder baseline"),
        ("item", "second the transcoder variant."), ("item", "It was faster."),
        ("item", "third the linear probe on layer six"),
        ("code", "for x in range(10): print(x)"),
        ("code", "def train(model):\nreturn model.fit(data)"),
        ("prose", "That is all I have to say on the matter."),
    ]
    candidates = texts(S.candidates(body))
    assert "Results" not in candidates and not any("range(10)" in c for c in candidates)
    assert "first the sparse autoencoder baseline" in candidates


def test_sentences_with_lost_math_are_not_candidates():
    body = "The loss  is minimised when  . We then set ( , ) as before. The method converges fast."
    assert texts(S.candidates(body)) == ["The method converges fast."]


def test_fragments_and_link_dumps_are_not_candidates():
    body = "Agreed. https://example.org/a https://example.org/b https://example.org/c 12 34."
    assert S.candidates(body) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([
    "word", "Word", "e.g.", "Fig.", "3.14", "end.", "Done!", "Why?", "https://x.org/a.b",
    "al.", "(see", "it)", "J.", "\"Quoted.\"", "U.S.", "..."]), min_size=1, max_size=30))
def test_splitting_never_loses_or_reorders_text(words):
    paragraph = " ".join(words)
    assert " ".join(S.split_sentences(paragraph)) == re.sub(r"\s+", " ", paragraph).strip()


def test_real_lesswrong_post_splits_into_clean_sentences():
    data = json.loads(shared_file("realworld", "lw_graphql_post_agi_ruin.json").read_text())
    post = data["data"]["post"]["result"]
    body = text.convert(post["contents"]["html"])
    candidates = S.candidates(body.text)
    assert len(candidates) > 100
    # No sentence starts in the middle of an abbreviation or a number.
    assert not [c.text for c in candidates if re.match(r"^(g\.|e\.|al\.|\d+\))", c.text)]
    # Quoted text in the post is never a candidate.
    quoted = {s.text for s in S.split(body.text) if s.quoted}
    assert not quoted & {c.text for c in candidates}


def test_one_splitter_the_quoted_passages_spans_are_the_summary_sentences():
    from archiver.analysis import quotes

    body = ("Methods such as RLHF, e.g. PPO or DPO, help vs. the base model (Fig. 3). J. Smith "
            "found a 3.5% gain.\n\n> A quoted line. Not ours.\n\nA second paragraph, see "
            "https://example.org/a.b. Done.")
    own = quotes.own_text(body)
    spans = quotes.sentences(body)
    assert [own[a:b] for a, b in spans] == [body[a:b] for a, b in spans] == [
        "Methods such as RLHF, e.g. PPO or DPO, help vs. the base model (Fig. 3).",
        "J. Smith found a 3.5% gain.", "A second paragraph, see https://example.org/a.b.", "Done."]
    prose = [s.text for s in S.split(body) if not s.quoted]
    assert prose == [body[a:b] for a, b in spans]


def test_the_stance_classifier_reads_the_first_sentence_with_the_same_splitter():
    from archiver.analysis import stance

    reply = "Cf. Smith et al. 2020, which finds the opposite. Worth a look."
    assert stance._first_sentence(reply) == S.split_sentences(reply)[0].lower()
    assert stance.classify(reply) == "disputes"  # not cut at "et al." before its objection
