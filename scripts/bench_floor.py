"""Ingest and database size against their floors, measured in the same run.

    python scripts/bench.py --only floor [--quick]

The floor of ingest is a process that does nothing but ``json.load`` the same comments and
``insert_all`` them with sqlite-utils into a fresh WAL database (the archive's settings); the
floor of size is the raw JSON the comments came in. Both processes are timed whole (start-up and
imports included), wall and CPU (CPU is what a busy shared machine does not inflate). The forum
is a loopback server in a third process, so its work counts in neither.

The comments' bodies are 600 characters of plain paragraph (the original case) and, for size
only, a mix shaped like real comments (``fm.mixed_body``: links, emphasis, lists, quotes, log-normal
lengths): a saving must hold on both. The raw JSON is what the real API sends, ``contents { html
markdown }`` with the Markdown filled in (tests/fakes/forummagnum.py says why).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FLOOR = """
import json, sys, sqlite_utils
db = sqlite_utils.Database(sys.argv[2])
db.execute("PRAGMA journal_mode = WAL")
db.execute("PRAGMA synchronous = NORMAL")
with open(sys.argv[1]) as f:
    comments = json.load(f)
db["comments"].insert_all(comments, pk="_id", alter=True)
"""
RATIO_TARGET = {"ingest": 2.0, "size": 2.0}


def timed_process(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one child process, start-up included."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"{command[:4]} failed:\n{out.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def checkpointed_size(path: str) -> int:
    from scripts.bench import checkpointed_size as size

    return size(path)


def measure(size: int, mixed: bool = False) -> dict:
    from scripts.bench_scale import POST, Server

    with tempfile.TemporaryDirectory() as folder:
        raw = os.path.join(folder, "comments.json")
        archive, floor = os.path.join(folder, "archive.db"), os.path.join(folder, "floor.db")
        with Server(size, dump=raw, mixed=mixed) as server:
            ingest = timed_process([sys.executable, "-m", "archiver", "--quiet", "--db", archive,
                                    "thread", f"lesswrong:{POST}", "--endpoint",
                                    server.endpoint, "--delay", "0"])
        floor_time = timed_process([sys.executable, "-c", FLOOR, raw, floor])
        return {"ingest": ingest, "floor": floor_time, "raw_bytes": os.path.getsize(raw),
                "archive_bytes": checkpointed_size(archive),
                "floor_bytes": checkpointed_size(floor)}


def run(quick: bool = False) -> list[dict]:
    rows = []
    for size in ([2000] if quick else [100, 2000, 5000]):
        r = measure(size)
        (wall, cpu), (floor_wall, floor_cpu) = r["ingest"], r["floor"]
        target = size == 2000
        rows += [
            _row(f"ingest, whole `archiver thread` process [{cpu:.2f} s CPU]", size, wall, "s"),
            _row(f"  floor: json.load + insert_all process [{floor_cpu:.2f} s CPU]", size,
                 floor_wall, "s"),
            _row(f"  ratio to the floor, wall (CPU {cpu / floor_cpu:.2f}x)", size,
                 wall / floor_wall, "x", f"≤ {RATIO_TARGET['ingest']}" if target else ""),
            _row(f"database size (floor: the raw JSON, {r['raw_bytes'] / 1e6:.2f} MB; "
                 f"insert_all's db {r['floor_bytes'] / 1e6:.2f} MB)", size,
                 r["archive_bytes"] / 1e6, "MB"),
            _row("  ratio to the raw JSON", size, r["archive_bytes"] / r["raw_bytes"], "x",
                 f"≤ {RATIO_TARGET['size']}" if target else ""),
        ]
    for size in ([2000] if quick else [100, 2000, 5000]):
        r = measure(size, mixed=True)
        rows += [
            _row(f"database size, mixed bodies (raw JSON {r['raw_bytes'] / 1e6:.2f} MB)", size,
                 r["archive_bytes"] / 1e6, "MB"),
            _row("  ratio to the raw JSON, mixed bodies", size,
                 r["archive_bytes"] / r["raw_bytes"], "x",
                 f"≤ {RATIO_TARGET['size']}" if size == 2000 else ""),
        ]
    return rows


def _row(what: str, size: int, figure: float, unit: str, target: str = "") -> dict:
    return {"area": "floor", "what": what, "size": size, "figure": round(figure, 3),
            "unit": unit, "target": target}


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(json.dumps(row))
