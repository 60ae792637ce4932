"""Fast start: ``archiver --help`` imports none of the heavy libraries (each command imports what
it uses when it runs). The time itself is a benchmark (scripts/bench_startup.py), not a test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ["numpy", "scipy", "sklearn", "matplotlib", "trafilatura", "lxml", "bs4", "markdownify",
         "datasette", "requests", "feedparser", "rapidfuzz", "ahocorasick", "archiver.kernel.text",
         "archiver.analysis.exchanges", "archiver.analysis.topics", "archiver.analysis.report",
         "archiver.store"]


def imported_modules(*args: str) -> set[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "archiver", *args],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    names = set()
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def heavy_in(names: set[str]) -> list[str]:
    return sorted(h for h in HEAVY if any(n == h or n.startswith(h + ".") for n in names))


def test_help_imports_no_heavy_module():
    names = imported_modules("--help")
    assert "click" in names  # the parse saw the imports at all
    assert heavy_in(names) == []


def test_commands_help_imports_no_heavy_module():
    """Their --kind / --format choices come from archiver.analysis.choices, not the analysis."""
    for command in ("search", "export", "topics", "summarize", "exchanges"):
        assert heavy_in(imported_modules(command, "--help")) == [], command
