"""Topics: tags, arXiv categories, blog sections, user topics and discovered themes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from archiver.analysis import topics as T
from archiver.kernel.errors import NotFound, UsageError
from archiver.kernel.records import Comment, Page, Paper, Post, Site, Tag
from archiver.store import open_db
from tests.fakes import threads


@pytest.fixture
def db(tmp_path):
    database = open_db(str(tmp_path / "a.db"))
    threads.build(database)
    return database


def members(db, topic_id: int) -> dict[str, float]:
    return {r["item_id"]: r["score"] for r in db.query(
        "SELECT item_id, score FROM topic_items WHERE topic_id = ?", [topic_id])}


def test_schema_is_idempotent_with_foreign_keys(tmp_path):
    path = str(tmp_path / "a.db")
    open_db(path)
    db = open_db(path)
    assert {"topics", "topic_items", "summaries"} <= set(db.table_names())
    fks = {(fk.column, fk.other_table) for fk in db["topic_items"].foreign_keys}
    assert ("topic_id", "topics") in fks
    assert {("topic_id", "topics"), ("post_id", "posts")} <= {
        (fk.column, fk.other_table) for fk in db["summaries"].foreign_keys}


def test_site_tags_become_topics_with_posts_and_their_comments(db):
    topic = T.find_topic(db, "Reward Hacking")
    assert topic["kind"] == "tag"
    scores = members(db, topic["id"])
    assert scores["lesswrong:reward0"] == 1.0
    assert scores["lesswrong:reward0c1"] == 0.5
    assert not any(i.startswith("lesswrong:interp") for i in scores)
    assert len(scores) == 5 * 4  # 5 posts, 3 comments each


def test_same_tag_on_two_sites_is_one_topic(db):
    ea = Site(id="eaforum", name="EA Forum", url="https://forum.effectivealtruism.org",
              kind="forummagnum")
    tag = Tag(id="eaforum:t9", site_id="eaforum", name="reward hacking")
    post = Post(id="eaforum:p1", site_id="eaforum", source_id="p1", title="RH on EA",
                body_html="<p>Reward hacking in deployed systems is common.</p>", tags=[tag])
    threads.ingest(db, [Page(sites=[ea], posts=[post])], "test", "x")
    rows = [t for t in T.list_topics(db, "tag") if t["name"].lower() == "reward hacking"]
    assert len(rows) == 1 and "eaforum:p1" in members(db, rows[0]["id"])


def test_new_comments_and_retagged_posts_update_membership(db):
    topic = T.find_topic(db, "Forecasting")["id"]
    threads.add(db, comments=[Comment(
        id="lesswrong:late", site_id="lesswrong", source_id="late",
        post_id="lesswrong:forecast0", author="zoe", posted_at="2024-06-01T00:00:00Z",
        body_html="<p>A late reply about calibration.</p>")])
    assert members(db, topic)["lesswrong:late"] == 0.5
    post = threads.theme_posts("forecast", 1, 3)[0][0]
    post.tags = []
    post.title = "Retitled and untagged"
    threads.add(db, posts=[post])
    assert "lesswrong:forecast0" not in members(db, topic)


def test_user_topic_matches_phrases_and_regexes_and_scores_by_hits(db):
    topic = T.add_topic(db, "SAEs", ["sparse autoencoder", r"\bSAEs?\b"])
    assert topic["kind"] == "user" and topic["items"] > 0
    scores = members(db, topic["id"])
    assert all(i.startswith("lesswrong:interp") for i in scores)
    threads.add(db, comments=[Comment(
        id="lesswrong:new", site_id="lesswrong", source_id="new", post_id="lesswrong:reward1",
        author="zoe", posted_at="2024-07-01T00:00:00Z",
        body_html="<p>SAEs on reward models? A sparse autoencoder could find the SAE features "
                  "of sycophancy.</p>")])
    assert members(db, topic["id"])["lesswrong:new"] == pytest.approx(1 - 0.5 ** 3)


def test_bad_patterns_are_usage_errors(db):
    with pytest.raises(UsageError, match="not a valid regular expression"):
        T.add_topic(db, "Broken", ["(unclosed"])
    with pytest.raises(UsageError, match="at least one"):
        T.add_topic(db, "Empty", ["  "])


def test_find_topic_by_id_name_and_errors(db):
    topic = T.find_topic(db, "interpretability (ml & ai)")
    assert T.find_topic(db, str(topic["id"]))["name"] == "Interpretability (ML & AI)"
    with pytest.raises(NotFound):
        T.find_topic(db, "No such topic")
    T.add_topic(db, "Forecasting", ["forecast"])
    with pytest.raises(UsageError, match="ambiguous"):
        T.find_topic(db, "Forecasting")


def test_list_topics_counts_newest_and_contributors(db):
    rows = {t["name"]: t for t in T.list_topics(db)}
    interp = rows["Interpretability (ML & AI)"]
    assert (interp["posts"], interp["comments"], interp["items"]) == (5, 15, 20)
    assert interp["newest"] == "2024-01-05T13:00:00Z"
    assert interp["contributors"] and interp["contributors"][0]["items"] >= \
        interp["contributors"][-1]["items"]


def test_arxiv_categories_and_papers_mentioned(db):
    from archiver.store.papers import save_papers

    counts = save_papers(db, [Paper(source="arxiv", source_id="2401.00001", arxiv_id="2401.00001",
                                    title="Sparse Dictionary Features", categories=["cs.LG", "cs.AI"],
                                    primary_category="cs.LG")])
    paper_id = db.execute("SELECT id FROM papers").fetchone()[0]
    db["mentions"].insert({"item_table": "comments", "item_id": "lesswrong:interp0c0",
                           "paper_id": paper_id, "how": "arxiv"})
    T.after_fetch(db, {"papers": counts.changed.get("papers") or [paper_id],
                       "comments": ["lesswrong:interp0c0"]})
    learning = T.find_topic(db, "cs.LG")
    assert learning["kind"] == "arxiv" and learning["label"] == "cs.LG (Machine Learning)"
    assert members(db, learning["id"]) == {paper_id: 1.0, "lesswrong:interp0c0": 0.5}
    assert members(db, T.find_topic(db, "cs.AI")["id"])[paper_id] == 0.6


def test_blog_categories_are_blog_sections(db):
    blog = Site(id="blog:example.org", name="Example blog", url="https://example.org", kind="blog")
    tag = Tag(id="blog:example.org:tag:evals", site_id="blog:example.org", name="Evals")
    post = Post(id="blog:example.org:p1", site_id="blog:example.org", source_id="p1", kind="blog",
                title="Eval notes", body_html="<p>Notes on evaluations.</p>", tags=[tag])
    threads.ingest(db, [Page(sites=[blog], posts=[post])], "test", "x")
    topic = T.find_topic(db, "Evals")
    assert topic["kind"] == "blog-section"
    assert members(db, topic["id"]) == {"blog:example.org:p1": 1.0}


def test_discover_finds_the_three_themes_deterministically(db):
    first = T.discover(db, k=3)
    again = T.discover(db, k=3)
    assert [(t["label"], t["keywords"], t["items"]) for t in first] == \
        [(t["label"], t["keywords"], t["items"]) for t in again]
    assert len(first) == 3
    for topic in first:
        themes = {item.split(":")[1].rstrip("0123456789c") for item in topic["items"]}
        assert len(themes) == 1, topic  # each theme's items and nothing else
    words = " ".join(" ".join(t["keywords"]) for t in first)
    for word in ("sparse", "reward", "forecast"):
        assert word in words
    assert all(t["label"][0].isupper() for t in first)
    assert {t["kind"] for t in T.list_topics(db, "discovered")} == {"discovered"}


def test_new_items_join_the_nearest_discovered_theme(db):
    found = T.discover(db, k=3)
    reward = next(t for t in found if any("reward" in k for k in t["keywords"]))
    threads.add(db, comments=[Comment(
        id="lesswrong:fresh", site_id="lesswrong", source_id="fresh",
        post_id="lesswrong:interp2", author="zoe", posted_at="2024-08-01T00:00:00Z",
        body_html="<p>The reward model is overoptimised: the policy exploits flaws in the reward "
                  "signal, a clear case of reward hacking and specification gaming by the "
                  "policy during RLHF with a weak KL penalty. Raters were fooled by sycophantic "
                  "answers again.</p>")])
    assert "lesswrong:fresh" in members(db, reward["id"])
    assert all("lesswrong:fresh" not in members(db, t["id"]) for t in found if t is not reward)


def test_discover_needs_enough_items(tmp_path):
    db = open_db(str(tmp_path / "small.db"))
    threads.build(db, themes=("interp",), count=1)
    with pytest.raises(UsageError, match="too few|only"):
        T.discover(db, k=5)


def test_cli_topics_add_list_and_discover(cli_run, tmp_path):
    db = open_db(str(tmp_path / "archive.db"))
    threads.build(db)
    result = cli_run("topics", "add", "Sycophancy", "--match", "sycophan\\w*", "--json")
    expected = db.execute(
        "SELECT (SELECT count(*) FROM posts WHERE body_text LIKE '%sycophan%') + "
        "(SELECT count(*) FROM comments WHERE body_text LIKE '%sycophan%')").fetchone()[0]
    assert json.loads(result.output)["items"] == expected > 0
    listed = [json.loads(line) for line in cli_run("topics", "--json").output.splitlines()]
    assert {"Sycophancy", "Forecasting", "Reward Hacking"} <= {t["name"] for t in listed}
    assert all({"id", "kind", "items", "newest", "contributors"} <= set(t) for t in listed)
    out = json.loads(cli_run("topics", "discover", "--k", "3", "--json").output)
    assert len(out["topics"]) == 3
    assert set(out["topics"][0]) == {"id", "label", "keywords", "items"}
    bad = cli_run("topics", "discover", "--k", "lots")
    assert bad.exit_code == 2 and "--k must be" in bad.output


def test_config_topics_are_loaded(cli_run, tmp_path):
    db = open_db(str(tmp_path / "archive.db"))
    threads.build(db)
    config = tmp_path / "archiver.toml"
    config.write_text('[[watch.topics]]\nname = "Timelines"\nmatch = ["AGI", "timelines?"]\n')
    listed = [json.loads(line) for line in
              cli_run("topics", "--kind", "user", "--json", "--config", str(config))
              .output.splitlines()]
    assert [(t["name"], t["items"] > 0) for t in listed] == [("Timelines", True)]


def test_discover_k_gives_k_nonempty_topics_and_every_item_a_primary_topic(db):
    # Comments that mix all three themes: NMF leaves some components without an item of their
    # own, and spreads these items so thinly that no theme holds a quarter of their weight.
    sentences = [s for _tag, texts in threads.THEMES.values() for s in texts]
    threads.add(db, comments=[Comment(
        id=f"lesswrong:mix{i}", site_id="lesswrong", source_id=f"mix{i}",
        post_id="lesswrong:interp0", author="mixer", posted_at="2024-03-01T00:00:00Z",
        body_html="<p>" + " ".join(sentences[(i * 5 + j * 7) % len(sentences)]
                                   for j in range(6)) + "</p>") for i in range(12)])
    for k in (3, 9, 13):
        found = T.discover(db, k=k)
        assert len(found) == k and all(t["items"] for t in found), k
    discovered = {t["id"] for t in found}
    texts = db.execute("SELECT count(*) FROM posts WHERE stub = 0").fetchone()[0] + \
        db.execute("SELECT count(*) FROM comments WHERE length(body_text) >= ?",
                   [T.MIN_COMMENT_CHARS]).fetchone()[0]
    members = db.execute("SELECT count(DISTINCT item_table || item_id) FROM topic_items WHERE "
                         f"topic_id IN ({', '.join(map(str, discovered))})").fetchone()[0]
    assert members >= 0.99 * texts  # no fixed share leaves items out
    primary = db.execute("SELECT item_table, item_id, count(*) FROM primary_topics "
                         "GROUP BY 1, 2").fetchall()
    assert primary and all(n == 1 for *_key, n in primary)  # exactly one per item
    tagged = db.execute("SELECT kind FROM primary_topics WHERE item_id = 'lesswrong:interp0'")
    assert tagged.fetchone()[0] == "tag"  # a tagged post: its tag (1.0) beats a theme share


def test_labels_are_phrases_in_natural_order_without_url_debris():
    docs = [("posts", f"p{i}", text) for i, text in enumerate([
        "Iterated amplification trains a model to imitate a team of copies. See "
        "https://jack-clark.net/import-ai and mailchi.mp/x for more.",
        "With iterated amplification the overseer stays in the loop; debate is the rival plan.",
        "Iterated amplification and AI safety via debate both scale oversight.",
        "AI safety via debate pits two models against each other before a judge."])]
    docs = [(t, i, T._strip_quotes(x)) for t, i, x in docs]
    labels = np.zeros(len(docs), dtype=int)
    keywords = [[("amplification", 0.9), ("iterated", 0.8), ("debate", 0.7), ("safety", 0.3)]]
    phrases = T._phrases(docs, labels, 1, keywords)[0]
    assert phrases[0] == "iterated amplification"
    label = T.label_from_phrases(phrases, [k for k, _ in keywords[0]])
    assert label.startswith("Iterated amplification") and " " in label
    assert not any(w in label.lower() for w in ("mailchi", "jack-clark", "import", "net"))


def test_user_topics_include_papers(db):
    from archiver.kernel.records import Paper
    from archiver.store.papers import save_papers

    save_papers(db, [Paper(source="arxiv", source_id="2404.16014", arxiv_id="2404.16014",
                           title="Improving Dictionary Learning with Gated Sparse Autoencoders",
                           abstract="Gated SAEs reduce shrinkage at matched sparsity.")])
    topic = T.add_topic(db, "Gated SAEs", ["gated sparse autoencoders?", "gated SAEs?"])
    tables = {r[0] for r in db.execute("SELECT item_table FROM topic_items WHERE topic_id = ?",
                                       [topic["id"]])}
    assert "papers" in tables


# -- user patterns run in bounded time -------------------------------------------------------


def test_a_pathological_regex_is_refused_when_the_topic_is_defined(db):
    for pattern in ("(a+)+$", "(a|aa)+$", r"(\w+\s?)+$"):
        with pytest.raises(UsageError, match="exponential time"):
            T.add_topic(db, "Catastrophic", [pattern])
    assert not [t for t in T.list_topics(db, "user") if t["name"] == "Catastrophic"]


def test_a_regex_that_times_out_on_an_item_skips_it_with_a_warning(db, monkeypatch, caplog):
    """A pattern the probes miss (stored directly here) never hangs a fetch: the item that makes
    it backtrack is skipped for that topic, with a warning naming the topic."""
    from archiver.analysis import patterns

    topic = T.add_topic(db, "Sevens", [r"\bseven\b"])
    monkeypatch.setattr(patterns, "_probes", lambda text: [])  # as if the probes had missed it
    db.conn.execute("UPDATE topics SET match = ? WHERE id = ?",
                    [json.dumps([r"^(\d+)*$", "seven"]), topic["id"]])
    monkeypatch.setattr(patterns, "MATCH_TIMEOUT", 0.05)
    threads.add(db, comments=[
        Comment(id="lesswrong:slow", site_id="lesswrong", source_id="slow",
                post_id="lesswrong:reward1", author="zoe", posted_at="2024-07-01T00:00:00Z",
                body_html="<p>" + "1" * 5000 + "x seven</p>"),
        Comment(id="lesswrong:fast", site_id="lesswrong", source_id="fast",
                post_id="lesswrong:reward1", author="zoe", posted_at="2024-07-01T00:00:01Z",
                body_html="<p>seven</p>")])
    scores = members(db, topic["id"])
    assert "lesswrong:fast" in scores and "lesswrong:slow" not in scores
    assert any("'Sevens'" in r.getMessage() and "lesswrong:slow" in r.getMessage()
               and "skipped" in r.getMessage() for r in caplog.records)


def test_pattern_matching_takes_linear_time_where_re_took_exponential():
    from archiver.analysis import patterns

    pattern = patterns.compile_pattern(r"\bSAEs?\b")
    assert patterns.count(pattern, "SAE and SAEs " * 10_000) == 20_000
    slow = __import__("regex").compile(r"(a+)+$")
    with pytest.raises(patterns.PatternTimeout):
        patterns.count(slow, "a" * 5000 + "!", timeout=0.05)


def test_models_are_fitted_on_one_blas_thread(db, monkeypatch):
    """Several BLAS threads on a busy 2-core machine made discover 6x slower: the fits (topic
    NMF, summary LexRank) run on one, whatever the process was set to, and it is restored."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from archiver.analysis import summarize

    seen = []

    def spy(original):
        def recorded(*args, **kwargs):
            seen.append({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})
            return original(*args, **kwargs)
        return recorded

    monkeypatch.setattr(T, "_fit_nonempty", spy(T._fit_nonempty))
    monkeypatch.setattr(summarize, "lexrank", spy(summarize.lexrank))
    with threadpool_limits(limits=2, user_api="blas"):
        before = {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
        T.discover(db, k=3)
        summarize.summarize_topic(db, T.list_topics(db, "discovered")[0]["id"])
        after = {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
    assert len(seen) == 2 and seen == [{1}, {1}]
    assert after == before


def test_comments_already_in_a_thread_topic_are_not_rewritten(db):
    """A new thread's comments join its tag topics once (by _assign_tags); assigning them by
    thread again writes nothing, so the cost stays linear in the comments that are new."""
    topic = T.find_topic(db, "Forecasting")["id"]
    ids = [r[0] for r in db.execute("SELECT id FROM comments WHERE post_id = "
                                    "'lesswrong:forecast0'")]
    assert ids and all(members(db, topic)[i] == 0.5 for i in ids)
    before = db.conn.total_changes
    with db.conn:
        T._assign_comments_by_thread(db, ids)
    assert db.conn.total_changes == before


def _steps_to_assign_a_batch(thread_size: int, batch: int = 500) -> int:
    """SQLite VM steps (a deterministic measure of work) to assign ``batch`` new comments of a
    tagged thread that has ``thread_size`` comments."""
    db = open_db(":memory:")
    db.execute("INSERT INTO topics (id, kind, name) VALUES (1, 'tag', 'Big')")
    db.execute("INSERT INTO topic_items (topic_id, item_table, item_id, score) "
               "VALUES (1, 'posts', 'p', 1.0)")
    db.conn.executemany("INSERT INTO comments (id, post_id, path) VALUES (?, 'p', ?)",
                        [(f"c{i:06d}", f"{i:06d}") for i in range(thread_size)])
    steps = [0]

    def count():
        steps[0] += 1
        return 0

    db.conn.set_progress_handler(count, 100)
    T._assign_comments_by_thread(db, [f"c{i:06d}" for i in range(batch)])
    db.conn.set_progress_handler(None, 0)
    assert db.execute("SELECT count(*) FROM topic_items WHERE item_table = 'comments'"
                      ).fetchone()[0] == batch
    return steps[0]


def test_assigning_a_batch_by_thread_does_not_walk_the_whole_thread():
    """A 100k-comment thread spent 34 s here: each batch of 500 ids walked every comment of the
    thread. The work for a batch is now the same in a thread 10x bigger."""
    small, big = _steps_to_assign_a_batch(1_000), _steps_to_assign_a_batch(10_000)
    assert big < 1.2 * small, (small, big)
