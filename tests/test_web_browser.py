"""The reading room as a person sees it: headless Chromium (Debian's ``chromium``) opens each page
of the demo archive at 1400x1000 and 400x800, saves a screenshot, and checks the first screen.

A test-only page holds the page in an iframe of the viewport's exact size and, once it has
loaded, measures it (page and element widths against the viewport, the first comment's box, quote
styling and links, images that failed) and writes the figures into its DOM, which ``--dump-dom``
returns. Console messages
come from Chromium's log (``--enable-logging=stderr``). Datasette runs in a thread on a loopback
port and is always stopped. Skipped, with a message, where chromium is not installed (``.ci/run``
installs it). Screenshots go to $ARCHIVER_SCREENSHOTS if set, else a temporary folder.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from urllib.parse import urlencode

import pytest

pytest.importorskip("datasette")
import uvicorn  # noqa: E402
from datasette import hookimpl  # noqa: E402
from datasette.app import Datasette  # noqa: E402
from datasette.plugins import pm  # noqa: E402
from datasette.utils import tilde_encode  # noqa: E402

import archiver.web  # noqa: E402
from archiver.app import datasette as ds  # noqa: E402
from archiver.app.demo import build_demo  # noqa: E402
from archiver.store import open_db  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or not sys.platform.startswith("linux"),
    reason="chromium is not installed (apt-get install -y chromium; .ci/run does this): "
           "the browser test of the reading room is skipped")

POST = "lesswrong:demoPostGated001"
VIEWPORTS = [(1400, 1000), (400, 800)]
# name, path, whether it is a reading-room page (checked for width), text it must show
PAGES = [
    ("home", "/-/archiver", True, "Most disputed passages"),
    ("thread", f"/-/archiver/thread/{POST}", True, "Gated sparse autoencoders fix shrinkage"),
    ("person", "/-/archiver/person/lesswrong:demoUserChen0001", True, "Pushback given"),
    ("topic", "/-/archiver/topic/3", True, "Latest digest"),
    ("search", "/-/archiver/search?q=shrinkage", True, "most relevant first"),
    ("comments-table", "/demo/comments", False, "Column descriptions"),
    ("comments-search", "/demo/comments?_search=shrinkage", False,
     "Search every table for “shrinkage”, most relevant first"),
    ("post-row", f"/demo/posts/{tilde_encode(POST)}", False, "Gated sparse autoencoders"),
    ("latest-summary", "/demo/latest_summary_per_topic", False, "Sparse autoencoders"),
]
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-dev-shm-usage", "--virtual-time-budget=5000",
         "--enable-logging=stderr", "--v=0"]

# Headless Chromium will not lay a window out narrower than 500 px, so each page is measured
# inside an iframe of exactly the viewport's size, on a test-only page (FRAME_PAGE). Once the
# frame has loaded, its layout is measured from the outer page and written into the outer DOM.
FRAME_PAGE = """<!DOCTYPE html><html><head><style>body{margin:0}iframe{border:0;display:block}
</style></head><body><iframe id="page" src="SRC" width="WIDTH" height="HEIGHT"></iframe>
<script>
document.getElementById('page').addEventListener('load', function () {
  var win = this.contentWindow, doc = this.contentDocument, w = win.innerWidth;
  var out = {width: w, scrollWidth: doc.documentElement.scrollWidth, wide: [], broken: [],
             quotes: []};
  doc.querySelectorAll('body *').forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width > w + 1 && !el.closest('.table-wrapper')) {
      out.wide.push(el.tagName.toLowerCase() + '.' + el.className);
    }
  });
  doc.querySelectorAll('img').forEach(function (img) {
    if (!img.complete || img.naturalWidth === 0) { out.broken.push(img.src); }
  });
  var first = doc.querySelector('.archiver-comments .archiver-item .item-body p') ||
              doc.querySelector('td.col-body_html');
  if (first) {
    var r = first.getBoundingClientRect();
    out.first = {left: r.left, right: r.right, top: r.top, text: first.textContent.slice(0, 80)};
  }
  doc.querySelectorAll('.archiver-comments blockquote').forEach(function (bq) {
    var link = bq.nextElementSibling && bq.nextElementSibling.querySelector('a');
    var href = link ? link.getAttribute('href') : null;
    out.quotes.push({border: parseFloat(win.getComputedStyle(bq).borderLeftWidth), href: href,
                     target: !!(href && href[0] === '#' && doc.getElementById(href.slice(1)))});
  });
  out.text = doc.body ? doc.body.innerText.slice(0, 20000) : '';
  out.title = doc.title;
  var pre = document.createElement('pre');
  pre.id = 'layout-check';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script></body></html>"""


async def frame_page(request):
    from html import escape

    from datasette.utils.asgi import Response

    args = request.args
    page = (FRAME_PAGE.replace("SRC", escape(args["src"])).replace("WIDTH", args["w"])
            .replace("HEIGHT", args["h"]))
    return Response.html(page)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Datasette with the archiver plugin and the layout check, on a loopback port in a thread;
    stopped and both plugins unregistered at the end, whatever happened."""
    path = str(tmp_path_factory.mktemp("browser") / "demo.db")
    build_demo(path)
    db = open_db(path)
    metadata = ds.build_metadata(db, "demo")
    db.close()
    check = types.ModuleType("archiver_layout_check")
    check.register_routes = hookimpl(lambda: [(r"^/-/layout-check$", frame_page)])
    added = not pm.is_registered(archiver.web)
    if added:
        pm.register(archiver.web, name="archiver")
    pm.register(check, name="archiver_layout_check")
    port = _free_port()
    config = uvicorn.Config(Datasette([path], metadata=metadata).app(), host="127.0.0.1",
                            port=port, log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not uv.started:  # uvicorn sets this once it listens
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=30)
        pm.unregister(check)
        if added:
            pm.unregister(archiver.web)
    assert not thread.is_alive(), "the test server outlived its test"


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("ARCHIVER_SCREENSHOTS")
    out = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def chromium(profile: Path, size: tuple[int, int], *args: str) -> subprocess.CompletedProcess:
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}",
               f"--window-size={size[0]},{size[1]}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.mark.parametrize("size", VIEWPORTS, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name,path,reading_room,text", PAGES, ids=[p[0] for p in PAGES])
