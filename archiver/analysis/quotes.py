"""Finding quotes in a body and aligning them with their source text. Pure functions, no database.

A quote is anything a writer marks as someone else's words:

- HTML ``<blockquote>`` (nested ones stay inside their outer quote; ``div.spoilers`` is never a
  quote), Discourse ``aside.quote`` (with ``data-username``/``data-post``/``data-topic``), and
  ForumMagnum dialogue posts (``section.dialogue-message`` with ``display-name``);
- ``> `` lines: Markdown or plain-text bodies, and Hacker News, where a paragraph starting with
  "&gt;" is the quoting convention;
- speaker turns ("Daniel Filan: ...", "Vikrant Varma: ...") with two or more speakers alternating;
- in plain text that lost its markup, a paragraph introduced by "From this post:" and the like.

An "On ... wrote:" or "Alice wrote:" line right before a quote is its attribution. Each quote's reply
is the writer's own text after it, up to the next quote.

Matching works on normalised text (see ``normalize``): the quote is split into fragments on
paragraphs, ellipses and bracketed edits; each fragment is found exactly or aligned with rapidfuzz.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import lxml.etree
import lxml.html
from rapidfuzz import fuzz

from archiver.analysis.sentences import spans as sentence_spans
from archiver.kernel import text as textmod

# A fragment shorter than this (normalised) is too common to identify a source on its own; it is
# ignored when the quote has longer fragments (ForumMagnum's side-comment matcher uses 20 as well).
MIN_FRAGMENT = 20
# Fragments scoring below this never count towards a fuzzy match.
FRAGMENT_CUTOFF = 75.0


@dataclass
class Turn:
    speaker: str
    text: str
    user_id: str | None = None  # dialogue messages carry the speaker's site user id


@dataclass
class Quote:
    text: str  # as written; nested quotes kept as "> " lines
    own_text: str = ""  # without nested quotes: what the quoted writer wrote themselves
    reply: str = ""
    position: int = 0
    attribution: str | None = None  # "Alice wrote:", a Discourse data-username
    cite: str | None = None  # a link given with the quote (cite attribute, "From [this post](…):")
    lead_in: str = ""  # the writer's last paragraph before the quote ("From this post:")
    discourse: dict | None = None  # {"username", "post", "topic"} from aside.quote
    turns: list[Turn] = field(default_factory=list)
    dialogue: bool = False  # the turns of a dialogue post, not a quote of someone else

    @property
    def match_text(self) -> str:
        return self.own_text or strip_quote_marks(self.text)


# -- normalisation -----------------------------------------------------------------------------

_TRANSLATE = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"',
    "\u00bb": '"', "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2015": "-", "\u2212": "-", "\u2022": "*", "\u00a0": " ",
})
# (pattern, replacement, trigger): None deletes the match, a string replaces it, 1 keeps group 1.
# A step only runs when its trigger character occurs (most bodies have no "*", "[" or ">").
_STEPS: list[tuple[re.Pattern, str | int | None, str | None]] = [
    (re.compile("[\u00ad\u200b-\u200f\u2060\ufeff]"), None, "nonascii"),  # invisible characters
    (re.compile(r"!?\[([^\]\n]*)\]\([^)\s]*\)"), 1, "]("),  # Markdown links, images: keep text
    (re.compile(r"\[\d{1,3}\]"), None, "["),  # footnote markers "[1]"
    (re.compile(r"\^\[?\d{1,3}\]?"), None, "^"),  # footnote markers "^1"
    (re.compile(r"(?m)^[ \t]*(?:>[ \t]?)+"), None, ">"),  # quote markers at line starts
    (re.compile(r"(?m)^[ \t]*(?:[-*+]|\d{1,3}[.)])[ \t]+"), None, None),  # list bullets, numbers
    (re.compile(r"\*+|~~|`+"), None, "emphasis"),  # Markdown emphasis and code marks
    (re.compile(r"(?<!\w)_+|_+(?!\w)"), None, "_"),  # underscore emphasis, not snake_case
    # Whitespace runs become one space; single spaces are left alone so offsets barely change.
    (re.compile(r"\s{2,}|[^\S ]"), " ", None),
]
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def normalize(value: str | None) -> str:
    """Text for matching: NFKD without accents, ASCII quotes and dashes, no Markdown marks or
    footnote markers, single spaces, lower case. ``normalize_map`` gives the same string."""
    if not value:
        return ""
    value = _fold(value)
    for pattern, repl, trigger in _STEPS[:-1]:
        if _runs(trigger, value):
            value = pattern.sub(_replacement(repl), value)
    return " ".join(value.split())


def _runs(trigger: str | None, value: str) -> bool:
    if trigger is None:
        return True
    if trigger == "nonascii":
        return not value.isascii()
    if trigger == "emphasis":
        return "*" in value or "`" in value or "~~" in value
    return trigger in value


def normalize_map(value: str) -> tuple[str, list[int]]:
    """``normalize`` plus, for each character of the result, its index in ``value``."""
    if not value:
        return "", []
    folded, offsets = _fold_map(value)
    for pattern, repl, trigger in _STEPS:
        if _runs(trigger, folded):
            folded, offsets = _sub_map(pattern, repl, folded, offsets)
    start = len(folded) - len(folded.lstrip())
    end = len(folded.rstrip())
    return folded[start:end], offsets[start:end]


def _fold(value: str) -> str:
    value = textmod.fold(value)
    return value if value.isascii() else value.translate(_TRANSLATE)


def _fold_map(value: str) -> tuple[str, list[int]]:
    """``_fold`` character by character (only non-ASCII characters can change length)."""
    if value.isascii():
        return value.lower(), list(range(len(value)))
    parts: list[str] = []
    offsets: list[int] = []
    last = 0
    for match in _NON_ASCII.finditer(value):
        index = match.start()
        parts.append(value[last:index])
        offsets.extend(range(last, index))
        folded = _fold(value[index])
        parts.append(folded)
        offsets.extend([index] * len(folded))
        last = index + 1
    parts.append(value[last:])
    offsets.extend(range(last, len(value)))
    return "".join(parts).lower(), offsets


def _replacement(repl):
    if repl is None:
        return ""
    if repl == 1:
        return r"\1"
    return repl


def _sub_map(pattern: re.Pattern, repl, value: str, offsets: list[int]):
    out: list[str] = []
    out_offsets: list[int] = []
    last = 0
    for match in pattern.finditer(value):
        out.append(value[last:match.start()])
        out_offsets.extend(offsets[last:match.start()])
        if repl == 1:
            out.append(match.group(1))
            out_offsets.extend(offsets[match.start(1):match.end(1)])
        elif repl:
            out.append(repl)
            out_offsets.extend([offsets[match.start()]] * len(repl))
        last = match.end()
    if last == 0:
        return value, offsets
    out.append(value[last:])
    out_offsets.extend(offsets[last:])
    return "".join(out), out_offsets


# Ellipses and bracketed edits ("[...]", "[the model]") mark where a quote skips or changes text.
_SPLIT = re.compile(r"\[\s*\.\.\.\s*\]|\.{3,}|\[[^\]]{0,80}\]|(?:\s\.){3}")
_EDGE = " .,;:!?\"'()-"


def fragments(quote_text: str) -> list[str]:
    """Normalised pieces of a quote, split on paragraphs, ellipses and bracketed edits.

    Pieces of MIN_FRAGMENT characters or more are kept; when there are none, the quote is short
    and all its non-empty pieces are returned (see ``is_short``).
    """
    pieces = []
    for paragraph in re.split(r"\n\s*\n|\n(?=\s*(?:[-*+]|\d{1,3}[.)])\s)", quote_text or ""):
        for piece in _SPLIT.split(normalize(paragraph)):
            piece = piece.strip(_EDGE)
            if piece:
                pieces.append(piece)
    long = [p for p in pieces if len(p) >= MIN_FRAGMENT]
    return long or pieces


def is_short(frags: list[str]) -> bool:
    return not frags or max(len(f) for f in frags) < MIN_FRAGMENT


# -- quote lines and own text ------------------------------------------------------------------

# "> text" or ">text", but not ">50%" (a comparison) or ">!" (a spoiler).
_QUOTE_LINE = re.compile(r"^[ \t]*>(?:[ \t]|$|(?=[^\d\s!=<]))")


def is_quote_line(line: str) -> bool:
    return bool(_QUOTE_LINE.match(line))


def strip_quote_marks(value: str) -> str:
    return "\n".join(re.sub(r"^[ \t]*(?:>[ \t]?)+", "", line) for line in value.split("\n"))


def own_text(body_text: str | None) -> str:
    """The body with quoted lines blanked out, same length, so offsets still point into it.

    Matching a quote against a writer's own words keeps a reply that re-quotes the same passage
    from being taken for its source.
    """
    if not body_text or ">" not in body_text:
        return body_text or ""
    lines = body_text.split("\n")
    return "\n".join(" " * len(line) if is_quote_line(line) else line for line in lines)


def quoted_text(body_text: str | None) -> str:
    """Only the quoted lines of a body (the complement of ``own_text``)."""
    lines = (body_text or "").split("\n")
    return "\n".join(line for line in lines if is_quote_line(line))


# -- alignment ---------------------------------------------------------------------------------


@dataclass
class Match:
    score: float  # 0-100; 100 means every fragment was found exactly
    start: int  # span in the normalised text
    end: int
    exact: bool


def find_exact(frags: list[str], norm: str, whole_words: bool = False) -> Match | None:
    """Every fragment found verbatim in ``norm`` (already normalised)."""
    if not frags:
        return None
    starts, ends = [], []
    after = 0
    for frag in frags:
        # The pieces of an elided quote come in order: look after the previous piece first, so a
        # piece that also occurs earlier in the source does not shorten the span.
        pos = _find(frag, norm, whole_words, after)
        if pos < 0:
            pos = _find(frag, norm, whole_words)
        if pos < 0:
            return None
        starts.append(pos)
        ends.append(pos + len(frag))
        after = pos + len(frag)
    return Match(100.0, min(starts), max(ends), True)


def _find(frag: str, norm: str, whole_words: bool, start: int = 0) -> int:
    pos = norm.find(frag, start)
    if not whole_words:
        return pos
    while pos >= 0:
        before = norm[pos - 1] if pos > 0 else " "
        after = norm[pos + len(frag)] if pos + len(frag) < len(norm) else " "
        if not (before.isalnum() or after.isalnum()):
            return pos
        pos = norm.find(frag, pos + 1)
    return -1


_WORD = re.compile(r"[^\W_]{3,}")


def words(norm: str) -> set[str]:
    return set(_WORD.findall(norm))


def find_fuzzy(frags: list[str], norm: str, cutoff: float, norm_words: set[str] | None = None,
               frag_words: set[str] | None = None) -> Match | None:
    """Align each fragment with rapidfuzz; the score is the length-weighted mean over fragments.

    A cheap word-overlap check first skips texts that cannot reach ``cutoff``.
    """
    if not frags or not norm:
        return None
    if frag_words is None:
        frag_words = words(" ".join(frags))
    if frag_words:
        have = norm_words if norm_words is not None else words(norm)
        if len(frag_words & have) < 0.5 * len(frag_words):
            return None
    total = sum(len(f) for f in frags)
    weighted = 0.0
    starts, ends = [], []
    for frag in frags:
        pos = norm.find(frag)
        if pos >= 0:
            weighted += 100.0 * len(frag)
            starts.append(pos)
            ends.append(pos + len(frag))
            continue
        found = fuzz.partial_ratio_alignment(frag, norm, score_cutoff=FRAGMENT_CUTOFF)
        if found is None:
            continue
        weighted += found.score * len(frag)
        starts.append(found.dest_start)
        ends.append(found.dest_end)
    score = weighted / total
    if score < cutoff or not starts:
        return None
    return Match(score, min(starts), max(ends), False)


def span_in(body: str, frags: list[str]) -> tuple[int, int] | None:
    """The character span in ``body`` (original text) covered by the fragments."""
    norm, offsets = normalize_map(body)
    match = find_exact(frags, norm) or find_fuzzy(frags, norm, 0.0)
    if match is None or match.end <= match.start or not offsets:
        return None
    return offsets[match.start], offsets[min(match.end, len(offsets)) - 1] + 1


# -- finding quotes ----------------------------------------------------------------------------

_MARK = re.compile("\ue000(\\d+)\ue001")


def find_quotes(html: str | None = None, markdown: str | None = None,
                text: str | None = None) -> list[Quote]:
    """Every quote in a body, in order, with its reply. HTML wins over Markdown over plain text.

    ``text`` is the stored plain text (``archiver.kernel.text.html_to_text``: quotes as "> " lines).
    Given with HTML that has nothing the text loses (Discourse asides, dialogue sections, links,
    cite attributes, spoilers), the text is parsed instead: the same quotes, much faster. An
    empty ``html`` string means "an HTML body with nothing rich in it".
    """
    if html is not None and (html.strip() or text):
        if text and not rich_html(html):
            return quotes_in_text(text)
        return _assemble(_html_segments(html))
    if markdown and markdown.strip():
        return quotes_in_text(markdown)
    if text and text.strip():
        return quotes_in_text(text, plain=True)
    return []


def quotes_in_text(value: str, plain: bool = False) -> list[Quote]:
    """Quotes in Markdown or plain text; ``plain`` for text that lost its markup, where a
    paragraph after "From this post:" is taken as a quote."""
    return _assemble(_line_segments(value, plain))


# What html_to_text loses that matters here; a body without it can be parsed from its text.
RICH_HTML_SQL = ("instr({0}, '<aside') OR instr({0}, 'dialogue-message') OR instr({0}, 'cite=') "
                 "OR instr({0}, '<a ') OR instr({0}, 'spoilers')")
_RICH_HTML = re.compile(r"<aside|dialogue-message|cite=|<a |spoilers")


def rich_html(html: str | None) -> bool:
    return bool(html and _RICH_HTML.search(html))


def might_quote(html: str | None, body_text: str | None) -> bool:
    """A cheap test that skips the parser for the many bodies without any quote.

    ``html`` None means a body without HTML (plain text that may have lost its quote marks).
    """
    if html and ("<blockquote" in html or "<aside" in html or "dialogue-message" in html):
        return True
    body = body_text or ""
    if body.startswith(">") or "\n>" in body or "\n >" in body:
        return True
    if ": " in body and _TURN_HINT.search(body):
        return True
    return html is None and ":" in body and bool(_LEAD_IN.search(body))


def _html_segments(html: str) -> list:
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return _line_segments(textmod.html_to_text(html) or "")
    found: list[Quote] = []
    dialogue = _dialogue(root)
    if dialogue is not None:
        found.append(dialogue)
    _replace_quotes(root, found)
    body = textmod.html_to_text(lxml.html.tostring(root, encoding="unicode")) or ""
    segments: list = []
    last = 0
    for match in _MARK.finditer(body):
        segments.extend(_line_segments(body[last:match.start()]))
        segments.append(("quote", found[int(match.group(1))]))
        last = match.end()
    segments.extend(_line_segments(body[last:]))
    if dialogue is not None:
        segments.insert(0, ("quote", dialogue))
    return segments


def _classes(el) -> set[str]:
    return set((el.get("class") or "").split())


def _dialogue(root) -> Quote | None:
    sections = [el for el in root.iter("section") if "dialogue-message" in _classes(el)]
    if not sections:
        return None
    turns = []
    for section in sections:
        body = textmod.html_to_text(lxml.html.tostring(section, encoding="unicode")) or ""
        speaker = section.get("display-name") or section.get("user-id") or "?"
        if body.strip():
            turns.append(Turn(speaker=speaker, text=body.strip(), user_id=section.get("user-id")))
    if not turns:
        return None
    joined = "\n\n".join(f"{t.speaker}: {t.text}" for t in turns)
    return Quote(text=joined, own_text=joined, turns=turns, dialogue=True)


def _replace_quotes(el, found: list[Quote]) -> None:
    """Swap each outermost quote element for a marker paragraph; spoilers stay text."""
    for child in list(el):
        if not isinstance(child.tag, str) or "spoilers" in _classes(child):
            continue
        quote = None
        if child.tag == "aside" and "quote" in _classes(child):
            quote = _aside_quote(child)
        elif child.tag == "blockquote":
            quote = _blockquote_quote(child)
        if quote is None:
            _replace_quotes(child, found)
            continue
        quote.cite = quote.cite or _lead_link(child)
        marker = lxml.html.Element("p")
        marker.text = f"\ue000{len(found)}\ue001"
        marker.tail = child.tail
        found.append(quote)
        el.replace(child, marker)


def _blockquote_quote(el) -> Quote | None:
    rendered = textmod.html_to_text(lxml.html.tostring(el, encoding="unicode")) or ""
    inner = "\n".join(re.sub(r"^> ?", "", line) for line in rendered.split("\n"))
    inner = re.sub(r"\n{3,}", "\n\n", inner).strip()
    if not inner or inner.startswith("!"):  # empty, or a Markdown ">!" spoiler
        return None
    own = "\n".join(line for line in inner.split("\n") if not line.startswith(">")).strip()
    quote = Quote(text=inner, own_text=own, cite=el.get("cite"))
    quote.turns = _turns(_paragraphs(quote.match_text), inside_quote=True)
    return quote


def _aside_quote(el) -> Quote | None:
    inner = el.find(".//blockquote")
    if inner is not None:
        quote = _blockquote_quote(inner)
    else:
        for title in el.xpath(".//div[contains(@class, 'title')]"):
            title.getparent().remove(title)
        body = (textmod.html_to_text(lxml.html.tostring(el, encoding="unicode")) or "").strip()
        quote = Quote(text=body, own_text=body) if body else None
    if quote is None:
        return None
    hint = {k: el.get(f"data-{k}") for k in ("username", "post", "topic")}
    quote.discourse = {k: v for k, v in hint.items() if v} or None
    quote.attribution = hint["username"] or None
    return quote


def _lead_link(el) -> str | None:
    """A link in the paragraph right before a quote ("From [this post](...):")."""
    previous = el.getprevious()
    if previous is None or not isinstance(previous.tag, str):
        return None
    links = [a.get("href") for a in previous.iter("a") if a.get("href")]
    text = previous.text_content().strip()
    return links[-1] if links and text.endswith(":") else None


# -- line-based parsing: "> " quotes, speaker turns, lead-ins ----------------------------------

_NAME = r"[A-Z][\w'\u2019.\-]*(?:[ \t]+(?:[A-Z][\w'\u2019.\-]*|de|van|von|der|den|la|le|al|bin|da|di|du)){0,3}"
_TURN = re.compile(rf"^(?P<name>{_NAME})[ \t]*:[ \t]+(?P<text>\S.*)", re.S)
_TURN_HINT = re.compile(rf"(?m)^{_NAME}[ \t]*:[ \t]+\S")
# Labels that look like speakers but are not ("Edit:", "Note:", "However:").
STOPLIST = frozenset("""
note notes nb n.b edit edited edits example examples e.g eg i.e ie update updated updates eta ps
p.s pps tl;dr tldr summary question questions answer answers q a claim claims conclusion source
sources caveat caveats disclaimer epistemic status related footnote warning spoiler spoilers
context reply response thesis hypothesis premise objection counterpoint link links quote quotes
step option pro pros con cons problem problems solution solutions definition proof result results
takeaway takeaways key also addendum correction clarification important aside bonus background
motivation abstract introduction intro method methods setup observation prediction predictions
argument arguments counterargument counter point points assumption assumptions goal goals idea
ideas plan status tag tags title date time location cost price yes no hint tip todo fyi btw imo
imho first second third finally overall verdict score rating crux cruxes confidence credence meta
main short long however alternatively basically specifically additionally so but and or then now
here there this that these those it i we you they my our your their what why how when where who
which because therefore thus hence moreover furthermore upshot concretely formally informally
intuitively roughly precisely ok okay fact facts reason reasons evidence test tests caution
remark remarks comment comments further part section chapter figure table lemma theorem
corollary exercise prompt output input error code task hypothesis1 bottom line in for
""".split())
_LEAD_IN = re.compile(
    r"(?im)^.*\b(?:(?:from|in|of) (?:this|the|that|his|her|their|your|my|a|an|our) "
    r"(?:\w+ ){0,2}(?:post|paper|article|comment|essay|thread|piece|abstract|transcript|podcast|"
    r"interview|book|report|tweet|docs?|documentation|readme|announcement|summary)\b|"
    r"\b(?:writes|wrote|says|said|quote|quoting|excerpt)\b)[^:\n]{0,60}:[ \t]*$")
_WROTE = re.compile(r"^(?:On\s+(?P<on>.+?)|(?P<name>[@\w][^:\n]{0,60}?))\s+"
                    r"(?:wrote|writes|said|says)\s*:\s*$", re.I)
_NOT_A_NAME = re.compile(r"^(?:as|the|this|that|which|it|he|she|they|you|i|we|someone|somebody|"
                         r"who|what|post|paper|author)\b", re.I)


def _paragraphs(value: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n[ \t]*\n", value) if p.strip()]


def _speaker(paragraph: str) -> tuple[str, str] | None:
    match = _TURN.match(paragraph)
    if not match:
        return None
    name = match.group("name").strip()
    lowered = name.lower().rstrip(".")
    first = lowered.split()[0].rstrip(".")
    if lowered in STOPLIST or first in STOPLIST or len(name) > 40:
        return None
    return name, match.group("text").strip()


def _turns(paragraphs: list[str], inside_quote: bool) -> list[Turn]:
    """Speaker turns when the paragraphs read as a transcript, else []."""
    turns: list[Turn] = []
    for paragraph in paragraphs:
        found = _speaker(paragraph)
        if found:
            turns.append(Turn(speaker=found[0], text=found[1]))
        elif turns and inside_quote:
            turns[-1].text += "\n\n" + paragraph  # a turn running over several paragraphs
        elif not inside_quote:
            return []
    return turns if _is_transcript(turns, inside_quote) else []


def _is_transcript(turns: list[Turn], inside_quote: bool) -> bool:
    speakers = [t.speaker for t in turns]
    if len(turns) < 2 or len(set(speakers)) < 2:
        return False
    if inside_quote:
        return True
    # Outside a quote a run of "Label: text" paragraphs needs more evidence: full names, or
    # speakers taking turns more than once.
    changes = sum(1 for a, b in zip(speakers, speakers[1:]) if a != b)
    return changes >= 2 or all(" " in s for s in speakers)


def _line_segments(value: str, plain: bool = False) -> list:
    """Split text into ("text", str) and ("quote", Quote) segments."""
    segments: list = []
    lines = value.split("\n")
    index = 0
    while index < len(lines):
        start = index
        if is_quote_line(lines[index]):
            while index < len(lines) and (is_quote_line(lines[index])
                                          or lines[index].strip() == ">"):
                index += 1
            quote = _marked_quote(lines[start:index])
            if quote is None:
                segments.append(("text", strip_quote_marks("\n".join(lines[start:index]))))
            else:
                segments.append(("quote", quote))
            continue
        while index < len(lines) and not is_quote_line(lines[index]):
            index += 1
        segments.extend(_text_segments("\n".join(lines[start:index]), plain))
    return segments


def _marked_quote(lines: list[str]) -> Quote | None:
    inner = "\n".join(re.sub(r"^[ \t]*> ?", "", line) for line in lines)
    # A nested "On ... wrote:" header names the quote's own source; it is not quoted text.
    inner = "\n".join(line for line in inner.split("\n")
                      if not _WROTE.match(strip_quote_marks(line).strip())).strip()
    if not inner or inner.startswith("!"):  # a Markdown ">!" spoiler rendered as a quote
        return None
    own = "\n".join(line for line in inner.split("\n") if not is_quote_line(line)).strip()
    quote = Quote(text=inner, own_text=own)
    quote.turns = _turns(_paragraphs(quote.match_text), inside_quote=True)
    return quote


def _text_segments(value: str, plain: bool) -> list:
    """Text, with transcript runs (and, in plain text, paragraphs after a lead-in) as quotes."""
    paragraphs = _paragraphs(value)
    if not paragraphs:
        return [("text", value)] if value.strip() else []
    segments: list = []
    pending: list[str] = []
    index = 0
    while index < len(paragraphs):
        run = _turn_run(paragraphs, index)
        if run:
            end, turns = run
            segments.append(("text", "\n\n".join(pending)))
            pending = []
            joined = "\n\n".join(paragraphs[index:end])
            segments.append(("quote", Quote(text=joined, own_text=joined, turns=turns)))
            index = end
            continue
        if plain and pending and _LEAD_IN.match(pending[-1]) and not _speaker(paragraphs[index]):
            segments.append(("text", "\n\n".join(pending)))
            pending = []
            body = paragraphs[index]
            segments.append(("quote", Quote(text=body, own_text=body)))
            index += 1
            continue
        pending.append(paragraphs[index])
        index += 1
    if pending:
        segments.append(("text", "\n\n".join(pending)))
    return [s for s in segments if s[0] == "quote" or s[1].strip()]


def _turn_run(paragraphs: list[str], index: int) -> tuple[int, list[Turn]] | None:
    end = index
    while end < len(paragraphs) and _speaker(paragraphs[end]):
        end += 1
    if end - index < 2:
        return None
    turns = _turns(paragraphs[index:end], inside_quote=False)
    return (end, turns) if turns else None


def _assemble(segments: list) -> list[Quote]:
    """Number the quotes, attach attributions, lead-ins and replies."""
    quotes: list[Quote] = []
    texts_after: list[list[str]] = []
    before: list[str] = []
    for kind, value in segments:
        if kind == "text":
            if quotes:
                texts_after[-1].append(value)
            before.append(value)
            continue
        quote: Quote = value
        if before and not quote.dialogue:
            last_text = before[-1]
            head, attribution = _split_attribution(last_text)
            if attribution:
                quote.attribution = quote.attribution or attribution
                before[-1] = head
                if quotes and texts_after[-1] and texts_after[-1][-1] is last_text:
                    texts_after[-1][-1] = head
            paragraphs = _paragraphs(before[-1])
            quote.lead_in = paragraphs[-1] if paragraphs else ""
        quote.position = len(quotes)
        quotes.append(quote)
        texts_after.append([])
        before = []
    following = ""
    for quote, after in zip(reversed(quotes), reversed(texts_after)):
        reply = "\n\n".join(t.strip() for t in after if t.strip()).strip()
        if quote.dialogue:
            quote.reply = ""
            continue
        # Quotes stacked with nothing in between are answered together by the next reply.
        quote.reply = strip_signature(reply) or following
        following = quote.reply
    return quotes


# A signature: "-- " (RFC 3676) or a closing ("Best,", "Thanks,") with a short name after it.
_SIG_DASHES = re.compile(r"(?m)^(?:--|__+|-- )[ \t]*$")
_CLOSING = re.compile(
    r"^(?:best|best regards|kind regards|warm regards|regards|cheers|thanks|thanks again|"
    r"many thanks|thank you|thx|ta|sincerely|yours|all the best|hth|cordially|greetings|"
    r"best wishes|bw|rgds)[,.!]*$", re.I)
_SENT_FROM = re.compile(r"^sent from my \w+", re.I)


def strip_signature(reply: str) -> str:
    """The reply without its sign-off, signature block or a stray "X wrote:" header line."""
    lines = [line for line in reply.split("\n") if not _WROTE.match(line.strip())]
    text = "\n".join(lines)
    dashes = _SIG_DASHES.search(text)
    if dashes:
        text = text[:dashes.start()]
    lines = text.rstrip().split("\n")
    # From the end: a name line or two, then the closing word itself.
    for back in range(1, min(4, len(lines)) + 1):
        line = lines[-back].strip()
        if _CLOSING.match(line) or _SENT_FROM.match(line):
            if all(len(rest.split()) <= 4 for rest in lines[-back + 1:] if back > 1):
                lines = lines[:-back]
            break
    return "\n".join(lines).strip()


def _split_attribution(value: str) -> tuple[str, str | None]:
    lines = value.rstrip().split("\n")
    match = _WROTE.match(lines[-1].strip()) if lines else None
    if not match:
        return value, None
    name = match.group("name")
    if match.group("on"):
        name = _name_from_on(match.group("on"))
    if not name or _NOT_A_NAME.match(name) or len(name.split()) > 5:
        return value, None
    return "\n".join(lines[:-1]).rstrip(), name.lstrip("@").strip()


def _name_from_on(rest: str) -> str:
    """'Mon, Jan 1, 2024 at 10:00 AM Alice Smith <a@b.org>' -> 'Alice Smith'."""
    rest = re.sub(r"<[^>]*>|\([^)]*\)", "", rest).strip().rstrip(",")
    after_time = re.split(r"\d{1,2}:\d{2}(?::\d{2})?\s*(?:[AaPp]\.?[Mm]\.?)?(?:\s*[A-Z]{2,5})?"
                          r"(?:\s*[+-]\d{4})?,?\s*", rest)
    candidate = after_time[-1].strip() if len(after_time) > 1 else rest.split(",")[-1].strip()
    return candidate.strip(", ")


# -- sentences (for a post's most-quoted passages) ---------------------------------------------


def sentences(body: str) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of a body's own text (quoted lines left out)."""
    return [(a, b) for a, b in sentence_spans(own_text(body)) if b - a > 1]
