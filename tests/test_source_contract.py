"""The source contract, checked for every source the registry holds.

Every forum source: returns None for other sites' URLs, parses its own examples, fetches a thread
from its loopback fake as typed records, names its site; every source that imports saved files
recognises its own sample, no other source's, and reads it back as the records the API gave.
A new source's fake is found by convention: ``tests/fakes/<source name>.py`` exposing
``stage(httpserver) -> Stage`` (the first test fails until it does); the built-ins' stages are below.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
from importlib.metadata import EntryPoint

import pytest

from archiver.kernel.errors import ArchiverError, UsageError
from archiver.kernel.records import Comment, Page, Post, Site, User
from archiver.sources import registry
from archiver.sources.contract import CATCH_ALL, ForumSource, SiteSpec, ThreadRef
from tests.fakes import Stage
from tests.fakes import forummagnum as fm
from tests.fakes.discourse import FakeDiscourse
from tests.fakes.greaterwrong import FakeGreaterWrong, render_post
from tests.fakes.hackernews import FakeHN
from tests.fakes.reddit import FakeReddit

FORUMS = registry.forum_sources()
SAVED = [s for s in FORUMS if s.saved]
BY_NAME = {s.name: s for s in FORUMS}

# Not URLs of any site (or of no site archiver knows): every source answers None.
JUNK = ["", "   ", "not a url", "javascript:alert(1)", "mailto:a@b.c", "http://", "\x00",
        "file:///etc/passwd", "ftp://news.ycombinator.com/item?id=1", "https://example.com/",
        "https://example.com/posts/abcdefgh12345678", "https://example.com/t/", "unknown:123",
        "lesswrong:", "hn:", "reddit:", "https://example.com/t/slug/notanumber",
        "https://www.lesswrong.com.evil.example/posts/abcdefgh12345678", "https://" + "a" * 5000]


PID = "postid0000000001"
ALICE, BOB = fm.user("aliceid000000001", "alice", "Alice"), fm.user("bobid00000000001", "bob", "Bob")


def _forum(httpserver) -> fm.FakeForum:
    forum = fm.FakeForum()
    forum.posts[PID] = fm.post(PID, "Gated SAEs fix shrinkage", ALICE, "<p>Gated SAEs.</p>",
                               commentCount=2)
    forum.comments += [
        fm.comment("c000000000000001", PID, BOB, "<p>Why does gating help?</p>", fm.stamp(1)),
        fm.comment("c000000000000002", PID, ALICE, "<blockquote><p>Why does gating help?</p>"
                   "</blockquote><p>It separates detection.</p>", fm.stamp(2),
                   parent="c000000000000001")]
    httpserver.expect_request("/graphql", method="POST").respond_with_handler(forum.handler)
    return forum


def stage_forummagnum(httpserver) -> Stage:
    forum = _forum(httpserver)
    saved = {"data": {"post": {"result": forum.posts[PID]},
                      "comments": {"results": forum.comments}}}  # a GraphQL answer, saved
    return Stage(f"lesswrong:{PID}", httpserver.url_for("/graphql"), json.dumps(saved))


def stage_greaterwrong(httpserver) -> Stage:
    forum = _forum(httpserver)
    site = FakeGreaterWrong(forum)
    httpserver.expect_request(re.compile("^/posts/.*")).respond_with_handler(site.handler)
    return Stage(f"https://www.greaterwrong.com/posts/{PID}/gated-saes",
                 httpserver.url_for("/").rstrip("/"), render_post(forum, PID))  # the page, saved


def stage_hackernews(httpserver) -> Stage:
    fake = FakeHN()
    fake.story(40000000, "Gated SAEs fix shrinkage", "alice")
    fake.comment(40000001, 40000000, "bob", "Why does gating help?")
    fake.comment(40000002, 40000001, "alice", "&gt; Why does gating help?<p>It separates.")
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handler)
    tree = fake._algolia_tree(fake.items[40000000])  # the Algolia answer, saved
    return Stage("https://news.ycombinator.com/item?id=40000000",
                 httpserver.url_for("/").rstrip("/"), json.dumps(tree))


def stage_reddit(httpserver) -> Stage:
    fake = FakeReddit()
    fake.post("1abcd2", "Gated SAEs fix shrinkage", "alice", selftext="We propose gated SAEs.")
    fake.comment("c1", "t3_1abcd2", "bob", "Why does gating help?")
    fake.comment("c2", "t1_c1", "alice", "> Why does gating help?\n\nIt separates.")
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handler)
    return Stage("https://www.reddit.com/r/MachineLearning/comments/1abcd2/gated_saes/",
                 httpserver.url_for("/").rstrip("/"),
                 json.dumps(fake._thread("1abcd2", None, 500)))  # the thread's .json, saved


def stage_discourse(httpserver) -> Stage:
    fake = FakeDiscourse()
    fake.topic(4242, "Gated SAEs fix shrinkage", "alice", "<p>Gated SAEs.</p>")
    fake.post(4242, "bob", "<p>Why does gating help?</p>", reply_to=1)
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handler)
    url = "https://discuss.example.org/t/gated-saes-fix-shrinkage/4242"
    # The topic's /t/<id>.json, saved: it does not name its forum, so the import is given the URL.
    return Stage(url, httpserver.url_for("/").rstrip("/"), json.dumps(fake._topic(4242)), url)


BUILT_IN_STAGES = {"forummagnum": stage_forummagnum, "greaterwrong": stage_greaterwrong,
                   "hackernews": stage_hackernews, "reddit": stage_reddit,
                   "discourse": stage_discourse}


def _conventional_stage(name: str):
    """``tests/fakes/<name>.py``'s ``stage`` hook, or None."""
    try:
        module = importlib.import_module(f"tests.fakes.{name}")
    except ModuleNotFoundError:
        return None
    return getattr(module, "stage", None)


