"""Pages saved as plain text (what a browser's "copy all" or a text scraper gives): parsers for
the shapes archiver was created from (the five seeds in ../shared/seeds).

- **Researcher profile** on a paper-aggregator site (seeds 000, 001): an optional header (name, a
  category, "h-index9 6papers 227citations Novelty52% AI Score34"), then papers, each starting
  with a line such as ``LGMay 3, 2022Code`` (arXiv category code glued to the date, then an
  optional "Code" marker), then the title and authors (on their own lines, or glued together:
  ``…Loss LandscapesStanislav Fort, Surya Ganguli et al. · stanford``), then the abstract.
  Dates without a year ("Jan 12", the site's style for the current year) resolve against the
  capture date: the latest such day not after it.
- **Paper review post** (seed 003): an introduction, then papers, each as title, abstract and
  "My opinion: …", possibly flattened to one line. The title is told from the abstract by
  capitalisation (title case, or a sentence-case title followed by the abstract's first
  sentence); the opinion runs up to the next title.
- **Forum profile** (seed 004): the name, the bio, the sequences, then the user's recent comments
  as paragraphs with no marker between comments. Comments are split per paragraph, except that a
  paragraph which plainly continues the previous one stays with it (an aside in parentheses, an
  "EDIT:", a list, a footnote, a sentence starting with "Perhaps", "Tbc", "Another" …, the reply
  after a quoted dialogue, the text after a line ending in ":"). This is a best effort: the text
  itself does not say where one comment ends.

Each parser returns plain records; ``archiver.sources.saved`` turns them into Pages.
"""

from __future__ import annotations

import hashlib
import html as htmlmod
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from archiver.kernel import text
from archiver.kernel.errors import ArchiverError
from archiver.kernel.records import (
    Comment,
    Paper,
    PaperAuthor,
    Post,
    Researcher,
    ResearcherMetrics,
    ResearcherPapers,
    User,
    make_id,
)

MONTHS = {m: i for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}

# -- researcher profiles ---------------------------------------------------------------------------

PAPER_HEAD = re.compile(
    r"^(?P<cat>[A-Z][A-Z-]{0,14}?)"
    r"(?P<month>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? (?P<day>\d{1,2})"
    r"(?:, (?P<year>\d{4}))?(?P<code>\s*Code)?\s*$")
METRICS = {
    "h_index": re.compile(r"h-index\s*(\d+)", re.I),
    "i10_index": re.compile(r"i10-index\s*(\d+)", re.I),
    "works_count": re.compile(r"(\d[\d,]*)\s*papers\b", re.I),
    "citation_count": re.compile(r"(\d[\d,]*)\s*citations\b", re.I),
    "novelty_percent": re.compile(r"novelty\s*(\d+)\s*%", re.I),
    "ai_score": re.compile(r"AI\s*Score\s*(\d+)", re.I),
}

# Short arXiv subject codes as aggregators print them -> the arXiv category, most likely first.
CATEGORY_ARCHIVES = ["cs", "stat", "eess", "math", "q-bio", "q-fin", "econ", "astro-ph",
                     "cond-mat", "physics", "nlin"]
SUBJECTS = {
    "cs": "AI AR CC CE CG CL CR CV CY DB DC DL DM DS ET FL GL GR GT HC IR IT LG LO MA MM MS NA "
          "NE NI OH OS PF PL RO SC SD SE SI SY",
    "stat": "AP CO ME ML OT TH",
    "eess": "AS IV SP SY",
    "math": "AC AG AP AT CA CO CT CV DG DS FA GM GN GR GT HO IT KT LO MG MP NA NT OA OC PR QA RA "
            "RT SG SP ST",
    "q-bio": "BM CB GN MN NC OT PE QM SC TO",
    "q-fin": "CP EC GN MF PM PR RM ST TR",
    "econ": "EM GN TH",
    "astro-ph": "CO EP GA HE IM SR",
    "cond-mat": "dis-nn mes-hall mtrl-sci other quant-gas soft stat-mech str-el supr-con",
    "physics": "acc-ph ao-ph app-ph atm-clus atom-ph bio-ph chem-ph class-ph comp-ph data-an "
               "ed-ph flu-dyn gen-ph geo-ph hist-ph ins-det med-ph optics plasm-ph pop-ph soc-ph "
               "space-ph",
    "nlin": "AO CD CG PS SI",
}
WHOLE_ARCHIVES = {"quant-ph", "hep-th", "hep-ph", "hep-ex", "hep-lat", "gr-qc", "math-ph",
                  "nucl-th", "nucl-ex", "cond-mat", "astro-ph"}


