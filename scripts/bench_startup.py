"""Start-up time: ``archiver --help`` and each command's ``--help`` against ``sqlite-utils --help``.

Whole processes (interpreter start included), run alternately, median of several runs each. The
target (issue 12, item 7): every command starts within 1.3x of ``sqlite-utils --help``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.3
COMMANDS = ["", "thread", "user", "search", "import", "export", "topics", "summarize",
            "exchanges", "researcher", "serve"]


def _seconds(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, timeout=60)
    return time.perf_counter() - start


def _baseline() -> list[str] | None:
    here = Path(sys.executable).parent / "sqlite-utils"
    found = str(here) if here.exists() else shutil.which("sqlite-utils")
    return [found, "--help"] if found else None


def run(quick: bool) -> list[dict]:
    from scripts.bench import _row, missing

    baseline = _baseline()
    if baseline is None:
        return [missing("startup", "archiver --help vs sqlite-utils --help",
                        "sqlite-utils is not installed", f"<= {TARGET}x")]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    runs = 3 if quick else 9
    commands = COMMANDS[:3] if quick else COMMANDS
    rows = []
    for command in commands:
        argv = [sys.executable, "-m", "archiver", *([command] if command else []), "--help"]
        ours, theirs = [], []
        for _ in range(runs):  # alternated, so a burst of load hits both sides alike
            theirs.append(_seconds(baseline, env))
            ours.append(_seconds(argv, env))
        ratio = statistics.median(ours) / statistics.median(theirs)
        what = f"archiver {command + ' ' if command else ''}--help / sqlite-utils --help"
        rows.append(_row("startup", what, runs, ratio, "x", f"<= {TARGET}x"))
    return rows