STAGES = {name: BUILT_IN_STAGES.get(name) or _conventional_stage(name) for name in BY_NAME}


def test_every_registered_source_has_a_fake_here():
    missing = sorted(name for name, stage in STAGES.items() if stage is None)
    assert not missing, ("give each source a fake: tests/fakes/<name>.py with "
                         f"stage(httpserver) -> Stage; missing: {missing}")


def _mirrors(a: ForumSource, b: ForumSource) -> bool:
    """A source and its declared fallback read the same URLs (ForumMagnum and GreaterWrong)."""
    return a.fallback == b.name or b.fallback == a.name


@pytest.mark.parametrize("source", FORUMS, ids=lambda s: s.name)
def test_foreign_urls_and_junk_are_none(source):
    # A catch-all (Discourse: /t/<slug>/<id> and /u/<name> on any host) cannot know other sites'
    # hosts; it is asked last, which the next test checks through the registry.
    foreign = [] if source.priority == CATCH_ALL else [
        url for other in FORUMS if other is not source and not _mirrors(source, other)
        for url in other.thread_examples + other.user_examples]
    for url in JUNK + foreign:
        assert source.parse_thread_url(url) is None, url
        if source.users:
            assert source.parse_user_url(url, None) is None, url


@pytest.mark.parametrize("source", FORUMS, ids=lambda s: s.name)
def test_the_registry_gives_each_example_to_its_source(source):
    for url in source.thread_examples:
        found, _ref = registry.resolve_thread(url)
        assert found is source or _mirrors(found, source), url
    for url in source.user_examples:
        found, _ref = registry.resolve_user(url)
        assert found is source, url


@pytest.mark.parametrize("source", FORUMS, ids=lambda s: s.name)
def test_own_examples_parse_to_refs_of_its_sites(source):
    assert source.thread_examples, "declare thread_examples: the contract test and help use them"
    for url in source.thread_examples:
        ref = source.parse_thread_url(url)
        assert isinstance(ref, ThreadRef) and ref.thread_id, url
        assert not source.sites or ref.site in [s.id for s in source.sites], url
        assert source.site_record(ref).id == ref.site
    for url in source.user_examples:
        assert source.users and source.parse_user_url(url, None) is not None, url


@pytest.mark.parametrize("url", ["https://[::1", "https://[::1/t/a/1", "   ", "nothing"])
def test_junk_through_the_registry_is_one_usage_error(url):
    with pytest.raises(UsageError, match="not a (valid URL|thread URL)"):
        registry.resolve_thread(url)