def arxiv_category(code: str) -> str | None:
    """``LG`` -> ``cs.LG``, ``ML`` -> ``stat.ML``, ``QUANT-PH`` -> ``quant-ph``; None if unknown."""
    if code.lower() in WHOLE_ARCHIVES:
        return code.lower()
    for archive in CATEGORY_ARCHIVES:
        for subject in SUBJECTS[archive].split():
            if subject.upper() == code.upper():
                return f"{archive}.{subject}"
    return None


def resolve_date(month: str, day: str, year: str | None, captured: date) -> tuple[date, bool]:
    """The date, with a missing year taken as the latest year not putting it after ``captured``."""
    m, d = MONTHS[month[:3].lower()], int(day)
    if year:
        return date(int(year), m, d), False
    guess = date(captured.year, m, d)
    if guess > captured:
        guess = date(captured.year - 1, m, d)
    return guess, True


PARTICLES = {"van", "von", "der", "den", "de", "del", "della", "di", "da", "la", "le", "du",
             "dos", "das", "bin", "al", "el", "ten", "ter", "y", "zu", "st."}


def _name_token(token: str) -> bool:
    if token.lower() in PARTICLES:
        return True
    if re.fullmatch(r"[A-Z]\.?(?:-?[A-Z]\.?)*", token):  # initials: M. / J.-P. / M
        return True
    for part in re.split(r"[-'’]", token):
        if not part:
            return False
        core = re.sub(r"^(?:Mc|Mac)(?=[A-Z])", "", part)
        if not (core[0].isupper() and core.isalpha() and (len(core) == 1 or core[1:].islower())):
            return False
    return True


def is_person_name(name: str) -> bool:
    tokens = name.split()
    return 2 <= len(tokens) <= 6 and all(_name_token(t) for t in tokens) and \
        tokens[0].lower() not in PARTICLES


@dataclass
class AuthorLine:
    names: list[str]
    truncated: bool = False  # "et al."
    affiliations: list[str] = field(default_factory=list)


def parse_author_line(line: str) -> AuthorLine | None:
    """``A. B, C D et al. · stanford, openai`` -> names, et-al flag, affiliation tags."""
    line = line.strip()
    affiliations: list[str] = []
    if " · " in line:
        line, tags = line.split(" · ", 1)
        affiliations = [t.strip() for t in tags.split(",") if t.strip()]
        if not all(re.fullmatch(r"[\w&.'-]+(?: [\w&.'-]+){0,4}", t) for t in affiliations):
            return None
    truncated = bool(re.search(r",?\s+et al\.?$", line))
    line = re.sub(r",?\s+et al\.?$", "", line)
    names = [n.strip() for n in re.split(r",\s*|\s+and\s+", line) if n.strip()]
    if not names or not all(is_person_name(n) for n in names):
        return None
    return AuthorLine(names, truncated, affiliations)


def split_title_authors(line: str) -> tuple[str, AuthorLine | None]:
    """Split ``<title><authors>`` glued together: the earliest split leaving an author list."""
    for match in re.finditer(r"(?<=\S)[A-Z]", line):
        authors = parse_author_line(line[match.start():])
        if authors is not None:
            return line[:match.start()].strip(), authors
    return line.strip(), None


