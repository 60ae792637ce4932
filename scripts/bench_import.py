"""Benchmark: importing the five seeds (../shared/seeds) into a fresh archive, target <= 2 s.

Timed in one process, cold caches aside: ``import_paths`` over the five files (detection,
parsing, storing, the analysis hooks), the same import again (everything unchanged), and the
JSON Lines round trip of the resulting archive (``export --all`` then import into an empty one).

    python scripts/bench_import.py [--quick]
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from pathlib import Path

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def run(quick: bool = False) -> list[dict]:
    from archiver.app.transfer import export_archive, import_jsonl, import_paths
    from archiver.store import open_db

    files = sorted(str(p) for p in SEEDS.glob("00[0-4]_*.txt"))
    if len(files) < 5:
        return [{"area": "import", "what": "import the five seeds", "size": 5, "figure": None,
                 "reason": f"no seeds in {SEEDS}", "unit": "s", "target": 2.0}]
    size = sum(os.path.getsize(f) for f in files)
    with tempfile.TemporaryDirectory() as folder:
        import trafilatura  # noqa: F401  (module import is a one-off, not the import's cost)

        db = open_db(os.path.join(folder, "seeds.db"))
        started = time.perf_counter()
        import_paths(db, files, captured="2026-02-01")
        first = time.perf_counter() - started
        started = time.perf_counter()
        import_paths(db, files, captured="2026-02-01")
        again = time.perf_counter() - started
        out = io.StringIO()
        started = time.perf_counter()
        lines = export_archive(db, out, everything=True)
        copy = open_db(os.path.join(folder, "copy.db"))
        import_jsonl(copy, out.getvalue().splitlines(), "bench")
        trip = time.perf_counter() - started
    return [
        {"area": "import", "what": f"import the five seeds into a fresh archive ({size // 1024} KB)",
         "size": 5, "figure": round(first, 3), "unit": "s", "target": 2.0},
        {"area": "import", "what": "import the five seeds again (all unchanged)",
         "size": 5, "figure": round(again, 3), "unit": "s", "target": 2.0},
        {"area": "import", "what": f"export --all + import into an empty archive ({lines} rows)",
         "size": lines, "figure": round(trip, 3), "unit": "s", "target": 2.0},
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    for row in run(quick="--quick" in sys.argv):
        print(f"{row['what']}: {row['figure']} {row['unit']} (target {row['target']})")
