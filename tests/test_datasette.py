"""Datasette: the metadata, and the demo archive served through Datasette's own test client
(tables, facets, sort, labels, search, canned queries, Markdown rendering), and `archiver serve`."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
import yaml

from archiver.app import datasette as ds
from archiver.app.demo import build_demo
from archiver.sources import registry
from archiver.store import open_db

pytest.importorskip("datasette")
from datasette.app import Datasette  # noqa: E402
from datasette.utils import tilde_encode  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
POST = "lesswrong:demoPostGated001"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    build_demo(str(path))
    return str(path)


@pytest.fixture(scope="module")
def client(demo_db):
    db = open_db(demo_db)
    metadata = ds.build_metadata(db, "demo")
    db.close()
    datasette = Datasette([demo_db], metadata=metadata)

    def get(path: str):
        async def fetch():
            await datasette.invoke_startup()
            return await datasette.client.get(path)
        return asyncio.run(fetch())

    return get


def test_every_table_and_column_is_described(demo_db):
    db = open_db(demo_db)
    meta = ds.build_metadata(db, "demo")["databases"]["demo"]
    for table in db.table_names() + db.view_names():
        if "_fts" in table:
            continue
        described = meta["tables"][table]
        assert described["description"]
        for column in db[table].columns_dict:
            assert described["columns"][column], (table, column)
    assert meta["tables"]["posts"]["label_column"] == "title"
    assert meta["tables"]["comments"]["fts_table"] == "comments_fts"
    assert set(meta["queries"]) == set(ds.QUERIES)


def test_a_table_no_one_declared_still_gets_descriptions():
    db = open_db(":memory:")
    db["podcast_episodes"].create({"id": str, "aired_at": str}, pk="id")
    meta = ds.build_metadata(db)["databases"]["archive"]
    table = meta["tables"]["podcast_episodes"]
    assert table["description"] and table["columns"]["aired_at"] == "Aired at."


def test_canned_queries_are_left_out_when_their_tables_are_missing():
    db = open_db(":memory:")
    db["exchanges_view"].drop() if db["exchanges_view"].exists() else None
    db.execute("DROP VIEW IF EXISTS exchanges_view")
    meta = ds.build_metadata(db)["databases"]["archive"]
    assert "recent_exchanges_on_topic" not in meta["queries"]
    assert "threads_with_new_comments" in meta["queries"]


def test_a_new_source_does_not_make_the_shipped_metadata_stale(monkeypatch):
    shipped = ds.build_metadata()
    forums = (*registry.forum_sources(), SimpleNamespace(title="A plugin forum"))
    monkeypatch.setattr(ds.registry, "forum_sources", lambda: forums)
    assert ds.build_metadata() == shipped
    assert "A plugin forum" in ds.build_metadata(open_db(":memory:"))["description"]


def test_shipped_metadata_matches_the_module():
    shipped = yaml.safe_load((ROOT / "db" / "metadata.yml").read_text())
    assert shipped == ds.build_metadata(), (
        "db/metadata.yml is stale: run `archiver datasette-metadata --fresh`")


def test_tables_facets_sort_and_labels(client):
    posts = client("/demo/posts.json?_shape=objects")
    assert posts.status_code == 200
    data = posts.json()
    assert {r["id"] for r in data["rows"]} >= {POST, "lesswrong:demoPostSplit001"}
    assert {"site_id", "kind", "af"} <= set(data["facet_results"])
    comments = client("/demo/comments.json?_shape=objects&_labels=on")
    rows = comments.json()["rows"]
    dates = [r["posted_at"] for r in rows]
    assert dates == sorted(dates, reverse=True)  # default sort: newest first
    assert rows[0]["post_id"]["label"] == "Gated sparse autoencoders fix shrinkage, mostly" or \
        rows[0]["post_id"]["label"] == "Feature splitting is not a bug"
    assert client("/demo/exchanges_view.json").status_code == 200


def test_search_finds_comments(client):
    response = client("/demo/comments.json?_search=podcast&_shape=array")
    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == 1 and rows[0]["author"] == "Eli Marsh"


def test_markdown_columns_are_rendered(client):
    page = client(f"/demo/posts/{tilde_encode(POST)}")
    assert page.status_code == 200
    assert "<h2>Summary</h2>" in page.text  # body_markdown rendered, not "## Summary"
    summaries = client("/demo/latest_summary_per_topic")
    assert summaries.status_code == 200
    assert "<h1>" in summaries.text or "<h2>" in summaries.text


def query(client, name: str, **params) -> list[dict]:
    args = "&".join(f"{k}={requests.utils.quote(v)}" for k, v in params.items())
    response = client(f"/demo/{name}.json?_shape=array&{args}")
    assert response.status_code == 200, response.text
    return response.json()


def test_canned_query_recent_exchanges_on_a_topic(client):
    rows = query(client, "recent_exchanges_on_topic", topic="Sparse autoencoders", since="")
    assert len(rows) >= 8
    assert rows[0]["posted_at"] >= rows[-1]["posted_at"]
    assert {"quoter", "quoted", "quote", "reply", "item_url"} <= set(rows[0])
    since = query(client, "recent_exchanges_on_topic", topic="Sparse autoencoders",
                  since="2024-05-09")
    assert since and all(r["posted_at"] >= "2024-05-09" for r in since)


def test_canned_query_most_quoted_passages_of_a_post(client):
    rows = query(client, "most_quoted_passages", post=POST)
    top = rows[0]
    assert top["passage"].startswith("Gating removes shrinkage entirely")
    assert top["replies"] == 2 and set(top["repliers"].split(",")) == {"Chen Wei"}


def test_canned_query_researcher_papers_discussed(client):
    rows = query(client, "researcher_papers_discussed", researcher="Okafor")
    papers = {r["paper"]: r for r in rows}
    gated = papers["Gated Sparse Autoencoders for Cleaner Features"]
    assert gated["mentions"] >= 2 and "Ada Quint" in gated["discussed_by"]
    assert "Dictionary Learning at Scale for Language Model Activations" in papers


def test_canned_query_threads_with_new_comments(client):
    rows = query(client, "threads_with_new_comments", since="2024-05-04")
    assert [(r["title"], r["new_comments"]) for r in rows] == [
        ("Feature splitting is not a bug", 3),
        ("Gated sparse autoencoders fix shrinkage, mostly", 2)]


def test_canned_query_latest_summary_per_topic(client):
    rows = query(client, "latest_summary_per_topic")
    assert [r["topic_name"] for r in rows] == ["Sparse autoencoders"]
    assert rows[0]["markdown"]


def test_serve_explains_a_missing_datasette(monkeypatch, cli_run, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "datasette" else real(name, *a))
    open_db(str(tmp_path / "archive.db")).close()
    result = cli_run("serve")
    assert result.exit_code == 2
    assert "pip install 'archiver[datasette]'" in result.output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_archiver_serve_answers_on_loopback(demo_db):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    process = subprocess.Popen([sys.executable, "-m", "archiver", "serve", "--db", demo_db,
                                "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline, response = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/demo.json", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert response is not None and response.status_code == 200
        queries = requests.get(f"http://127.0.0.1:{port}/-/metadata.json", timeout=5).json()
        assert "most_quoted_passages" in queries["databases"]["demo"]["queries"]
    finally:
        process.terminate()
        process.wait(10)