@dataclass
class ProfilePaper:
    code: str
    published: date
    year_assumed: bool
    date_text: str
    has_code: bool
    title: str
    authors: AuthorLine | None
    abstract: str | None


def is_researcher_profile(content: str) -> bool:
    heads = sum(1 for line in content.splitlines() if PAPER_HEAD.match(line.strip()))
    return heads >= 1 and heads >= len(content.splitlines()) / 40


def parse_researcher_profile(content: str, captured: date, url: str | None = None,
                             name: str | None = None) -> ResearcherPapers:
    lines = [line.strip() for line in content.splitlines()]
    starts = [i for i, line in enumerate(lines) if PAPER_HEAD.match(line)]
    if not starts:
        raise ArchiverError("no papers found in the researcher profile (expected lines such as "
                            "'LGMay 3, 2022' before each paper)")
    header = [line for line in lines[:starts[0]] if line]
    papers = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        papers.append(_profile_paper(lines[start], [x for x in lines[start + 1:end] if x],
                                     captured))
    name = name or _header_name(header) or _most_common_author(papers)
    if not name:
        raise ArchiverError("cannot tell whose profile this is; pass --name")
    slug = re.sub(r"[^a-z0-9]+", "-", text.fold(name)).strip("-")
    researcher = Researcher(
        id=make_id("import", slug), source="import", source_id=slug, name=name, url=url,
        topics=[c for c in (arxiv_category(x) for x in header if re.fullmatch(r"[A-Z-]{2,9}", x))
                if c],
        extra={"profile": "paper aggregator (saved page)"},
    )
    metrics = _metrics(researcher.id, " ".join(header), captured)
    return ResearcherPapers(
        researcher=researcher,
        papers=[_paper_record(p, researcher) for p in papers],
        metrics=metrics,
    )


def _header_name(header: list[str]) -> str | None:
    for line in header:
        if is_person_name(line):
            return line
    return None


