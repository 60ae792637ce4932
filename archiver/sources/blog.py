"""Research blogs: one article page in, one ``Post`` (kind ``blog``) with its sections out.

Extraction uses **trafilatura**: it is maintained, benchmarks at the top of the open-source
main-text extractors, reads the metadata we need (title, author, publication date, site name,
canonical URL) from meta tags, JSON-LD and bylines, and can emit the article as structured HTML
(headings, lists, quotes, links, images kept) rather than flat text, so sections by heading survive.
readability-lxml keeps more page chrome and finds no author or date. BeautifulSoup is not needed:
lxml (already used by trafilatura and archiver.kernel.text) walks the extracted HTML.

Two cleanups run on what trafilatura returns:

- **Repeated renderings.** Some pages carry their text twice (a plain and a formatted rendering,
  an AMP or no-script copy). ``drop_repeated_run`` finds a run of blocks whose text, compared
  without whitespace and punctuation, is already contained in the blocks before it, and drops it.
  Glued words ("framingandanchoringbiases") and re-split paragraphs still match, since whitespace
  does not count.
- **Sections.** ``split_sections`` cuts the body at every heading; each section keeps its heading,
  its level (0 for the text before the first heading) and its plain text.

Post ids are ``blog:<host>:<path>`` (``www.`` dropped, query and fragment dropped), so the same
article fetched by ``archiver page`` or found in a feed lands on the same row.
"""

from __future__ import annotations

import html as htmlmod
import logging
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import lxml.html

from archiver.kernel import text
from archiver.kernel.errors import FetchError, NotFound, UsageError
from archiver.kernel.records import Page, Post, Site, iso_utc, make_id

log = logging.getLogger("archiver.blog")

HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
# A block shorter than this (after normalising) cannot start a repeated run on its own: short
# headings such as "Robustness" legitimately recur.
MIN_RUN_START = 40
# Fewer words than this is a menu, a cookie notice or a stub, not an article.
MIN_ARTICLE_WORDS = 20


@dataclass
class Section:
    """One section of a post body, cut at a heading (stored in ``post_sections``)."""

    post_id: str
    position: int
    heading: str | None
    level: int  # 1-6 for h1-h6; 0 for the text before the first heading
    body_text: str


@dataclass
class Article:
    url: str | None
    title: str | None
    body_html: str
    author: str | None = None
    published: str | None = None
    site_name: str | None = None
    description: str | None = None
    extra: dict = field(default_factory=dict)


# -- URLs and sites ----------------------------------------------------------------------------


def check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"not a web page URL: {url!r}; expected http(s)://host/path")
    return url


