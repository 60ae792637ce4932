"""Benchmarks with targets: ``python scripts/bench.py [--quick] [--only AREA] [--json]``.

Each figure is measured in a fresh subprocess (so peak RSS is that case's own) against a loopback
server or a generated database, and printed as a table row with its target. Areas:

- ``forum``: ingest of ForumMagnum threads of 100 / 2,000 / 5,000 comments served from loopback in
  one response into a fresh database (wall time, comments/s, peak RSS, where the time goes:
  fetch+parse, convert, write, analysis), and an unchanged re-run (seconds, rows rewritten).
- every ``scripts/bench_<area>.py`` module exposing ``run(quick) -> list[dict]`` (exchanges,
  research, import, topics, ...): ``floor`` puts ingest and database size beside their floors
  (a json.load + insert_all process, the raw JSON) measured in the same run, ``scale`` one
  thread at 1k / 10k / 100k comments (time, analysis hooks, peak RSS), ``topics`` also with a
  busy process on the other core and the share of ``summarize --all`` spent on charts.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS = {  # (comments) -> targets of issue 2, at 2,000 comments
    "ingest_seconds": 1.5, "ingest_rss_mb": 150, "rerun_seconds": 0.5, "rerun_rows": 0,
}


# -- the forum ingest case, run inside a subprocess ---------------------------------------------


def _ingest_case(size: int) -> dict:
    from pytest_httpserver import HTTPServer

    from archiver.app.forums import archive_thread
    from archiver.kernel import text
    from archiver.kernel.http import Http, HttpSettings
    from archiver.store import open_db, save
    from tests.fakes import forummagnum as fm

    forum = fm.FakeForum()
    fm.big_thread(forum, "benchpost0000001", size, body_chars=600)
    server = HTTPServer(host="127.0.0.1")
    server.expect_request("/graphql").respond_with_handler(forum.handler)
    server.start()
    timers = {"convert": 0.0, "save": 0.0}
    _wrap(text, "convert", timers, "convert")
    _wrap(save, "save_page", timers, "save")
    import archiver.app.ingest as ingest_module

    ingest_module.save_page = save.save_page
    analysis = {"analysis": 0.0}
    _wrap(ingest_module, "run_analysis", analysis, "analysis")
    with tempfile.TemporaryDirectory() as folder:
        db = open_db(os.path.join(folder, "bench.db"))
        http = Http(HttpSettings(delay=0))
        url = "lesswrong:benchpost0000001"
        endpoint = server.url_for("/graphql")
        started = time.perf_counter()
        archive_thread(db, http, url, endpoint=endpoint)
        first = time.perf_counter() - started
        first_timers = dict(timers, **analysis)
        before = db.conn.total_changes
        started = time.perf_counter()
        counts, _ = archive_thread(db, http, url, endpoint=endpoint)
        second = time.perf_counter() - started
        rewritten = db.conn.total_changes - before - BOOKKEEPING_WRITES
        size_bytes = checkpointed_size(os.path.join(folder, "bench.db"))
    server.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    convert = first_timers["convert"]
    write = first_timers["save"] - convert
    return {
        "size": size, "ingest_seconds": first, "comments_per_second": size / first,
        "fetch_parse_seconds": first - first_timers["save"] - first_timers["analysis"],
        "convert_seconds": convert, "write_seconds": write,
        "analysis_seconds": first_timers["analysis"], "peak_rss_mb": rss_mb,
        "rerun_seconds": second, "rerun_rows_rewritten": rewritten,
        "rerun_unchanged": counts.unchanged, "rerun_total_changes": db.conn.total_changes - before,
        "db_kb_per_1k_comments": size_bytes / 1024 / (size / 1000),
    }


BOOKKEEPING_WRITES = 3  # a re-run writes its runs row (insert + update) and the thread's sync state


def checkpointed_size(path: str) -> int:
    """The database file's size once every row is in it: in WAL mode fresh rows sit in the -wal
    file until a checkpoint, so the main file alone under-counts (4 KB for a whole thread)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return os.path.getsize(path)


def _wrap(module, name: str, timers: dict, key: str) -> None:
    original = getattr(module, name)

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            timers[key] += time.perf_counter() - started

    setattr(module, name, timed)


# -- the driver ---------------------------------------------------------------------------------


