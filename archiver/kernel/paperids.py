"""Paper identifiers and titles, normalised: arXiv ids, DOIs, title keys.

Pure functions shared by the researcher sources (which normalise what the APIs send), the store
(which merges papers by these keys) and the analysis (which finds mentions): so it sits in the
kernel, below all three.
"""

from __future__ import annotations

import re

# Archives that used old-style identifiers (archive/YYMMNNN) before April 2007.
OLD_ARCHIVES = (
    "acc-phys adap-org alg-geom ao-sci astro-ph atom-ph bayes-an chao-dyn chem-ph cmp-lg comp-gas "
    "cond-mat cs dg-ga funct-an gr-qc hep-ex hep-lat hep-ph hep-th math math-ph mtrl-th nlin "
    "nucl-ex nucl-th patt-sol physics plasm-ph q-alg q-bio q-fin quant-ph solv-int stat supr-con"
).split()
OLD_ARCHIVE_RE = "|".join(sorted((re.escape(a) for a in OLD_ARCHIVES), key=len, reverse=True))
NEW_ID = re.compile(r"^(\d{4})\.(\d{4,5})(?:v\d+)?$")
OLD_ID = re.compile(rf"^({OLD_ARCHIVE_RE})(?:\.[A-Za-z-]{{2,}})?/(\d{{7}})(?:v\d+)?$", re.I)
ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(.+)$", re.I)
_ARXIV_PREFIX = re.compile(
    r"^(?:arxiv:|https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/)", re.I)
_DOI_PREFIX = re.compile(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)", re.I)
_NON_WORD = re.compile(r"[\W_]+")

# A title shorter than this (normalised) is too generic to merge papers by ("Introduction").
TITLE_KEY_MIN_CHARS = 16
TITLE_KEY_MIN_WORDS = 3


def plausible_new_id(yymm: str, number: str) -> bool:
    """New-style ids began in 2007-04 with 4 digits; 5 digits from 2015-01 on."""
    if not 1 <= int(yymm[2:]) <= 12 or yymm < "0704":
        return False
    return (len(number) == 4) == (yymm < "1501")


def normalise_arxiv_id(value: str | None) -> str | None:
    """``arXiv:2404.16014v2`` / an abs or pdf URL / ``math.AG/0309136v1`` -> ``2404.16014`` /
    ``math/0309136`` (no version, no subject class: the canonical identifier); None if invalid."""
    if not value:
        return None
    text = _ARXIV_PREFIX.sub("", str(value).strip())
    text = re.sub(r"\.pdf$", "", text)
    match = NEW_ID.match(text)
    if match:
        return f"{match[1]}.{match[2]}" if plausible_new_id(match[1], match[2]) else None
    match = OLD_ID.match(text)
    if match:
        return f"{match[1].lower()}/{match[2]}"
    return None


def normalise_doi(value: str | None) -> str | None:
    """Lower-case DOI without resolver prefix or trailing punctuation; None if not a DOI."""
    if not value:
        return None
    text = _DOI_PREFIX.sub("", str(value).strip()).rstrip(".,;:")
    return text.lower() if text.startswith("10.") and "/" in text else None


def split_doi(doi: str | None, arxiv_id: str | None) -> tuple[str | None, str | None]:
    """An arXiv DOI (10.48550/arXiv.X) is the arXiv id in disguise: keep ``doi`` for the others."""
    doi = normalise_doi(doi)
    arxiv_id = normalise_arxiv_id(arxiv_id)
    match = ARXIV_DOI.match(doi or "")
    if match:
        return None, arxiv_id or normalise_arxiv_id(match[1])
    return doi, arxiv_id


def normalise_title(title: str | None) -> str:
    """Words only, lower case, single spaces: ``"Attention Is All You Need!"`` ->
    ``"attention is all you need"``. Used for merging papers and for title mentions."""
    # Here, not at the top: archiver.kernel.text loads the HTML converters, and the researcher sources
    # import this module whenever the registry is read (even for --help).
    from archiver.kernel.text import fold

    if not title:
        return ""
    return _NON_WORD.sub(" ", fold(title)).strip()


def title_key(title: str | None) -> str | None:
    norm = normalise_title(title)
    if len(norm) >= TITLE_KEY_MIN_CHARS or norm.count(" ") + 1 >= TITLE_KEY_MIN_WORDS:
        return f"title:{norm}" if norm else None
    return None


def canonical_url(arxiv_id: str | None, doi: str | None, fallback: str | None) -> str | None:
    if arxiv_id:
        return f"https://arxiv.org/abs/{arxiv_id}"
    if doi:
        return f"https://doi.org/{doi}"
    return fallback
