"""Property-based tests (hypothesis) of the quote finder and the sentence splitter: no exception on
any input, no quoted text lost, the stored-text path agreeing with the HTML path, spans that
point at the quoted words, quotes never mistaken for the writer's own sentences.

Complements tests/test_quotes.py (normalize_map offsets) and tests/test_sentences.py (one
paragraph's pieces re-join to the paragraph).
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from archiver.analysis import quotes as Q
from archiver.analysis import sentences as S
from archiver.kernel import text as textmod

# derandomize: the same examples on every run (the suite must be deterministic); run with more
# examples and a random seed when changing the finder or the splitter.
FAST = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
WIDE = settings(max_examples=300, deadline=None, derandomize=True)

# Lower-case words and no colons: nothing here looks like a speaker turn ("Name: text") or an
# attribution ("X wrote:"), which the finder rightly treats differently.
PROSE = ["sparse", "features", "shrinkage", "gating", "the", "model", "learns", "a", "bias",
         "toward", "zero", "because", "of", "penalty", "is", "it", "not", "measured", "layer",
         "x1", "2024", "don\u2019t", "\u201cgoal\u201d", "caf\u00e9", "\u2014", "e.g.", "...",
         "\u2026", "(see", "below)", "it's", "50%", "a+b", "snake_case"]
QUOTED = ["quoted", "claim", "someone", "else", "wrote", "earlier", "argument", "premise"]
END = [".", "?", "!", ""]


def sentence(vocab: list[str]):
    return st.tuples(st.lists(st.sampled_from(vocab), min_size=1, max_size=12),
                     st.sampled_from(END)).map(lambda t: " ".join(t[0]) + t[1])


def paragraph(vocab: list[str]):
    return st.lists(sentence(vocab), min_size=1, max_size=3).map(" ".join)


def words_of(value: str) -> list[str]:
    return re.findall(r"[^\W_]+", Q.normalize(value))


def contains_in_order(haystack: list[str], needles: list[str]) -> bool:
    it = iter(haystack)
    return all(any(w == h for h in it) for w in needles)


# -- the quote finder: HTML ------------------------------------------------------------------

# A body: paragraphs and blockquotes (a blockquote may hold a nested one), as ForumMagnum sends.
QUOTE_BLOCK = st.tuples(st.lists(paragraph(QUOTED), min_size=1, max_size=2),
                        st.one_of(st.none(), paragraph(QUOTED)))
BODY = st.lists(st.one_of(st.tuples(st.just("p"), paragraph(PROSE)),
                          st.tuples(st.just("quote"), QUOTE_BLOCK)), min_size=1, max_size=7)


def escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(blocks) -> str:
    out = []
    for kind, content in blocks:
        if kind == "p":
            out.append(f"<p>{escape(content)}</p>")
            continue
        paragraphs, nested = content
        inner = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
        if nested:
            inner += f"<blockquote><p>{escape(nested)}</p></blockquote>"
        out.append(f"<blockquote>{inner}</blockquote>")
    return "".join(out)


@FAST
@given(BODY)
def test_every_blockquote_is_found_with_all_its_words(blocks):
    html = render(blocks)
    found = Q.find_quotes(html)
    quotes = [content for kind, content in blocks if kind == "quote"]
    assert len(found) == len(quotes), html
    for quote, (paragraphs, nested) in zip(found, quotes):
        expected = words_of(" ".join(paragraphs + [nested or ""]))
        assert contains_in_order(words_of(quote.text), expected), (quote.text, html)
        if nested:  # a nested quote stays inside its outer quote, as a "> " line
            assert words_of(nested) and ">" in quote.text


@FAST
@given(BODY)
def test_no_reply_text_is_lost(blocks):
    found = Q.find_quotes(render(blocks))
    first = next((i for i, (kind, _) in enumerate(blocks) if kind == "quote"), None)
    if first is None:
        return
    replies = words_of(" ".join(q.reply for q in found))
    after = [content for kind, content in blocks[first:] if kind == "p"]
    assert contains_in_order(replies, words_of(" ".join(after)))


@FAST
@given(BODY)
def test_the_stored_text_gives_the_same_quotes_as_the_html(blocks):
    """Extraction reads the stored plain text when the HTML has nothing richer: it must agree."""
    body = textmod.convert(render(blocks))
    from_html = Q.find_quotes(body.html)
    from_text = Q.find_quotes(body.html, None, body.text)
    assert [Q.normalize(q.text) for q in from_text] == [Q.normalize(q.text) for q in from_html]
    assert [Q.normalize(q.reply) for q in from_text] == [Q.normalize(q.reply) for q in from_html]


@FAST
@given(BODY)
def test_markdown_quotes_keep_their_words(blocks):
    lines = []
    for kind, content in blocks:
        if kind == "p":
            lines += [content, ""]
        else:
            paragraphs, nested = content
            quoted = "\n>\n".join("> " + p for p in paragraphs)
            lines += [quoted + (f"\n>\n> > {nested}" if nested else ""), ""]
    markdown = "\n".join(lines)
    found = Q.quotes_in_text(markdown)
    quotes = [content for kind, content in blocks if kind == "quote"]
    # Adjacent quote blocks separated only by a blank line are one quote in Markdown too, so
    # compare the words of all quotes together.
    assert found or not quotes
    assert contains_in_order(words_of(" ".join(q.text for q in found)),
                             words_of(" ".join(" ".join(p) + " " + (n or "") for p, n in quotes)))


@WIDE
@given(st.one_of(st.text(max_size=300),
                 st.lists(st.sampled_from(["<blockquote>", "</blockquote>", "<p>", "</p>", "> ",
                                           "\n", "\n\n", "Alice: ", "Bob: ", "On Monday, X wrote:",
                                           "<aside class='quote' data-username='x'>", "</aside>",
                                           "<div class='spoilers'>", "</div>", "&gt; ", "From this "
                                           "post:", "...", "[…]", "text ", "\u2019", "<br>"]),
                          max_size=40).map("".join)))
def test_the_finder_never_raises_on_any_input(value):
    for quotes in (Q.find_quotes(value), Q.find_quotes(None, value), Q.find_quotes(None, None, value),
                   Q.quotes_in_text(value, plain=True)):
        for quote in quotes:
            assert isinstance(quote.text, str) and isinstance(quote.reply, str)
    Q.might_quote(value, value)
    own = Q.own_text(value)
    assert len(own) == len(value)  # offsets into the body stay valid
    for start, end in Q.sentences(value):
        assert 0 <= start < end <= len(value)


# -- aligning a quote with its source --------------------------------------------------------


@FAST
@given(st.lists(sentence(PROSE + QUOTED), min_size=2, max_size=8), st.data())
def test_a_quoted_passage_is_found_at_its_place_in_the_source(sentences, data):
    # Each sentence gets a word of its own, so the passage occurs once in the source.
    sentences = [f"{s} unique{chr(ord('a') + i)}word." for i, s in enumerate(sentences)]
    body = " ".join(sentences)
    start = data.draw(st.integers(0, len(sentences) - 1))
    end = data.draw(st.integers(start + 1, len(sentences)))
    quote = " ".join(sentences[start:end])
    frags = Q.fragments(quote)
    if Q.is_short(frags) or not frags:
        return  # short quotes only resolve exactly and close by; nothing to align here
    norm = Q.normalize(body)
    # Fragments are found independently, each at its first occurrence: a passage whose pieces
    # also occur elsewhere is ambiguous, and its span may point at the other occurrence.
    assume(all(norm.count(frag) == 1 for frag in frags))
    span = Q.span_in(body, frags)
    assert span is not None, (quote, body)
    begin, finish = span
    assert 0 <= begin < finish <= len(body)
    # The span covers the quoted words (fragments may trim edge punctuation and ellipses).
    assert contains_in_order(words_of(body[begin:finish]), words_of(" ".join(frags)))
    match = Q.find_exact(frags, norm)
    assert match is not None and match.score == 100.0


@FAST
@given(st.text(max_size=200), st.text(max_size=200))
def test_alignment_never_raises(quote, body):
    frags = Q.fragments(quote)
    norm = Q.normalize(body)
    Q.find_exact(frags, norm, whole_words=True)
    match = Q.find_fuzzy(frags, norm, 0.0)
    if match is not None:
        assert 0 <= match.start <= match.end <= len(norm) and 0 <= match.score <= 100
    span = Q.span_in(body, frags)
    if span is not None:
        assert 0 <= span[0] <= span[1] <= len(body)


# -- the sentence splitter -------------------------------------------------------------------

PROSE_WORDS = ["We", "Sparse", "features", "shrink", "toward", "zero", "we", "measured", "it", "Fig.",
               "3", "e.g.", "the", "gate", "Dr.", "Smith", "agrees", "https://x.org/a.b", "3.14",
               "U.S.", "(see", "below)", "Why", "not"]
QUOTE_WORDS = ["qalpha", "qbeta", "qgamma", "qdelta"]


def text_block(vocab: list[str]):
    # Starts with a word: a line starting "3. " is a numbered list item, rightly.
    return st.lists(sentence(vocab), min_size=1, max_size=3).map(lambda s: vocab[0] + " " + " ".join(s))


DOCUMENT = st.lists(st.one_of(
    st.tuples(st.just("prose"), text_block(PROSE_WORDS)),
    st.tuples(st.just("quote"), text_block(QUOTE_WORDS)),
    st.tuples(st.just("item"), text_block(PROSE_WORDS)),
), min_size=1, max_size=8)


def document(blocks) -> str:
    out = []
    for kind, body in blocks:
        out.append({"prose": body, "quote": "> " + body, "item": "- " + body}[kind])
    return "\n\n".join(out)


@FAST
@given(DOCUMENT)
def test_splitting_a_document_loses_no_word_and_keeps_quotes_apart(blocks):
    text = document(blocks)
    split = S.split(text)
    assert [s.position for s in split] == list(range(len(split)))
    joined = " ".join(s.text for s in split).split()
    expected = " ".join(body for _kind, body in blocks).split()
    assert joined == expected  # every word, in order, markers aside
    for piece in split:
        quoted_words = set(re.findall(r"\w+", piece.text)) & set(QUOTE_WORDS)
        if quoted_words:
            assert piece.kind == "quote", piece  # a quote is never the writer's own sentence
        else:
            assert piece.kind != "quote", piece
    candidates = S.candidates(text)
    assert all(not (set(re.findall(r"\w+", c.text)) & set(QUOTE_WORDS)) for c in candidates)
    assert set(candidates) <= set(split)


@WIDE
@given(st.text(max_size=300))
def test_splitting_any_text_never_raises_and_never_loses_characters(value):
    pieces = S.split_sentences(value)
    assert " ".join(pieces) == re.sub(r"\s+", " ", value).strip()
    for piece in S.split(value):
        assert piece.text.strip() or piece.kind == "code"
        S.is_candidate(piece)