@pytest.mark.parametrize("url", ["https://[::1", "https://example.com/nobody", "two words"])
def test_junk_users_through_the_registry_are_one_usage_error(url):
    with pytest.raises(UsageError, match="not a (valid URL|user URL)"):
        registry.resolve_user(url)


@pytest.mark.parametrize("source", FORUMS, ids=lambda s: s.name)
def test_fetches_a_thread_from_its_fake_as_typed_records(source, httpserver, http):
    stage = STAGES[source.name](httpserver)
    ref = source.parse_thread_url(stage.url)
    pages = list(source.fetch_thread(http, ref, endpoint=stage.endpoint))
    post_id = f"{ref.site}:{ref.thread_id}"
    _check_records(pages, post_id)
    assert post_id in [i for p in pages for i in p.complete_post_ids]  # a full fetch says so
    assert source.site_record(ref).id == ref.site


@pytest.mark.parametrize("source", [s for s in FORUMS if s.check], ids=lambda s: s.name)
def test_the_change_check_signs_its_threads_and_leaves_out_missing_ones(source, httpserver, http):
    from archiver.sources.contract import ThreadSignature

    stage = STAGES[source.name](httpserver)
    ref = source.parse_thread_url(stage.url)
    missing = ThreadRef(ref.site, "9999999" if ref.thread_id.isdigit() else "9zz999",
                        ref.url.replace(ref.thread_id, "9999999"), dict(ref.extra))
    if source.name == "forummagnum":
        missing.thread_id = "missing000000001"
    before = http.requests_made
    signatures = source.check_threads(http, [ref, missing], endpoint=stage.endpoint)
    assert set(signatures) == {ref.thread_id}
    signature = signatures[ref.thread_id]
    assert isinstance(signature, ThreadSignature) and signature.comments >= 2
    assert http.requests_made - before <= 2  # at most one request per thread


def _check_records(pages: list[Page], post_id: str) -> tuple[set[str], set[str]]:
    """Pages hold only the declared record types; the thread's post and its comments are there."""
    assert pages and all(isinstance(p, Page) for p in pages)
    posts = [r for p in pages for r in p.posts]
    comments = [r for p in pages for r in p.comments]
    assert all(isinstance(r, Post) for r in posts)
    assert all(isinstance(r, Comment) and r.post_id == post_id for r in comments)
    assert all(isinstance(r, User) for p in pages for r in p.users)
    assert all(isinstance(r, Site) for p in pages for r in p.sites)
    assert post_id in {r.id for r in posts} and comments
    return {r.id for r in posts}, {r.id for r in comments}


@pytest.mark.parametrize("source", SAVED, ids=lambda s: s.name)
def test_saved_sample_round_trips_and_only_its_source_claims_it(source, httpserver, http):
    stage = STAGES[source.name](httpserver)
    assert stage.saved, f"give {source.name}'s stage a saved sample"
    ref = source.parse_thread_url(stage.url)
    post_id = f"{ref.site}:{ref.thread_id}"
    fetched = _check_records(list(source.fetch_thread(http, ref, endpoint=stage.endpoint)),
                             post_id)
    assert source.sniff_saved(stage.saved, stage.saved_url)
    pages = source.parse_saved(stage.saved, stage.saved_url)
    assert _check_records(pages, post_id) == fetched
    assert not [i for p in pages for i in p.complete_post_ids]  # a snapshot flags nothing missing
    for other in SAVED:
        if other is not source:
            assert not other.sniff_saved(stage.saved, None), other.name
            assert other.parse_saved(stage.saved, None) is None, other.name


@pytest.mark.parametrize("source", SAVED, ids=lambda s: s.name)
def test_saved_capability_ignores_other_files(source):
    for text in ["<html><body><p>An article.</p></body></html>", '{"id": "W1"}', "plain text",
                 '{"data": 5}', "[1, 2]", "{not json"]:
        assert not source.sniff_saved(text, None), text
        assert source.parse_saved(text, None) is None, text


# -- the registry --------------------------------------------------------------------------------


def test_catch_all_sources_are_asked_last():
    priorities = [s.priority for s in FORUMS]
    assert priorities == sorted(priorities, reverse=True)
    assert BY_NAME["discourse"].priority == CATCH_ALL and FORUMS[-1].name == "discourse"


