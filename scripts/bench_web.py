"""The reading room's thread page on a generated 2,000-comment thread.

Builds the thread through the real store (tests/fakes/web.py), then renders
``/-/archiver/thread/<id>`` through Datasette's test client (no network) and reports the median of
five renders after one warm-up, as wall time and as CPU time of the process (the server's work
alone, steadier than wall time on a busy machine). Run alone: ``python scripts/bench.py --only web``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_SECONDS = 1.0


def thread_page_seconds(size: int, repeats: int = 5) -> tuple[float, float, int, float]:
    from datasette.app import Datasette
    from datasette.plugins import pm

    import archiver.web
    from archiver.store import open_db
    from tests.fakes.web import big_thread

    if not pm.is_registered(archiver.web):
        pm.register(archiver.web, name="archiver")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "web.db")
        db = open_db(path)
        post_id = big_thread(db, size)
        db.close()
        datasette = Datasette([path])

        async def measure():
            await datasette.invoke_startup()
            url = f"/-/archiver/thread/{post_id}"
            # The first render also classifies every exchange's stance (then cached in memory).
            start_cpu = time.process_time()
            first = await datasette.client.get(url)
            first_cpu = time.process_time() - start_cpu
            assert first.status_code == 200, first.text[:500]
            wall, cpu = [], []
            for _ in range(repeats):
                start, start_cpu = time.perf_counter(), time.process_time()
                await datasette.client.get(url)
                wall.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
            return (statistics.median(wall), statistics.median(cpu), len(first.content),
                    first_cpu)

        return asyncio.run(measure())


def run(quick: bool) -> list[dict]:
    size = 500 if quick else 2000
    seconds, cpu, size_bytes, first_cpu = thread_page_seconds(size)
    target = f"< {TARGET_SECONDS}" if size >= 2000 else ""
    return [
        {"area": "web", "what": "thread page render (server, median of 5)", "size": size,
         "figure": seconds, "unit": "s", "target": target},
        {"area": "web", "what": "… CPU time of that render", "size": size,
         "figure": cpu, "unit": "s", "target": target},
        {"area": "web", "what": "… CPU time of the first render (stances classified)",
         "size": size, "figure": first_cpu, "unit": "s", "target": target},
        {"area": "web", "what": "thread page HTML size", "size": size,
         "figure": size_bytes / 1e6, "unit": "MB", "target": ""},
    ]


if __name__ == "__main__":
    for row in run("--quick" in sys.argv):
        print(row)
