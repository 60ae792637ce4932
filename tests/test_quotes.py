"""Finding quotes in bodies and aligning them with their source (pure functions)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archiver.analysis import quotes as Q
from archiver.kernel import text
from tests.conftest import shared_file

# -- normalisation -----------------------------------------------------------------------------


def test_normalize_folds_typography_markdown_and_case():
    written = "The model\u2019s  \u201cgoal\u201d \u2014 *really* __matters__\u2026 [1]\n\nsnake_case"
    assert Q.normalize(written) == "the model's \"goal\" - really matters... snake_case"
    assert Q.normalize("> - quoted **bold** [link](https://x.org)") == "quoted bold link"
    assert Q.normalize("caf\u00e9 vs cafe\u0301, \ufb01ne") == "cafe vs cafe, fine"


@given(st.text(alphabet=st.sampled_from(list("ab >*_-\n\t[]()1.^\u2019\u2014\u00e9\u00a0\u200b\ufb01e\u0301")),
               max_size=60))
def test_normalize_map_gives_the_same_text_and_valid_offsets(value):
    norm, offsets = Q.normalize_map(value)
    assert norm == Q.normalize(value)
    assert len(offsets) == len(norm)
    assert offsets == sorted(offsets) and all(0 <= i < len(value) for i in offsets)


def test_fragments_split_on_every_ellipsis_form_and_drop_short_pieces():
    quote = ("The burden of proof lies with the people who claim it [...] we should spend more "
             "effort\u2026 on x \u2026 preventing goal misgeneralization [\u2026] and less on lie detectors")
    assert Q.fragments(quote) == [
        "the burden of proof lies with the people who claim it",
        "we should spend more effort",
        "preventing goal misgeneralization",
        "and less on lie detectors",
    ]
    assert Q.fragments("[We] should treat SAE features as a vocabulary.") == [
        "should treat sae features as a vocabulary"]
    assert Q.fragments("Why?") == ["why"] and Q.is_short(Q.fragments("Why?"))


# -- finding quotes in HTML --------------------------------------------------------------------


def test_blockquotes_with_their_replies_in_order():
    html = ("<p>Two points.</p><blockquote><p>First claim.</p></blockquote><p>Answer one.</p>"
            "<p>More on it.</p><blockquote><p>Second claim.</p></blockquote><p>Answer two.</p>")
    found = Q.find_quotes(html)
    assert [(q.position, q.text, q.reply) for q in found] == [
        (0, "First claim.", "Answer one.\n\nMore on it."),
        (1, "Second claim.", "Answer two."),
    ]
    assert found[0].lead_in == "Two points."


def test_stacked_quotes_share_the_reply_that_follows_them():
    html = "<blockquote><p>A said this.</p></blockquote><blockquote><p>B said that.</p></blockquote><p>Both wrong.</p>"
    assert [q.reply for q in Q.find_quotes(html)] == ["Both wrong.", "Both wrong."]


def test_nested_quote_stays_inside_its_outer_quote():
    html = ("<blockquote><blockquote><p>Original claim by Alice.</p></blockquote>"
            "<p>Bob's answer to it.</p></blockquote><p>Carol replies.</p>")
    [quote] = Q.find_quotes(html)
    assert quote.text == "> Original claim by Alice.\n\nBob's answer to it."
    assert quote.own_text == "Bob's answer to it." and quote.match_text == "Bob's answer to it."
    assert quote.reply == "Carol replies."


def test_spoilers_edit_and_note_lines_are_not_quotes():
    html = ('<p>Puzzle:</p><div class="spoilers"><p>The answer is forty-two.</p></div>'
            "<p>Edit: fixed a typo.</p><p>Note: different argument.</p>")
    assert Q.find_quotes(html) == []
    markdown_spoiler = text.convert(None, ">! hidden answer here\n\nvisible text")
    assert Q.find_quotes(markdown_spoiler.html, None, markdown_spoiler.text) == []


def test_hacker_news_quotes_are_paragraphs_starting_with_gt():
    html = ("&gt;50% of SAEs are untied anyway.<p>&gt; the untied versions reconstruct better"
            "<p>Citation needed.")
    [quote] = Q.find_quotes(html)
    assert quote.text == "the untied versions reconstruct better"
    assert quote.reply == "Citation needed."


def test_markdown_only_body_and_on_wrote_attribution():
    markdown = ("On Thu, 1 Aug 2024 at 09:00, Hal Berger <hal@example.org> wrote:\n"
                "> every run registers its eval suite\n\nRegistered where?")
    [quote] = Q.find_quotes(None, markdown)
    assert quote.attribution == "Hal Berger"
    assert quote.text == "every run registers its eval suite"
    assert quote.reply == "Registered where?"


def test_x_wrote_header_is_attribution_not_reply():
    html = "<p>Good point.</p><p>Nadia Brooks wrote:</p><blockquote><p>It depends.</p></blockquote><p>On what?</p>"
    [quote] = Q.find_quotes(html)
    assert quote.attribution == "Nadia Brooks" and quote.lead_in == "Good point."


def test_discourse_aside_names_its_source():
    html = ('<aside class="quote no-group" data-username="bob" data-post="2" data-topic="501">'
            '<div class="title"><div class="quote-controls"></div>'
            '<img alt="" width="24" height="24" src="/a.png" class="avatar"> bob:</div>'
            "<blockquote><p>as long as it is versioned</p></blockquote></aside><p>Agreed.</p>")
    [quote] = Q.find_quotes(text.sanitize_html(html))
    assert quote.text == "as long as it is versioned"
    assert quote.discourse == {"username": "bob", "post": "2", "topic": "501"}
    assert quote.attribution == "bob" and quote.reply == "Agreed."


def test_quoted_transcript_becomes_speaker_turns():
    html = ("<blockquote><p>Daniel Filan: But I would\u2019ve guessed otherwise.</p>"
            "<p>Vikrant Varma: Yes. That\u2019s one of the differences.</p>"
            "<p>It goes on for a while.</p></blockquote><p>My pet hypothesis here is ...</p>")
    [quote] = Q.find_quotes(html)
    assert [(t.speaker, t.text) for t in quote.turns] == [
        ("Daniel Filan", "But I would\u2019ve guessed otherwise."),
        ("Vikrant Varma", "Yes. That\u2019s one of the differences.\n\nIt goes on for a while."),
    ]


def test_unquoted_turns_need_two_speakers_and_no_stoplisted_labels():
    transcript = "<p>Nadia Brooks: Is it random?</p><p>Owen Tailor: Mostly.</p><p>Surprising.</p>"
    [quote] = Q.find_quotes(transcript)
    assert [t.speaker for t in quote.turns] == ["Nadia Brooks", "Owen Tailor"]
    assert quote.reply == "Surprising."
    labels = "<p>Claim: probes do not transfer.</p><p>Evidence: two papers.</p><p>However: maybe.</p>"
    assert Q.find_quotes(labels) == []
    one_speaker = "<p>Rohin Shah: first.</p><p>Rohin Shah: second.</p>"
    assert Q.find_quotes(one_speaker) == []


def test_dialogue_post_turns_carry_display_names_and_user_ids():
    html = "".join(
        f'<section class="dialogue-message" user-id="{uid}" display-name="{name}"><p>{said}</p></section>'
        for uid, name, said in [("u1", "Mira Okafor", "Can SGD deceive?"),
                                ("u2", "Tomasz Wren", "If planning comes first."),
                                ("u1", "Mira Okafor", "It does not.")])
    [quote] = Q.find_quotes(text.sanitize_html(html))
    assert quote.dialogue and quote.reply == ""
    assert [(t.speaker, t.user_id, t.text) for t in quote.turns] == [
        ("Mira Okafor", "u1", "Can SGD deceive?"), ("Tomasz Wren", "u2", "If planning comes first."),
        ("Mira Okafor", "u1", "It does not.")]


def test_cite_and_linked_lead_in_are_kept_as_hints():
    cited = '<blockquote cite="https://arxiv.org/abs/2201.02177"><p>Grokking.</p></blockquote>'
    assert Q.find_quotes(cited)[0].cite == "https://arxiv.org/abs/2201.02177"
    linked = ('<p>As <a href="https://example.org/post">this post</a> puts it:</p>'
              "<blockquote><p>Legible circuits.</p></blockquote>")
    assert Q.find_quotes(linked)[0].cite == "https://example.org/post"


def test_parsing_the_stored_text_gives_the_same_quotes_as_the_html():
    html = ("<p>Intro</p><blockquote><p>quoted <em>words</em></p><ul><li>a point</li></ul>"
            "</blockquote><p>reply</p>&gt; hn style<p>second reply</p>")
    body = text.convert(html)
    from_html = Q._assemble(Q._html_segments(body.html))
    from_text = Q.find_quotes(body.html, None, body.text)
    assert [(q.text, q.reply) for q in from_text] == [(q.text, q.reply) for q in from_html]
    assert len(from_text) == 2


def test_might_quote_skips_plain_bodies():
    assert not Q.might_quote("<p>No quotes here: just text.</p>", "No quotes here: just text.")
    assert Q.might_quote("<blockquote><p>x</p></blockquote>", "> x")
    assert Q.might_quote("", "intro\n> quoted")


def test_seed_profile_text_yields_the_podcast_turns_and_the_post_quote():
    seed = next(shared_file("seeds").glob("004_*.txt")).read_text(encoding="utf-8")
    found = Q.find_quotes(None, None, seed)
    transcripts = [q for q in found if q.turns]
    assert [t.speaker for t in transcripts[0].turns] == ["Daniel Filan", "Vikrant Varma"]
    assert transcripts[0].reply.startswith("My pet hypothesis here is")
    lead = [q for q in found if q.lead_in.endswith("From this post:")]
    assert lead and lead[0].text.startswith("Part of what this all illustrates")
    assert not any(t.speaker.lower() in ("edit", "tbc") for q in found for t in q.turns)


# -- alignment ---------------------------------------------------------------------------------

SOURCE = ("Second, deception requires the model to keep two things apart. Maintaining that "
          "separation has a cost in parameters and in gradient signal. SGD is a local search "
          "process; it does not plan ahead, and it will not pay a cost now for a benefit that "
          "only arrives after many further updates.")


def test_exact_then_fuzzy_alignment_scores_separate_real_quotes():
    norm = Q.normalize(SOURCE)
    exact = Q.find_exact(Q.fragments("it does not plan ahead, and it will not pay a cost now"), norm)
    assert exact.score == 100 and norm[exact.start:exact.end].startswith("it does not plan")
    edited = Q.fragments("SGD is a local search process; it doesn\u2019t plan ahead, and it won\u2019t pay a cost now")
    assert Q.find_exact(edited, norm) is None
    assert Q.find_fuzzy(edited, norm, 88.0).score >= 90
    unrelated = Q.fragments("the gradient only needs to favour a model that already reasons about training")
    assert Q.find_fuzzy(unrelated, norm, 0.0) is None or Q.find_fuzzy(unrelated, norm, 0.0).score < 80


def test_short_quotes_match_whole_words_only():
    norm = Q.normalize("Whyever not? Why? Because.")
    assert Q.find_exact(["why"], norm, whole_words=True).start == norm.index("why?")
    assert Q.find_exact(["whyev"], norm, whole_words=True) is None


def test_span_points_into_the_original_text_despite_typography():
    body = "Intro.\n\nThe model\u2019s \u201cgoal\u201d is *learned* very early \u2014 before planning.\n\n> quoted"
    start, end = Q.span_in(Q.own_text(body), Q.fragments('the model\'s "goal" is learned very early'))
    assert body[start:end] == "The model\u2019s \u201cgoal\u201d is *learned* very early"


def test_own_text_blanks_quoted_lines_without_moving_offsets():
    body = "Mine.\n> theirs\n>\nmine again"
    own = Q.own_text(body)
    assert len(own) == len(body) and "theirs" not in own and own.endswith("mine again")
    assert Q.quoted_text(body) == "> theirs\n>"


def test_sentences_of_a_post_skip_its_quotes():
    body = "First sentence here. Second one follows!\n\n> a quote\n\nThird (and last) sentence."
    spans = Q.sentences(body)
    assert [body[s:e] for s, e in spans] == [
        "First sentence here.", "Second one follows!", "Third (and last) sentence."]


def test_elided_quote_pieces_are_found_in_order():
    """A later piece that also occurs earlier in the source must not shorten the span."""
    norm = Q.normalize("the end is near. we start here and then the end is near.")
    frags = Q.fragments("we start here ... the end is near")
    match = Q.find_exact(frags, norm)
    assert match is not None
    assert norm[match.start:match.end] == "we start here and then the end is near"


def test_email_headers_and_signatures_are_neither_quote_nor_reply():
    text = ("On Mon, Jan 1, 2024 at 10:00 AM Alice Smith <alice@example.org> wrote:\n"
            "> On Sun, Dec 31, 2023 Bob Jones <bob@example.org> wrote:\n"
            "> > The patch breaks the build on ARM.\n"
            "> It builds fine here with the new toolchain.\n\n"
            "That matches what I see on CI.\n\nBest,\nCarol\n\n"
            "> And the tests pass too.\n\n"
            "Not on 32-bit.\n\n-- \nCarol Diaz\nhttps://example.org/carol\n")
    first, second = Q.quotes_in_text(text)
    assert first.attribution == "Alice Smith"
    assert "wrote:" not in first.text and "wrote:" not in first.own_text
    assert first.own_text == "It builds fine here with the new toolchain."
    assert first.reply == "That matches what I see on CI."  # no "Best, Carol"
    assert second.reply == "Not on 32-bit."  # no "-- " signature block


@pytest.mark.parametrize("reply, expected", [
    ("Sounds right.\n\nThanks,\nBob", "Sounds right."),
    ("Sounds right.\nSent from my iPhone", "Sounds right."),
    ("Thanks, that fixed it.", "Thanks, that fixed it."),  # a thank-you that says something
    ("Agreed.\n\nOn Tue, Jan 2, 2024 at 9:00 AM Eve <e@x.org> wrote:", "Agreed."),
])
def test_strip_signature(reply, expected):
    assert Q.strip_signature(reply) == expected