def test_capabilities_and_choices_come_from_declarations():
    assert registry.fallback_names() == ["greaterwrong"]
    assert registry.by_site("alignmentforum") is BY_NAME["forummagnum"]
    assert registry.site_id("alignmentforum") == "lesswrong" == registry.site_id("lesswrong")
    assert "hackernews" in registry.site_names("users")
    assert registry.site_names("tags") == ["lesswrong", "alignmentforum", "eaforum"]
    assert [s.name for s in registry.researcher_sources()][0] == "openalex"  # the default
    with pytest.raises(UsageError, match="does not support watching tags"):
        BY_NAME["hackernews"].require("tags", "watch.tags x")


@pytest.mark.parametrize("who, site, source, slug", [
    ("dang", "hackernews", "hackernews", "dang"),
    ("someone", "reddit", "reddit", "someone"),
    ("rohinmshah", "alignmentforum", "forummagnum", "rohinmshah"),
    ("rohinmshah", None, "forummagnum", "rohinmshah"),  # no site: LessWrong, as before
    ("https://news.ycombinator.com/user?id=pg", "lesswrong", "hackernews", "pg"),
])
def test_a_bare_name_goes_to_the_site_given(who, site, source, slug):
    found, ref = registry.resolve_user(who, site)
    assert (found.name, ref.slug) == (source, slug)


def test_an_unknown_site_lists_the_known_ones():
    with pytest.raises(UsageError, match="unknown site 'nope'; use one of: lesswrong, "):
        registry.resolve_user("someone", "nope")


def _thread(url: str) -> ThreadRef | None:
    return ThreadRef("plugin", "1", url) if url.startswith("https://plugin.example/") else None


# What a third-party package declares; it outranks the built-ins for its own URLs.
PLUGIN = ForumSource(
    name="plugin", title="A plugin forum", priority=500, sites=(SiteSpec("plugin", "Plugin"),),
    thread_examples=("https://plugin.example/1",), parse_thread_url=_thread,
    fetch_thread=lambda http, ref, endpoint=None: iter(()),
    site_record=lambda ref: Site(id="plugin", name="Plugin", url="https://plugin.example",
                                 kind="plugin"))
NOT_A_SOURCE = object()


def _point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name, value, registry.GROUP)


class _Records(logging.Handler):
    """Listens on the logger itself: the CLI stops archiver's loggers propagating to caplog."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_third_party_sources_load_like_built_ins_and_broken_ones_are_skipped():
    builtins = list(registry.entry_points(group=registry.GROUP))
    points = builtins + [_point("plugin", f"{__name__}:PLUGIN"),
                         _point("missing", "no_such_archiver_plugin:SOURCE"),
                         _point("odd", f"{__name__}:NOT_A_SOURCE")]
    records, logger = _Records(), logging.getLogger("archiver.sources")
    logger.addHandler(records)
    level = logger.level
    logger.setLevel(logging.WARNING)  # whatever the last CLI run left on "archiver"
    try:
        loaded = registry.load(points)
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)
    assert loaded.forums[0] is PLUGIN
    assert {s.name for s in loaded.forums} == set(BY_NAME) | {"plugin"}
    assert len(loaded.researchers) == len(registry.researcher_sources())
    warned = " ".join(records.messages)
    assert "missing" in warned and "failed to load" in warned and "odd" in warned


def test_a_broken_built_in_is_an_error_not_a_warning():
    with pytest.raises(ModuleNotFoundError):
        registry.load([_point("gone", "archiver.sources.no_such_source:SOURCE")])


def test_no_registered_sources_is_one_clear_line(monkeypatch, cli_run):
    monkeypatch.setattr(registry, "entry_points", lambda group: [])
    registry.registry.cache_clear()
    try:
        with pytest.raises(ArchiverError, match="not registered: reinstall with pip install -e ."):
            registry.resolve_thread("hn:1")
        result = cli_run("thread", "hn:1")
    finally:
        monkeypatch.undo()
        registry.registry.cache_clear()
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: archiver's sources are not registered: reinstall with pip install -e . "
        "(in archiver's folder)"]
