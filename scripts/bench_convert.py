"""Body conversion (sanitise, Markdown, plain text) of 2 MB deeply nested comments.

Three shapes of about 2 MB each: blockquotes nested ~37,000 deep, divs ~50,000 deep and inline
tags ~45,000 deep, each level holding a few words. Before flattening, such a body took ~90 s
(html5ever inside nh3 is quadratic in depth) and lost every word below lxml's 255 levels.
Run alone: ``python scripts/bench.py --only convert`` (``--quick``: 200 KB).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHAPES = {
    "blockquote": ("<blockquote><p>alpha{i} beta gamma</p>", "</blockquote>"),
    "div": ("<div><p>alpha{i} beta gamma</p>", "</div>"),
    "inline": ("<span>alpha{i} beta </span><b>", "</b></span>"),
}


def nested(shape: str, size: int) -> tuple[str, int]:
    """(HTML of about ``size`` characters nested one level per unit, number of levels)."""
    opening, closing = SHAPES[shape]
    levels = size // (len(opening) + len(closing) + 3)
    return "".join(opening.format(i=i) for i in range(levels)) + closing * levels, levels


def run(quick: bool) -> list[dict]:
    from archiver.kernel import text

    size = 200_000 if quick else 2_000_000
    rows = []
    for shape in SHAPES:
        html, levels = nested(shape, size)
        started = time.perf_counter()
        body = text.convert(html)
        seconds = time.perf_counter() - started
        words = set(body.text.split())
        kept = sum(f"alpha{i}" in words for i in range(levels))
        rows.append({"area": "convert", "what": f"{len(html) / 1e6:.1f} MB nested {shape} "
                     f"({levels:,} levels)", "size": levels, "figure": seconds, "unit": "s",
                     "target": "< 2" if not quick else ""})
        rows.append({"area": "convert", "what": "  words kept in body_text", "size": levels,
                     "figure": kept / levels * 100, "unit": "%", "target": "100"})
    return rows
