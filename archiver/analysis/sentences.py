"""Split forum text into sentences, knowing which ones are quotes, code, list items or headings.

Forum bodies (``body_text`` from archiver.kernel.text) are not clean prose: they hold ``> `` quote lines
(the text being replied to), code, bulleted and numbered lists, URLs, abbreviations such as "e.g.",
"et al." or "Fig. 3", decimals, and gaps where LaTeX was lost ("the loss  is minimised ."). A
general-purpose splitter (or NLTK's punkt, which needs a data download) cuts these in the wrong
places, so this module does it with a few rules:

1. Lines are grouped into blocks: quote blocks (``>``), fenced or code-looking lines, list items,
   headings, and paragraphs.
2. Inside a block, a sentence ends at ``.``/``!``/``?`` followed by space and a capital, a digit or
   an opening quote/bracket, unless the period belongs to an abbreviation, an initial, a URL,
   inline code or inline math.

``candidates`` returns the sentences a summary may quote: the writer's own prose and list items,
never quoted text (a quote is not its quoter's claim), code, headings, or fragments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Abbreviations after which a period does not end a sentence (lower case, with the period).
ABBREVIATIONS = frozenset("""
e.g. i.e. cf. vs. v. viz. al. approx. ca. resp. ibid. op. incl. esp. a.k.a. u.s. u.k. e.u. u.n.
ph.d. m.sc. b.sc.
""".split())
# Only when written with a capital: "Dr. Who" but "we reached the sun. Then".
CAPITALISED = frozenset("""
dr. mr. mrs. ms. prof. st. jr. sr. inc. ltd. co. corp. dept. univ. gen. gov. rep. sen.
jan. feb. mar. apr. jun. jul. aug. sep. sept. oct. nov. dec. mon. tue. wed. thu. fri. sat. sun.
""".split())
# Only before a number or a label: "Fig. 3", "Sec. 2.1", "App. B", but "I said no. Then".
NUMBERED = frozenset("""
fig. figs. eq. eqs. eqn. eqns. sec. sect. secs. ch. chap. no. nos. vol. vols. pp. p. para. ref.
refs. tab. app. thm. lem. def. prop. cor. ex. alg.
""".split())
LABEL = re.compile(r"\(?(\d|[A-Z](?![a-z])|[IVX]+\b)")

# Spans in which a period never ends a sentence.
PROTECTED = re.compile(
    r"https?://[^\s<>\"']*[^\s<>\"'.,;:!?)\]]"  # URLs, without trailing punctuation
    r"|www\.[^\s<>\"']*[^\s<>\"'.,;:!?)\]]"
    r"|[\w.+-]+@[\w-]+\.[\w.-]*\w"  # e-mail addresses
    r"|`[^`\n]+`"  # inline code
    r"|\$[^$\n]{1,200}\$"  # inline TeX math that survived
    r"|\\\(.{1,200}?\\\)"
)
URL = re.compile(r"(https?://|www\.)\S+")
BOUNDARY = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(\s+)(?=[\"'\u201c\u2018(\[*_]?[A-Z0-9])")
LIST_ITEM = re.compile(r"^(?:[-*+\u2022\u2023\u25e6]|\d{1,3}[.)]|[a-z]\)|\(\w{1,3}\))\s+")
FENCE = re.compile(r"^(```|~~~)")
QUOTE = re.compile(r"^\s*>+\s?")
ATTRIBUTION = re.compile(r"^(on .{4,100} wrote:|.{1,60} (wrote|said|writes|says):)$", re.I)
CODE_START = re.compile(
    r"^(def |class |import |from [\w.]+ import |return\b|if \(|for \(|while \(|#include|"
    r"public |private |function\b|const |let |var |print\(|\$ |>>> |\.\.\. |SELECT |pip install)"
)
CODE_CHARS = set("{}[]();=<>+*/\\|&^%$#@_~")
# Gaps left where LaTeX or an image was lost: "the loss  ." / "where , and" / "( )".
MATH_GAP = re.compile(r"\s[.,;:!?](?:\s|$)|\(\s*[,)]|\[\s*\]|\s=\s*[.,;]|^[,.;:]")
TERMINAL = re.compile(r"[.!?:;)\"'\u201d\u2019]$")


@dataclass(frozen=True)
class Sentence:
    text: str
    kind: str = "prose"  # prose | item | quote | code | heading
    block: int = 0  # index of the block (paragraph, list item, quote, code) it came from
    position: int = 0  # index of the sentence in the whole text

    @property
    def quoted(self) -> bool:
        return self.kind == "quote"

    @property
    def words(self) -> int:
        return len(self.text.split())


def split(text: str | None) -> list[Sentence]:
    """Every sentence of ``text`` in order, each tagged with the kind of block it came from."""
    out: list[Sentence] = []
    for number, (kind, block) in enumerate(_blocks(text or "")):
        if kind in ("code", "heading"):
            pieces = [block]
        else:
            pieces = split_sentences(block)
        for piece in pieces:
            out.append(Sentence(piece, kind, number, len(out)))
    return out


def candidates(text: str | None, min_words: int = 4, max_words: int = 80) -> list[Sentence]:
    """The sentences a summary may quote: the writer's own prose, never quotes/code/headings."""
    return [s for s in split(text) if is_candidate(s, min_words, max_words)]


