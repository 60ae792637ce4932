"""Fallbacks go only to hosts the user chose (issue 11, item 4).

Every test records the host of each request the client sends and asserts the whole set: a
fallback to a public host nobody configured would show up there (and fail at the name lookup, as
the suite resolves no names).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from werkzeug.wrappers import Response

from archiver.app.forums import archive_thread, archive_user
from archiver.kernel.errors import FetchError
from archiver.kernel.http import Http, HttpSettings
from archiver.sources import greaterwrong as gw
from archiver.store import open_db
from tests.fakes.greaterwrong import FakeGreaterWrong
from tests.fakes.hackernews import FakeHN
from tests.test_greaterwrong import POST_ID, debate

STORY = 40000000


@pytest.fixture
def hosts() -> set:
    return set()


@pytest.fixture
def http(hosts) -> Http:
    client = Http(HttpSettings(delay=0, backoff=0, retries=1))
    send = client.session.request

    def recording(method, url, **kwargs):
        hosts.add(urlsplit(url).netloc)
        return send(method, url, **kwargs)

    client.session.request = recording
    return client


@pytest.fixture
def hn(httpserver) -> FakeHN:
    fake = FakeHN()
    fake.story(STORY, "Gated SAEs fix shrinkage", "alice")
    fake.comment(STORY + 1, STORY, "bob", "Why?")
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handler)
    return fake


def other_host(url: str) -> str:
    """The same loopback server under another name (127.0.0.1 instead of localhost)."""
    return url.replace("//localhost:", "//127.0.0.1:")


def test_hn_endpoint_404_does_not_fall_back_to_the_public_firebase(hn, httpserver, http, hosts):
    api = httpserver.url_for("/").rstrip("/")
    hn.items.pop(STORY + 1)  # Algolia answers 404 for an item it does not have yet
    with pytest.raises(FetchError) as info:
        archive_thread(open_db(":memory:"), http, f"hackernews:{STORY + 1}", endpoint=api)
    message = str(info.value)
    assert "skipped the Firebase fallback (hacker-news.firebaseio.com)" in message
    assert 'hackernews_fallback = "URL" under [endpoints]' in message and "--fallback" in message
    assert hosts == {urlsplit(api).netloc}


def test_hn_falls_back_to_the_configured_firebase_only(hn, httpserver, http, hosts):
    api = httpserver.url_for("/").rstrip("/")
    hn.algolia_down = True
    firebase = other_host(api) + "/v0"
    db = open_db(":memory:")
    archive_thread(db, http, f"hackernews:{STORY}", endpoint=api,
                   endpoints={"hackernews_fallback": firebase})
    assert db["comments"].count == 1
    assert hosts == {urlsplit(api).netloc, urlsplit(firebase).netloc}


def test_hn_user_profile_fallback_obeys_the_same_rule(hn, httpserver, http, hosts):
    api = httpserver.url_for("/").rstrip("/")
    hn.users["carol"] = {"id": "carol", "num": 9, "created": 1300000000, "karma": 5}
    hn.algolia_down = True
    with pytest.raises(FetchError, match="skipped the Firebase fallback"):
        archive_user(open_db(":memory:"), http, "https://news.ycombinator.com/user?id=carol",
                     posts=0, comments=0, endpoint=api)
    assert hosts == {urlsplit(api).netloc}


def test_without_any_endpoint_the_public_fallback_stays_allowed(http, hosts):
    # No network here: both public names fail to resolve, but the client asks both.
    with pytest.raises(FetchError, match="cannot reach hacker-news.firebaseio.com"):
        archive_thread(open_db(":memory:"), http, f"hackernews:{STORY}")
    assert hosts == {"hn.algolia.com", "hacker-news.firebaseio.com"}


@pytest.fixture
def challenge(httpserver, forum) -> str:
    """A ForumMagnum endpoint answering with a bot-challenge page; GreaterWrong pages on the same
    loopback server (reached under another host name when configured as the fallback)."""
    debate(forum)
    httpserver.expect_request("/challenge/graphql", method="POST").respond_with_response(
        Response("<!DOCTYPE html><html><title>Just a moment...</title></html>",
                 content_type="text/html"))
    httpserver.expect_request(re.compile("^/posts/.*")).respond_with_handler(
        FakeGreaterWrong(forum).handler)
    return httpserver.url_for("/challenge/graphql")


def test_challenge_with_endpoint_does_not_go_to_the_real_greaterwrong(challenge, http, hosts):
    with pytest.raises(FetchError) as info:
        archive_thread(open_db(":memory:"), http, f"lesswrong:{POST_ID}", endpoint=challenge)
    message = str(info.value)
    assert "got an HTML page where JSON was expected" in message
    assert "skipped the GreaterWrong fallback (www.greaterwrong.com)" in message
    assert 'lesswrong_fallback = "URL"' in message
    assert hosts == {urlsplit(challenge).netloc}


def test_challenge_falls_back_to_the_greaterwrong_the_user_chose(challenge, http, hosts):
    mirror = other_host(challenge.removesuffix("/challenge/graphql"))
    db = open_db(":memory:")
    archive_thread(db, http, f"lesswrong:{POST_ID}", endpoint=challenge, fallback=mirror)
    assert db["comments"].count == 4
    assert hosts == {urlsplit(challenge).netloc, urlsplit(mirror).netloc}
    assert gw.ROOTS["lesswrong"] == "https://www.greaterwrong.com"  # nothing patched


def test_cli_fallback_option_and_config_key(challenge, cli_run, tmp_path):
    mirror = other_host(challenge.removesuffix("/challenge/graphql"))
    args = ["thread", f"lesswrong:{POST_ID}", "--endpoint", challenge, "--delay", "0"]
    refused = cli_run(*args)
    assert refused.exit_code == 1
    assert "skipped the GreaterWrong fallback" in refused.output
    assert "Traceback" not in refused.output
    assert cli_run(*args, "--fallback", mirror).exit_code == 0
    (tmp_path / "archiver.toml").write_text(f'[endpoints]\nlesswrong_fallback = "{mirror}"\n')
    assert cli_run(*args).exit_code == 0
