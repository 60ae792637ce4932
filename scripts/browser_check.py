"""Open the archive's main Datasette pages in a real headless browser and screenshot them.

Starts ``archiver serve`` on a free loopback port, loads each page in Chromium (Debian's
``chromium`` package: ``apt-get install -y chromium``), saves a screenshot per page, and fails
(exit 1) when a page is an error page or lacks the text it should show. Not part of the pytest
suite: it needs a browser.

    python scripts/browser_check.py                       # builds db/demo.db first if missing
    python scripts/browser_check.py --db db/archive.db --out /tmp/shots --pages core
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]
ERROR_PAGE = re.compile(r"<title>\s*Error \d{3}|<h1>\s*Error \d{3}|Internal Server Error", re.I)

# (name, path under the database, text the page must show). Demo pages check the demo's rows.
CORE_PAGES = [
    ("index", "/", "archiver"),
    ("database", "/{db}", "Recent exchanges on a topic"),
    ("posts", "/{db}/posts", "posts"),
    ("comments-search", "/{db}/comments?_search=shrinkage", "comments"),
    ("exchanges", "/{db}/exchanges_view", "exchanges_view"),
    ("runs", "/{db}/runs", "runs"),
    ("reading-room", "/-/archiver", "Reading room"),
]
DEMO_PAGES = [
    ("post-row", "/{db}/posts/lesswrong~3AdemoPostGated001", "What gating changes"),
    ("most-quoted", "/{db}/most_quoted_passages?post=lesswrong:demoPostGated001",
     "Gating removes shrinkage entirely"),
    ("topic-exchanges", "/{db}/recent_exchanges_on_topic?topic=Sparse+autoencoders&since=",
     "Chen Wei"),
    ("researcher-papers", "/{db}/researcher_papers_discussed?researcher=Okafor",
     "Gated Sparse Autoencoders for Cleaner Features"),
    ("new-comments", "/{db}/threads_with_new_comments?since=2024-05-04",
     "Feature splitting is not a bug"),
    ("latest-summary", "/{db}/latest_summary_per_topic", "Sparse autoencoders"),
    ("rr-thread", "/-/archiver/thread/lesswrong:demoPostGated001", "quoting Ben Okoro"),
    ("rr-person", "/-/archiver/person/lesswrong:demoUserChen0001", "Pushback received"),
    ("rr-topic", "/-/archiver/topic/3", "Latest digest"),
    ("rr-search", "/-/archiver/search?q=shrinkage", "most relevant first"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"archiver serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise SystemExit(f"archiver serve did not answer at {url} within {timeout:.0f}s")


def stop(server: subprocess.Popen) -> None:
    """Stop ``archiver serve`` (SIGTERM, as systemd does; it serves in-process, so nothing of it
    survives), and kill it if it does not stop in time."""
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(5)


def chromium(binary: str, profile: str, *args: str, timeout: float = 60) -> str:
    result = subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *args],
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"chromium failed ({result.returncode}): {result.stderr[-500:]}")
    return result.stdout


def check_page(binary: str, profile: str, url: str, must_show: str, shot: Path,
               size: str) -> str | None:
    """None when the page is fine, else what is wrong with it."""
    dom = chromium(binary, profile, "--dump-dom", url)
    if ERROR_PAGE.search(dom):
        return "an error page"
    if must_show.lower() not in dom.lower():
        return f"does not show {must_show!r}"
    chromium(binary, profile, f"--screenshot={shot}", f"--window-size={size}", url)
    if not shot.exists() or shot.stat().st_size < 2000:
        return "no screenshot was written"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=str(ROOT / "db" / "demo.db"),
                        help="archive to serve (default db/demo.db, built if missing)")
    parser.add_argument("--out", default=str(ROOT / "db" / "screenshots"),
                        help="folder for the screenshots")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--pages", choices=["core", "demo"], default=None,
                        help="core pages only, or core + the demo's canned queries (default: "
                             "demo pages when serving a demo archive)")
    parser.add_argument("--window-size", default="1280,1400")
    args = parser.parse_args(argv)

    if not os.path.exists(args.chromium):
        print(f"no Chromium at {args.chromium}: apt-get install -y chromium", file=sys.stderr)
        return 2
    db = Path(args.db)
    if not db.exists() and db.name == "demo.db":
        subprocess.run([sys.executable, "-m", "archiver", "demo", "--db", str(db)], check=True,
                       cwd=ROOT)
    pages = CORE_PAGES + (DEMO_PAGES if (args.pages or ("demo" if db.stem == "demo" else "core"))
                          == "demo" else [])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "archiver", "serve", "--db", str(db),
                               "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    failures = []
    try:
        wait_until_up(f"{base}/-/versions.json", server)
        with tempfile.TemporaryDirectory(prefix="archiver-chromium-") as profile:
            for name, path, must_show in pages:
                url = base + path.format(db=db.stem)
                shot = out / f"{name}.png"
                problem = check_page(args.chromium, profile, url, must_show, shot,
                                     args.window_size)
                print(f"{'FAIL' if problem else 'ok':4}  {name:18} {url}"
                      + (f"  ({problem})" if problem else f"  -> {shot}"))
                if problem:
                    failures.append(name)
    finally:
        stop(server)
    print(f"{len(pages) - len(failures)} passed, {len(failures)} failed; screenshots in {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