def _most_common_author(papers: list[ProfilePaper]) -> str | None:
    counts = Counter(n for p in papers if p.authors for n in p.authors.names)
    if not counts:
        return None
    name, hits = counts.most_common(1)[0]
    return name if hits >= max(2, len(papers) // 3) else None


def _metrics(researcher_id: str, header: str, captured: date) -> ResearcherMetrics | None:
    found = {}
    for key, pattern in METRICS.items():
        match = pattern.search(header)
        if match:
            found[key] = int(match.group(1).replace(",", ""))
    if not found:
        return None
    extra = {k: found[k] for k in ("novelty_percent", "ai_score") if k in found}
    return ResearcherMetrics(
        researcher_id=researcher_id, captured_at=captured.isoformat() + "T00:00:00Z",
        h_index=found.get("h_index"), i10_index=found.get("i10_index"),
        works_count=found.get("works_count"), citation_count=found.get("citation_count"),
        extra=extra or None,
    )


def _profile_paper(head: str, body: list[str], captured: date) -> ProfilePaper:
    match = cast("re.Match[str]", PAPER_HEAD.match(head))  # the caller passes only such lines
    published, assumed = resolve_date(match["month"], match["day"], match["year"], captured)
    date_text = head[len(match["cat"]):].replace("Code", "").strip()
    authors: AuthorLine | None = None
    abstract: str | None
    if len(body) >= 3 and parse_author_line(body[1]) is not None:
        title, authors, abstract = body[0], parse_author_line(body[1]), " ".join(body[2:])
    elif body:
        title, authors = split_title_authors(body[0])
        abstract = " ".join(body[1:]) or None
    else:
        title, abstract = "", None
    return ProfilePaper(match["cat"], published, assumed, date_text, bool(match["code"]),
                        title, authors, abstract)


def _paper_record(p: ProfilePaper, researcher: Researcher) -> Paper:
    category = arxiv_category(p.code)
    names = p.authors.names if p.authors else []
    extra: dict[str, Any] = {"category_code": p.code, "date_text": p.date_text}
    if p.year_assumed:
        extra["year_assumed"] = True
    if p.authors and p.authors.truncated:
        extra["authors_truncated"] = True
    if p.authors and p.authors.affiliations:
        extra["affiliations"] = p.authors.affiliations
    return Paper(
        source="import", title=p.title or None, abstract=p.abstract,
        published=p.published.isoformat(), year=p.published.year,
        categories=[category] if category else [], primary_category=category,
        has_code=p.has_code,
        authors=[PaperAuthor(name=n, position=i,
                             researcher_id=researcher.id if n == researcher.name else None)
                 for i, n in enumerate(names)],
        extra=extra,
    )


# -- paper review posts ----------------------------------------------------------------------------

OPINION = re.compile(r"\bMy (?:opinion|take|thoughts)\s*:\s*", re.I)
# Words allowed in lower case inside a title-case title.
FUNCTION = set("a an the of in on for to and or with via from by at as into through vs versus "
               "without under over about is are do does not beyond towards toward using than "
               "when what how why can".split())
NOT_IN_TITLES = {"i", "i'm", "i've", "i'd", "i'll", "we", "my", "our", "you", "your", "me",
                 "here", "paper", "al.", "al.'s"}
NOT_STARTERS = {"i", "i'm", "i've", "i'd", "i'll"}
INTRO_HEADINGS = ("Introduction", "Intro", "Overview")
PAPERS_HEADINGS = ("Papers", "The papers", "This week's papers", "Paper list")
OUTRO_HEADINGS = ("Going forward", "Conclusion", "Conclusions", "Closing thoughts",
                  "Final thoughts", "Wrapping up", "Next week")
SENTENCE_START = re.compile(r"(?:(?<=[.!?])[\"”’')\]]*\s+|\n\s*\n\s*)(?=[\"“‘(]?[A-Z0-9])")
WORD = re.compile(r"\S+")


@dataclass
class ReviewedPaper:
    title: str
    abstract: str
    opinion: str


@dataclass
class ReviewPost:
    intro: str
    papers: list[ReviewedPaper]
    outro: str | None = None
    outro_heading: str | None = None


def is_review_post(content: str) -> bool:
    return len(OPINION.findall(content)) >= 2


def parse_review_post(content: str) -> ReviewPost:
    body = re.sub(r"[ \t]+", " ", content.strip())
    markers = list(OPINION.finditer(body))
    if not markers:
        raise ArchiverError("no 'My opinion:' paragraphs found in the review post")
    intro, pending = _split_before_title(body[:markers[0].start()], first=True)
    if pending is None:
        raise ArchiverError("cannot find the first reviewed paper's title before 'My opinion:'")
    headings = "|".join(re.escape(h) for h in PAPERS_HEADINGS)
    intro = re.sub(rf"\s*\b(?:{headings})\s*$", "", intro)  # the list's heading is rebuilt
    post = ReviewPost(intro.strip(), [])
    for n, marker in enumerate(markers):
        last = n + 1 == len(markers)
        segment = body[marker.end():len(body) if last else markers[n + 1].start()]
        if last:
            opinion, post.outro_heading, post.outro = _split_outro(segment)
            following = None
        else:
            opinion, following = _split_before_title(segment)
        if pending is not None:
            post.papers.append(ReviewedPaper(pending[0], pending[1], opinion.strip()))
        else:  # no title found before this opinion: keep its text with the previous one
            post.papers[-1].opinion += " " + marker.group() + opinion.strip()
        pending = following
    return post


def _split_before_title(segment: str, first: bool = False):
    """(text before the title, (title, abstract)) for the first plausible title in ``segment``."""
    starts = [0] + [m.end() for m in SENTENCE_START.finditer(segment)]
    for start in starts:
        found = _title_at(segment, start)
        if found is None:
            continue
        t_start, t_end, a_start = found
        title = segment[t_start:t_end].strip()
        if first:
            for heading in PAPERS_HEADINGS:
                if title.startswith(heading + " "):
                    title = title[len(heading):].strip()
        return segment[:t_start], (title, segment[a_start:].strip())
    return segment, None


def _is_titley(word: str) -> bool:
    core = word.strip("\"“”‘’'()[]")
    if not core:
        return False
    return core[0].isupper() or core[0].isdigit() or core[0] in "$" or core.lower() in FUNCTION


def _is_starter(word: str, following: str | None) -> bool:
    """A word that can open an abstract: ``We``, ``Recent``, ``A`` followed by a lower-case word."""
    core = word.strip("\"“(")
    if not core or not core[0].isupper() or core.lower().rstrip(".,") in NOT_STARTERS:
        return False
    if len(core) > 1 and not core[1:].replace("-", "").isalpha():
        return False
    if len(core) > 1 and not core[1:].islower():
        return False  # an acronym such as GPT or MLP
    if following is None:
        return False
    nxt = following.strip("\"“(")
    return bool(nxt) and nxt[0].islower() and nxt.lower() not in FUNCTION


def _title_at(segment: str, start: int):
    """If a title starts at (or inside the sentence from) ``start``: (title start, end, abstract)."""
    end = SENTENCE_START.search(segment, start + 1)
    stop = end.start() if end else len(segment)
    words = [(m.group(), m.start()) for m in WORD.finditer(segment, start, stop)]
    plain = [w for w, _ in words]
    if end and "\n" in end.group() and _paragraph_title(plain, segment[end.end():]):
        return words[0][1], stop, end.end()  # the title is a paragraph of its own
    for j in range(2, len(words)):
        if not _is_starter(plain[j], plain[j + 1] if j + 1 < len(plain) else None):
            continue
        begin = j
        while begin > 0 and _is_titley(plain[begin - 1]):
            begin -= 1
        if begin == 0 or j - begin >= 3:
            first = begin
        elif not _is_titley(plain[j - 1]) or not plain[j - 1][0].isalpha() or \
                plain[j - 1].isupper() or not plain[j - 1][1:].islower():
            first = 0  # a sentence-case title ("Using cognitive psychology to understand GPT-3")
        else:
            continue
        title = plain[first:j]
        if _good_title(title) and len(plain) - j >= 4:
            last = words[j - 1]
            return words[first][1], last[1] + len(last[0]), words[j][1]
    return None


def _paragraph_title(words: list[str], following: str) -> bool:
    """A short paragraph without closing punctuation, followed by an abstract-like paragraph
    (no first person: that would be the reviewer writing, not an abstract)."""
    if not 2 <= len(words) <= 30 or re.search(r"[.!?:;,]$", words[-1]):
        return False
    abstract = re.split(r"\n\s*\n", following.strip(), maxsplit=1)[0]
    return len(abstract.split()) >= 4 and not re.search(r"\b(?:I|I'm|I've|my)\b", abstract)


def _good_title(words: list[str]) -> bool:
    if not 2 <= len(words) <= 30:
        return False
    lowered = [w.lower().strip("\"“”,.()") for w in words]
    if any(w in NOT_IN_TITLES for w in lowered) or "this paper" in " ".join(lowered):
        return False
    last = words[-1]
    return last.lower() not in FUNCTION and not last.endswith((",", ";", ":"))


def _split_outro(opinion: str):
    for heading in OUTRO_HEADINGS:
        match = re.search(rf"(?:(?<=[.!?])[\"”’)]*\s+|\n\s*\n\s*){re.escape(heading)}\b\s*",
                          opinion)
        if match:
            return opinion[:match.start()], heading, opinion[match.end():].strip()
    return opinion, None, None


def review_body_html(review: ReviewPost) -> str:
    """The post rebuilt with structure: intro, one section per paper, the outro."""
    parts = []
    intro = review.intro
    for heading in INTRO_HEADINGS:
        if intro.startswith(heading + " ") or intro.startswith(heading + "\n"):
            parts.append(f"<h2>{heading}</h2>")
            intro = intro[len(heading):].strip()
            break
    parts += _paragraphs(intro)
    if review.papers:
        parts.append("<h2>Papers</h2>")
    for paper in review.papers:
        parts.append(f"<h3>{htmlmod.escape(paper.title)}</h3>")
        parts.append("<blockquote>" + "".join(_paragraphs(paper.abstract)) + "</blockquote>")
        opinion = _paragraphs(paper.opinion) or ["<p></p>"]
        opinion[0] = opinion[0].replace("<p>", "<p><strong>My opinion:</strong> ", 1)
        parts += opinion
    if review.outro:
        parts.append(f"<h2>{htmlmod.escape(review.outro_heading or '')}</h2>")
        parts += _paragraphs(review.outro)
    return "".join(parts)


def _paragraphs(value: str) -> list[str]:
    from archiver.sources.blog import paragraph_html

    return [paragraph_html(p.strip()) for p in re.split(r"\n\s*\n", value) if p.strip()]


def review_records(review: ReviewPost, post: Post):
    """The opinion comments and the reviewed papers of a review post."""
    comments, papers = [], []
    for n, item in enumerate(review.papers):
        source_id = f"{post.source_id}/review-{n + 1}"
        comments.append(Comment(
            id=make_id(post.site_id, source_id), site_id=post.site_id, source_id=source_id,
            post_id=post.id, user_id=post.user_id, author=post.author, url=post.url,
            posted_at=post.posted_at,
            body_html="".join(_paragraphs(item.opinion)),
            extra={"review_of": item.title, "position": n},
        ))
        papers.append(Paper(source="import", title=item.title, abstract=item.abstract or None,
                            extra={"reviewed_in": post.id}))
    return comments, papers


# -- forum profiles --------------------------------------------------------------------------------

PROFILE_LABELS = {"wiki contributions", "posts", "comments", "sequences", "recent comments",
                  "recent posts", "load more", "show more", "tags"}
CONTINUES = re.compile(
    r"^(?:\(|\[|\.\.\.|…|EDIT\b|Edit:|ETA\b|Update:|Tbc\b|TBC\b|To be clear|Also\b|And\b|But\b|"
    r"So\b|Though\b|However\b|Further\b|Furthermore\b|Moreover\b|Another\b|It also\b|Perhaps\b|"
    r"In principle\b|E\.g\.|I\.e\.|That is\b|Similarly\b|Relatedly\b|\d+\.\s*\^|\^|[•*\-–]\s)")
# "Daniel Filan: …" (a speaker's turn in a quoted transcript; not "EDIT: …").
DIALOGUE = re.compile(r"^[A-Z][a-z][\w.'’-]*(?: [A-Z][\w.'’-]*){0,3}: \S")


@dataclass
class ForumProfile:
    name: str
    bio: str | None
    sequences: list[str]
    comments: list[list[str]]  # each comment as its paragraphs


def is_forum_profile(content: str) -> bool:
    lines = [line.strip().lower() for line in content.splitlines() if line.strip()]
    return bool(lines) and (lines[-1] in ("load more", "show more") or
                            "wiki contributions" in lines[:12])


def parse_forum_profile(content: str) -> ForumProfile:
    blocks = [b for b in re.split(r"\n[ \t]*\n[ \t]*\n", content.strip("\n")) if b.strip()]
    first = [p.strip() for p in re.split(r"\n\s*\n", blocks[0]) if p.strip()]
    name = first[0].splitlines()[0].strip()
    if len(name.split()) > 6:
        raise ArchiverError("the saved profile does not start with the user's name")
    bio = "\n\n".join(first[1:]) or None
    rest = blocks[1:]
    sequences = []
    while rest and _is_list_block(rest[0]):
        sequences += [line.strip() for line in rest[0].splitlines()
                      if line.strip() and line.strip().lower() not in PROFILE_LABELS]
        rest = rest[1:]
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", "\n\n".join(rest)) if p.strip()]
    while paragraphs and paragraphs[-1].strip().lower() in PROFILE_LABELS:
        paragraphs.pop()
    return ForumProfile(name, bio, sequences, split_comments(paragraphs))


def _is_list_block(block: str) -> bool:
    lines = [line.strip() for line in block.splitlines() if line.strip()]
    return bool(lines) and all(len(line) <= 80 and not re.search(r"[.!?]$", line)
                               for line in lines)


def split_comments(paragraphs: list[str]) -> list[list[str]]:
    comments: list[list[str]] = []
    for raw in paragraphs:
        para = raw.strip()
        if comments and _continues(comments[-1][-1], raw):
            comments[-1].append(para)
        else:
            comments.append([para])
    return comments


def _continues(previous: str, raw: str) -> bool:
    para = raw.strip()
    if raw[:1] in (" ", "\t") or para[:1].islower():
        return True  # indented (list, footnote body) or a sentence cut across paragraphs
    if CONTINUES.match(para):
        return True
    if previous.rstrip().endswith(":") and not DIALOGUE.match(previous.strip()):
        return True  # "From this post:" then the quote
    if DIALOGUE.match(previous.strip()):
        return True  # the rest of a quoted exchange, or the reply to it
    if _heading_line(previous) or _heading_line(para):
        return True  # a heading inside a quoted passage, and the text under it
    return False


def _heading_line(para: str) -> bool:
    para = para.strip()
    return "\n" not in para and len(para) <= 60 and not re.search(r"[.!?:;,)\]\"”]$", para) and \
        len(para.split()) <= 8 and para[:1].isupper()


def comment_html(paragraphs: list[str]) -> str:
    """Paragraphs as HTML; a quoted dialogue at the start ("Name: …" turns) becomes a quote."""
    from archiver.sources.blog import paragraph_html

    quoted = 0
    while quoted < len(paragraphs) and DIALOGUE.match(paragraphs[quoted]):
        quoted += 1
    if quoted < 2:
        quoted = 0
    parts = ["".join(paragraph_html(p) for p in paragraphs[:quoted])]
    parts[0] = f"<blockquote>{parts[0]}</blockquote>" if parts[0] else ""
    parts += [paragraph_html(p) for p in paragraphs[quoted:]]
    return "".join(parts)


def profile_records(profile: ForumProfile, site_id: str, slug: str, user_id: str,
                    url: str | None, captured: date):
    """The user (full profile), a placeholder post holding the comments, and the comments."""
    user = User(id=user_id, site_id=site_id, source_id=user_id.split(":", 1)[-1], slug=slug,
                name=profile.name, url=url,
                bio_html="".join(_paragraphs(profile.bio)) if profile.bio else None, stub=False)
    holder = Post(
        id=make_id(site_id, f"profile-comments/{slug}"), site_id=site_id,
        source_id=f"profile-comments/{slug}", url=url, user_id=None,
        title=f"Comments on {profile.name}'s profile page (their posts are not known)",
        kind="profile-comments",
        extra={"placeholder": True, "profile_of": user_id},
    )
    comments = []
    for n, paragraphs in enumerate(profile.comments):
        body = comment_html(paragraphs)
        digest = hashlib.sha1((text.html_to_text(body) or "").encode()).hexdigest()[:16]
        comments.append(Comment(
            id=make_id(site_id, f"saved-{digest}"), site_id=site_id, source_id=f"saved-{digest}",
            post_id=holder.id, user_id=user_id, author=profile.name, body_html=body,
            extra={"position": n, "from_profile": True},
        ))
    return user, holder, comments