def test_page_first_screen(server, shots, tmp_path, name, path, reading_room, text, size):
    url = f"{server}/-/layout-check?" + urlencode({"src": path, "w": size[0], "h": size[1]})
    shot = shots / f"{name}-{size[0]}x{size[1]}.png"
    dom = chromium(tmp_path / "profile", size, "--dump-dom", f"--screenshot={shot}", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert shot.stat().st_size > 1000, f"{name}: no screenshot"
    found = re.search(r'<pre id="layout-check">(.*?)</pre>', dom.stdout, re.S)
    assert found, f"{name}: the layout check did not run (page did not finish loading?)"
    check = json.loads(html.unescape(found.group(1)))
    assert check["width"] == size[0], "the page was not laid out at the viewport's width"
    assert text in check["text"], f"{name}: {text!r} not on the page"
    assert not check["title"].startswith("Error"), f"{name}: an error page"
    assert console_messages(dom.stderr) == [], f"{name}: console messages"
    assert check["broken"] == [], f"{name}: images that did not load"
    if reading_room:
        assert check["scrollWidth"] <= check["width"], f"{name}: the page scrolls sideways"
        assert check["wide"] == [], f"{name}: elements wider than the viewport"
    if name in ("thread", "comments-table"):
        first = check["first"]
        assert first["text"].strip(), f"{name}: the first comment has no text"
        assert 0 <= first["left"] < check["width"], f"{name}: first comment off-screen"
    if name == "thread":
        assert first["right"] <= check["width"] + 1, "first comment wider than the screen"
        assert check["quotes"], "no quotes on the thread page"
        linked = [q for q in check["quotes"] if q["href"]]
        assert linked and all(q["target"] for q in linked), "quote links without a target"
        assert all(q["border"] >= 2 for q in check["quotes"]), "blockquotes are not styled"