def is_candidate(sentence: Sentence, min_words: int = 4, max_words: int = 80) -> bool:
    if sentence.kind not in ("prose", "item"):
        return False
    plain = URL.sub("", sentence.text)  # a link is not prose: count the words around it
    if not (min_words <= len(plain.split()) and sentence.words <= max_words):
        return False
    if has_math_gap(sentence.text):
        return False
    letters = sum(map(str.isalpha, plain))
    return letters >= 0.5 * len(plain)  # mostly numbers or symbols: not prose


def has_math_gap(sentence: str) -> bool:
    """True when the sentence reads badly because math or an image was lost from it."""
    return bool(MATH_GAP.search(sentence))


def split_sentences(paragraph: str) -> list[str]:
    """Split one paragraph (no quote/code lines) into sentences."""
    paragraph = re.sub(r"\s+", " ", paragraph).strip()
    return [paragraph[start:end] for start, end in _line_spans(paragraph)]


def spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence of ``text``, as offsets into it (for matching quotes to
    the sentences they come from): ``split_sentences``' rules, and a line break always ends a
    sentence. Lines of blanks (``quotes.own_text`` blanks quoted lines) hold none."""
    out: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        out += [(line.start() + a, line.start() + b) for a, b in _line_spans(line.group())]
    return out


def _line_spans(line: str) -> list[tuple[int, int]]:
    protected = [m.span() for m in PROTECTED.finditer(line)]
    pieces, start = [], 0
    for match in BOUNDARY.finditer(line):
        if _inside(match.start(), protected) or _abbreviation(line, match.start()):
            continue
        pieces.append((start, match.start(1)))  # just after the punctuation (and closing quotes)
        start = match.end(1)
    pieces.append((start, len(line)))
    out = []
    for start, end in pieces:
        piece = line[start:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            out.append((start + lead, start + len(piece.rstrip())))
    return out


def _inside(index: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= index < b for a, b in spans)


def _abbreviation(text: str, dot: int) -> bool:
    """Is the punctuation at ``dot`` the period of an abbreviation or an initial?"""
    if text[dot] != ".":
        return False
    token = text[:dot + 1].rsplit(None, 1)[-1].lstrip("([{\"'\u201c\u2018")
    lower = token.lower()
    if lower in ABBREVIATIONS or (lower in CAPITALISED and token[0].isupper()):
        return True
    if lower in NUMBERED:
        return bool(LABEL.match(text[dot + 1:].lstrip()))
    if re.fullmatch(r"(?:[a-z]\.){2,}", lower):  # i.i.d., w.r.t.
        return True
    # A single capital initial ("J. Smith", "A. Turing"), but not a one-letter sentence end.
    return bool(re.fullmatch(r"[A-Z]\.", token)) and dot >= 2


def _blocks(text: str) -> list[tuple[str, str]]:
    """Group lines into (kind, text) blocks: quote, code, item, heading, prose."""
    blocks: list[tuple[str, str]] = []
    kind, lines = "", []
    fenced = False

    def flush():
        nonlocal kind, lines
        if lines:
            body = "\n".join(lines) if kind == "code" else " ".join(lines)
            blocks.append((kind or "prose", body))
        kind, lines = "", []

    for raw in text.splitlines():
        line = raw.strip()
        if FENCE.match(line):
            flush()
            fenced = not fenced
            continue
        if fenced:
            kind = "code"
            lines.append(raw)
            continue
        if QUOTE.match(raw):
            inner = QUOTE.sub("", raw).strip()
            if kind != "quote":
                flush()
                kind = "quote"
            if inner:
                lines.append(inner)
            else:  # a bare ">" separates quoted paragraphs
                flush()
                kind = "quote"
            continue
        if not line:
            flush()
            continue
        if ATTRIBUTION.match(line):
            flush()
            continue
        if looks_like_code(line):
            if kind != "code":
                flush()
                kind = "code"
            lines.append(line)
            continue
        item = LIST_ITEM.match(line)
        if item:
            flush()
            kind = "item"
            lines.append(line[item.end():])
            continue
        if kind in ("code", "quote"):
            flush()
        lines.append(line)
        if not kind:
            kind = "prose"
    flush()
    return [(_heading(kind, body, i, len(blocks)), body) for i, (kind, body) in enumerate(blocks)]


def _heading(kind: str, body: str, index: int, count: int) -> str:
    """A short line with no end punctuation followed by more text is a heading, not a sentence."""
    if kind == "prose" and index < count - 1 and len(body.split()) <= 8 and not TERMINAL.search(body):
        return "heading"
    return kind


def looks_like_code(line: str) -> bool:
    if CODE_START.match(line):
        return True
    if line.endswith((";", "{", "}")) and not line.endswith(("};", ":)", ";)")):
        return True
    if len(line) < 6:
        return False
    symbols = sum(map(CODE_CHARS.__contains__, line))
    words = len(re.findall(r"[A-Za-z]{3,}", line))
    return symbols >= 0.18 * len(line) and symbols >= 4 and words < 8