def run_subprocess(case: str, size: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--case", case, "--size", str(size)],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    if out.returncode != 0:
        raise SystemExit(f"benchmark case {case} {size} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def forum_rows(quick: bool) -> list[dict]:
    rows = []
    for size in ([100, 2000] if quick else [100, 2000, 5000]):
        r = run_subprocess("ingest", size)
        at_target = size == 2000
        rows += [
            _row("forum", "thread ingest, fresh db (wall)", size, r["ingest_seconds"], "s",
                 "≤ 1.5" if at_target else ""),
            _row("forum", "  comments per second", size, r["comments_per_second"], "c/s", ""),
            _row("forum", "  fetch + parse", size, r["fetch_parse_seconds"], "s", ""),
            _row("forum", "  convert (sanitise, Markdown, text)", size, r["convert_seconds"], "s", ""),
            _row("forum", "  write (SQLite, FTS)", size, r["write_seconds"], "s", ""),
            _row("forum", "  analysis after fetch", size, r["analysis_seconds"], "s", ""),
            _row("forum", "peak RSS", size, r["peak_rss_mb"], "MB", "≤ 150" if at_target else ""),
            _row("forum", "unchanged re-run (wall)", size, r["rerun_seconds"], "s",
                 "≤ 0.5" if at_target else ""),
            _row("forum", "unchanged re-run rows rewritten", size, r["rerun_rows_rewritten"],
                 "rows", "0" if at_target else ""),
            _row("forum", "database size per 1k comments", size, r["db_kb_per_1k_comments"], "KB", ""),
        ]
    return rows


def _row(area, what, size, figure, unit, target) -> dict:
    return {"area": area, "what": what, "size": size, "figure": figure, "unit": unit,
            "target": target}


def missing(area: str, what: str, reason: str, target="") -> dict:
    """A row whose figure could not be measured, printed as "n/a (reason)"."""
    return dict(_row(area, what, "", None, "", target), reason=reason)


def area_modules() -> dict:
    found = {"forum": forum_rows}
    for path in sorted((ROOT / "scripts").glob("bench_*.py")):
        name = path.stem[len("bench_"):]
        module = importlib.import_module(f"scripts.{path.stem}")
        found[name] = module.run
    return found


def shown_figure(row: dict) -> str:
    figure = row["figure"]
    if figure is None:
        return f"n/a ({row.get('reason') or 'not measured'})"
    return f"{figure:,.3f}" if isinstance(figure, float) and figure < 100 else f"{figure:,.0f}"


def print_table(rows: list[dict], markdown: bool = False) -> None:
    if markdown:
        print("| area | what | size | figure | unit | target |\n|---|---|---:|---:|---|---|")
    else:
        print(f"{'area':10} {'what':60} {'size':>9} {'figure':>12} {'unit':6} target")
    for r in rows:
        shown = shown_figure(r)
        size = f"{r['size']:,}" if isinstance(r["size"], int) else str(r["size"])
        target = "" if r["target"] in (None, "") else str(r["target"])
        if markdown:
            print(f"| {r['area']} | {r['what']} | {size} | {shown} | {r['unit']} | {target} |")
        else:
            print(f"{r['area']:10} {r['what']:60} {size:>9} {shown:>12} {r['unit']:6} {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (CI smoke run)")
    parser.add_argument("--only", action="append", help="run only these areas")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case == "ingest":
        print(json.dumps(_ingest_case(args.size)))
        return
    precompile()
    rows = []
    for name, run in area_modules().items():
        if args.only and name not in args.only:
            continue
        area_rows = run_area(name, run, args.quick)
        rows += area_rows
        print(f"# {name}: {json.dumps(area_rows)}", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print_table(rows, markdown=args.markdown)
    if any(r.get("failed") for r in rows):
        sys.exit(1)


def precompile() -> None:
    """Write the project's bytecode before timing whole processes.

    A user's install has it (pip compiles on install, and Python writes it on first import), but
    a checkout run with PYTHONDONTWRITEBYTECODE set would recompile ~170 modules in every timed
    process (0.1 s of a 2,000-comment ingest), which no user pays."""
    import compileall

    compileall.compile_dir(str(ROOT / "archiver"), quiet=1)


def run_area(name: str, run, quick: bool) -> list[dict]:
    """The area's rows; one n/a row (and a failed run) if it crashes, so the table still prints."""
    try:
        return run(quick)
    except (Exception, SystemExit) as error:  # noqa: BLE001 (any failure is reported, not raised)
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else repr(error)
        return [dict(missing(name, "the whole area", f"failed: {reason}"), failed=True)]


if __name__ == "__main__":
    main()