def host_of(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host[4:] if host.startswith("www.") else host


def site_for(url: str | None, name: str | None = None) -> Site:
    """``blog:<host>`` for a URL; ``saved`` when the page's origin is unknown."""
    if not url:
        return Site(id="saved", name="Saved pages of unknown origin", url="", kind="saved")
    parts = urlsplit(url)
    host = host_of(url)
    return Site(id=f"blog:{host}", name=name or host, url=f"{parts.scheme}://{parts.netloc}",
                kind="blog")


def post_source_id(url: str) -> str:
    """The path of an article URL, without query, fragment or trailing slash."""
    path = urlsplit(url).path.rstrip("/") or "/"
    return path


def canonical_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", "", ""))


def post_id_for(url: str) -> str:
    return make_id(site_for(url).id, post_source_id(url))


# -- fetching ----------------------------------------------------------------------------------


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Decode with the declared charset, else the page's meta charset, else UTF-8 / cp1252."""
    candidates = []
    match = re.search(r"charset=([\w.-]+)", content_type or "", re.I)
    if match:
        candidates.append(match.group(1))
    meta = re.search(rb"<meta[^>]+charset=[\"']?([\w.-]+)", body[:4096], re.I)
    if meta:
        candidates.append(meta.group(1).decode("ascii", "ignore"))
    candidates.append("utf-8")
    for encoding in candidates:
        try:
            return body.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("cp1252", errors="replace")


def fetch_html(http, url: str) -> tuple[str, str]:
    """GET a page; returns (final URL, decoded HTML) or raises a clear FetchError."""
    response = http.request("GET", url, headers={"Accept": "text/html,application/xhtml+xml"})
    kind = response.headers.get("Content-Type", "")
    if kind and not re.search(r"html|xml|text/plain", kind, re.I):
        raise FetchError(f"{url}: not a web page (Content-Type {kind.split(';')[0]}); "
                         "archiver page reads HTML articles")
    return response.url or url, decode_html(response.content, kind)


def fetch_page(http, url: str) -> Page:
    """Fetch one article and return it as a Page (post + site + sections)."""
    final_url, html = fetch_html(http, check_url(url))
    if not re.search(r"<(?:html|body|p|div|article)\b", html[:20000], re.I):
        return article_page(article_from_text(html, final_url))  # a text/plain article
    return article_page(extract_article(html, final_url))


# -- extraction --------------------------------------------------------------------------------


def extract_article(html: str, url: str | None = None) -> Article:
    """Main text and metadata of an article page; NotFound when there is no article in it."""
    import trafilatura

    body = trafilatura.extract(
        html, url=url, output_format="html", include_comments=False, include_tables=True,
        include_images=True, include_links=True, include_formatting=True, favor_recall=True,
    )
    if not body or len((text.html_to_text(body) or "").split()) < MIN_ARTICLE_WORDS:
        where = url or "the page"
        raise NotFound(f"no article found in {where}: the page has no readable main text "
                       "(a front page, a login wall or a page built by JavaScript?)")
    meta = trafilatura.extract_metadata(html, default_url=url)
    title = _clean(meta.title) if meta else None
    page_url = _canonical(meta.url if meta else None, url)
    blocks = _blocks(body)
    if title and blocks and blocks[0].tag == "h1" and _norm(blocks[0].text_content()) == _norm(title):
        blocks = blocks[1:]  # the title repeated as the first heading
    kept = drop_repeated_run(blocks, lambda el: el.text_content())
    body_html = "".join(lxml.html.tostring(el, encoding="unicode") for el in kept)
    return Article(
        url=page_url, title=title, body_html=body_html,
        author=_clean(meta.author) if meta else None,
        published=_published(html) or (iso_utc(meta.date) if meta and meta.date else None),
        site_name=_clean(meta.sitename) if meta else None,
        description=_clean(meta.description) if meta else None,
    )


def _canonical(found: str | None, fetched: str | None) -> str | None:
    """Prefer the page's canonical URL when it is on the same site as the fetched one."""
    if found and fetched and host_of(found) == host_of(fetched):
        return canonical_url(found)
    if fetched:
        return canonical_url(fetched)
    return canonical_url(found) if found and urlsplit(found).scheme in ("http", "https") else None


def _published(html: str) -> str | None:
    """The exact publication timestamp from the usual meta tags (trafilatura keeps only the day)."""
    match = re.search(
        r"<meta[^>]+(?:property|name|itemprop)=[\"'](?:article:published_time|datePublished|"
        r"og:published_time|pubdate|date)[\"'][^>]*content=[\"']([^\"']+)", html, re.I)
    if not match:
        match = re.search(r"\"datePublished\"\s*:\s*\"([^\"]+)\"", html)
    if not match:
        return None
    value = iso_utc(match.group(1).strip())
    return value if value and re.match(r"\d{4}-\d\d-\d\dT", value) else None


def _clean(value: str | None) -> str | None:
    value = " ".join((value or "").split())
    return value or None


def _blocks(body_html: str) -> list:
    root = lxml.html.fromstring(f"<div>{body_html}</div>")
    inner = root.find(".//body")
    container = inner if inner is not None else root
    # trafilatura wraps the article in <html><body>…</body></html>; blocks are the body's children.
    return [el for el in container if isinstance(el.tag, str)]


def _norm(value: str) -> str:
    """Text compared without case, whitespace or punctuation (glued words still match)."""
    return re.sub(r"[\W_]+", "", value.lower())


def drop_repeated_run(blocks: list, text_of) -> list:
    """Drop a second rendering of the same text: a run of blocks already contained earlier.

    The run starts at a substantial block whose text already appeared before it; it is dropped
    when at least 80% of the text from there on was already there (so a repeated pull quote in
    an article that goes on does not count). Blocks of the run that are new are kept.
    """
    norms = [_norm(text_of(b)) for b in blocks]
    for start in range(1, len(blocks)):
        if len(norms[start]) < MIN_RUN_START:
            continue
        before = "".join(norms[:start])
        if norms[start] not in before:
            continue
        tail = norms[start:]
        covered = sum(len(n) for n in tail if n in before)
        total = sum(len(n) for n in tail) or 1
        if covered / total >= 0.8 and total >= 0.3 * len(before):
            log.info("dropping a repeated rendering: %d of %d blocks", len(tail), len(blocks))
            return blocks[:start] + [b for b, n in zip(blocks[start:], tail) if n not in before]
    return blocks


# -- plain text articles -----------------------------------------------------------------------


def article_from_text(content: str, url: str | None = None, title: str | None = None) -> Article:
    """An article saved as plain text (paragraphs separated by blank lines, '#' headings)."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", content) if p.strip()]
    paragraphs = drop_repeated_run(paragraphs, lambda p: p)
    if not paragraphs:
        raise NotFound("no article text found in the saved page (it is empty)")
    parts = []
    for index, para in enumerate(paragraphs):
        heading = re.match(r"^(#{1,6})\s+(.+)$", para)
        if heading:
            level = len(heading.group(1))
            parts.append(f"<h{level}>{htmlmod.escape(heading.group(2).strip())}</h{level}>")
        elif index + 1 < len(paragraphs) and looks_like_heading(para):
            parts.append(f"<h2>{htmlmod.escape(para)}</h2>")
        else:
            parts.append(paragraph_html(para))
    return Article(url=canonical_url(url) if url else None, title=title, body_html="".join(parts))


def looks_like_heading(para: str) -> bool:
    """A short single line without closing punctuation, e.g. "Science of ML"."""
    return ("\n" not in para and len(para) <= 60 and len(para.split()) <= 8
            and not re.search(r"[.,:;!?)\]\"”]$", para) and para[0].isupper()
            and not re.match(r"^[A-Z][\w .'-]*:\s", para))


def paragraph_html(para: str) -> str:
    lines = [line.strip() for line in para.split("\n")]
    found = [re.match(r"^(?:[•*\-–]|\d+\.)\s+(.*)$", line) for line in lines]
    bullets = [m for m in found if m]
    if len(lines) > 1 and len(bullets) == len(lines):
        items = "".join(f"<li>{htmlmod.escape(m.group(1))}</li>" for m in bullets)
        return f"<ul>{items}</ul>"
    return "<p>" + "<br>".join(htmlmod.escape(line) for line in lines) + "</p>"


# -- records -----------------------------------------------------------------------------------


def split_sections(post_id: str, body_html: str | None) -> list[Section]:
    """The body cut at each heading: (heading, level, plain text) in document order."""
    if not body_html:
        return []
    root = lxml.html.fromstring(f"<div>{body_html}</div>")
    sections: list[Section] = []
    heading, level = None, 0
    chunks: list[str] = []

    def close():
        body = "\n\n".join(c for c in chunks if c)
        if heading is not None or body:
            sections.append(Section(post_id, len(sections), heading, level, body))

    for kind, value, lvl in _flatten(root):
        if kind == "h":
            close()
            heading, level, chunks = value, lvl, []
        else:
            chunks.append(value)
    close()
    return sections


def _flatten(el):
    """Yield ("h", heading text, level) and ("p", block text, 0) in document order."""
    for child in el:
        if not isinstance(child.tag, str):
            continue
        if child.tag in HEADINGS:
            yield "h", " ".join(child.text_content().split()), int(child.tag[1])
        elif any(d.tag in HEADINGS for d in child.iter() if d is not child):
            if child.text and child.text.strip():
                yield "p", child.text.strip(), 0
            yield from _flatten(child)
        else:
            block = text.html_to_text(lxml.html.tostring(child, encoding="unicode", with_tail=False))
            if block:
                yield "p", block, 0
        if child.tail and child.tail.strip():
            yield "p", child.tail.strip(), 0


def article_post(article: Article, site: Site, source_id: str, kind: str = "blog",
                 extra: dict | None = None) -> Post:
    details = {"site_name": article.site_name, "description": article.description,
               **article.extra, **(extra or {})}
    details = {k: v for k, v in details.items() if v not in (None, "", [], {})}
    return Post(
        id=make_id(site.id, source_id), site_id=site.id, source_id=source_id, url=article.url,
        title=article.title, author=article.author, posted_at=article.published, kind=kind,
        body_html=article.body_html, extra=details or None,
    )


def article_page(article: Article, kind: str = "blog", source_id: str | None = None,
                 extra: dict | None = None, site: Site | None = None) -> Page:
    """The Page for one article: its site, its post and its sections."""
    site = site or site_for(article.url, article.site_name)
    if source_id is None:
        if not article.url:
            raise UsageError("an article without a URL needs an explicit id")
        source_id = post_source_id(article.url)
    post = article_post(article, site, source_id, kind, extra)
    return Page(sites=[site], posts=[post],
                other={"sections": split_sections(post.id, article.body_html)})
