"""scripts/bench.py works in a fresh clone: a figure it cannot measure is "n/a (reason)", the
table still prints, and database sizes count the rows still in the WAL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from scripts import bench, bench_import

ROOT = Path(__file__).resolve().parents[1]


def test_a_missing_figure_prints_as_n_a_with_its_reason(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench_import, "SEEDS", tmp_path / "no-shared-folder" / "seeds")
    rows = bench_import.run(quick=True) + [bench._row("forum", "peak RSS", 100, 72.4, "MB", "")]
    bench.print_table(rows)
    bench.print_table(rows, markdown=True)
    out = capsys.readouterr().out
    assert out.count(f"n/a (no seeds in {tmp_path / 'no-shared-folder' / 'seeds'})") == 2
    assert out.count("72.400") == 2  # the rows after it still print


def test_an_area_that_crashes_is_one_n_a_row_and_a_failed_run(capsys):
    def broken(quick):
        raise SystemExit("benchmark case ingest 100 failed:\nTraceback ...\nValueError: boom")

    rows = bench.run_area("forum", broken, quick=True)
    assert len(rows) == 1 and rows[0]["failed"]
    bench.print_table(rows)
    assert "n/a (failed: ValueError: boom)" in capsys.readouterr().out


def test_database_size_counts_the_rows_still_in_the_wal():
    """A fresh 100-comment thread (600-character bodies, stored as HTML, Markdown and text) takes
    well over 100 KB per 1,000 comments; measured before a checkpoint it read 40 KB."""
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--case", "ingest",
                          "--size", "100"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["db_kb_per_1k_comments"] > 1000


def test_the_floor_is_measured_in_the_same_run_beside_the_ingest():
    """scripts/bench_floor.py: a whole `archiver thread` process and the json.load + insert_all
    floor of the same comments, and the archive's size beside the raw JSON they came in."""
    from scripts import bench_floor

    r = bench_floor.measure(100)
    (wall, cpu), (floor_wall, floor_cpu) = r["ingest"], r["floor"]
    assert wall > 0 and cpu > 0 and floor_wall > 0 and floor_cpu > 0
    assert r["raw_bytes"] > 100 * 600  # 100 comments of 600 characters
    assert r["archive_bytes"] > r["raw_bytes"] and r["floor_bytes"] > 0
