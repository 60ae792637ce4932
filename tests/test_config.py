"""The TOML config: the example `archiver init` writes, the watch list, and errors with file:line."""

from __future__ import annotations

import textwrap

import pytest

from archiver.app.config import EXAMPLE, load_config, parse_config
from archiver.kernel.errors import UsageError


def error_of(text: str, path: str = "archiver.toml") -> str:
    with pytest.raises(UsageError) as caught:
        parse_config(textwrap.dedent(text), path)
    return str(caught.value)


def test_example_config_parses_into_every_watch_kind():
    config = parse_config(EXAMPLE)
    assert config.db == "db/archive.db"
    assert config.delay == 1.0 and config.retries == 4 and config.timeout == 60
    assert config.active_days == 14 and config.overlap_hours == 48
    assert set(config.watch) == {"threads", "users", "tags", "researchers", "feeds", "topics"}
    assert config.entries("tags")[0]["min_score"] == 30
    assert config.topics[0]["match"][1] == r"\bSAEs?\b"  # TOML escapes reach the regex intact
    assert config.entries("researchers")[0]["source"] == "openalex"


def test_politeness_settings_reach_the_http_client():
    config = parse_config(textwrap.dedent("""
        contact = "me@example.org"
        delay = 2.5
        retries = 2
        headers = { "X-Access" = "token" }
    """))
    settings = config.http_settings()
    assert (settings.delay, settings.retries, settings.contact) == (2.5, 2, "me@example.org")
    assert settings.extra_headers == {"X-Access": "token"}


def test_thread_shorthand_list_and_toml_dates_are_accepted():
    config = parse_config(textwrap.dedent("""
        [watch]
        threads = ["lesswrong:uMQ3cqWDPHhjtiesc", "https://www.lesswrong.com/posts/abcdefghijklmnop/x"]
        [[watch.users]]
        url = "alice"
        since = 2024-05-01
    """))
    assert [e["url"] for e in config.entries("threads")] == [
        "lesswrong:uMQ3cqWDPHhjtiesc", "https://www.lesswrong.com/posts/abcdefghijklmnop/x"]
    assert config.entries("users")[0]["since"] == "2024-05-01"


def test_unknown_top_level_key_names_file_line_and_suggests():
    message = error_of("""\
        db = "x.db"
        dealy = 3
    """, "conf/archiver.toml")
    assert message.startswith("conf/archiver.toml:2: unknown key 'dealy'")
    assert "did you mean 'delay'?" in message


def test_unknown_key_in_the_second_watch_entry_points_at_its_line():
    message = error_of("""\
        [[watch.tags]]
        slug = "ai"
        min_score = 10

        [[watch.tags]]
        slug = "interpretability"
        minscore = 10
    """)
    assert message.startswith("archiver.toml:7: unknown key 'minscore' in watch.tags")
    assert "min_score" in message


def test_bad_values_are_reported_with_line_and_hint():
    assert error_of('delay = -1\n').startswith("archiver.toml:1: delay must be 0 or more")
    assert error_of('retries = "four"\n').startswith(
        "archiver.toml:1: retries must be a whole number, not text")
    message = error_of("""\
        [sync]
        active_days = 2.5
    """)
    assert message.startswith("archiver.toml:2: active_days must be a whole number")
    message = error_of("""\
        [[watch.researchers]]
        id = "A123"
        source = "google-scholar"
    """)
    assert message.startswith("archiver.toml:3: source must be one of: openalex, semanticscholar")
    message = error_of("""\
        [[watch.topics]]
        name = "SAEs"
        match = ["(unclosed"]
    """)
    assert "archiver.toml:3:" in message and "not a valid regular expression" in message
    message = error_of("""\
        [[watch.topics]]
        name = "Catastrophic"
        match = ["SAE", "(a+)+$"]
    """)
    assert "archiver.toml:3:" in message and "exponential time" in message


def test_unrecognised_thread_url_is_reported_at_its_entry():
    message = error_of("""\
        [[watch.threads]]
        url = "https://example.com/not-a-forum"
    """)
    assert message.startswith("archiver.toml:1: not a thread URL archiver knows")


def test_missing_required_key_and_unknown_kind():
    assert error_of("""\
        [[watch.feeds]]
        title = "x"
    """).startswith("archiver.toml:2: unknown key 'title' in watch.feeds")
    assert error_of("""\
        [[watch.tags]]
        site = "lesswrong"
    """).startswith("archiver.toml:1: a watch.tags entry needs slug = ...")
    message = error_of("""\
        [[watch.blogs]]
        url = "https://example.org/feed"
    """)
    assert message.startswith("archiver.toml:1: unknown watch kind 'blogs'")
    assert "feeds" in message


def test_invalid_toml_reports_the_line():
    message = error_of('db = "x.db"\ndelay = \n')
    assert message.startswith("archiver.toml:2: not valid TOML")


def test_load_config_finds_the_working_folder_file_and_resolves_db(tmp_path, monkeypatch):
    monkeypatch.delenv("ARCHIVER_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert load_config().watch == {}  # no file: defaults, no error
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "archiver.toml").write_text('db = "data/a.db"\n')
    config = load_config(str(tmp_path / "sub" / "archiver.toml"))
    assert config.db == str(tmp_path / "sub" / "data" / "a.db")  # relative to the config file
    with pytest.raises(UsageError, match="config file not found"):
        load_config(str(tmp_path / "missing.toml"))


def test_init_writes_the_example_and_refuses_to_overwrite(cli_run, tmp_path):
    result = cli_run("init")
    assert result.exit_code == 0
    written = (tmp_path / "archiver.toml").read_text()
    assert written == EXAMPLE
    again = cli_run("init")
    assert again.exit_code == 2 and "already exists" in again.output
    (tmp_path / "archiver.toml").write_text("# mine\n")
    assert cli_run("init", "--force").exit_code == 0
    assert (tmp_path / "archiver.toml").read_text() == EXAMPLE


def test_a_bad_config_fails_the_cli_with_one_clear_line(cli_run, tmp_path):
    (tmp_path / "archiver.toml").write_text("[sync]\nactive_dayz = 3\n")
    result = cli_run("sync", "--dry-run")
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: archiver.toml:2: unknown key 'active_dayz'")
    assert "Traceback" not in result.output


@pytest.mark.parametrize("line, problem", [
    ("delay = inf", "delay must be at most 3600"),
    ("delay = nan", "delay must be a number, not nan"),
    ("timeout = 1e308", "timeout must be at most 3600"),
    ("timeout = -inf", "timeout must be 0 or more"),
    ("retries = 1000000", "retries must be at most 100"),
    ("[sync]\noverlap_hours = 1e300", "overlap_hours must be at most 876000"),
    ("[sync]\nrecheck_days = inf", "recheck_days must be at most 36500"),
    ("[sync]\nfirst_days = 99999999", "first_days must be at most 36500"),
    ('[[watch.users]]\nurl = "lesswrong:x"\nevery_days = inf', "every_days must be at most 36500"),
    ('[endpoints]\nlesswrong = "http://[::1"', "endpoint 'lesswrong' must be an http(s) URL (not a "
                                               "valid URL (Invalid IPv6 URL))"),
    ('[endpoints]\nlesswrong = "http://x:99999/graphql"', "Port out of range"),
    ('[[watch.feeds]]\nurl = "http://[::1/feed"', "url must be an http(s) URL (not a valid URL"),
])
def test_values_that_would_crash_at_run_time_are_refused(line, problem):
    # Each of these passed validation before and failed later: sleep(inf), a socket timeout that
    # does not fit a timeval, a timedelta overflow, urlsplit's ValueError.
    assert problem in error_of(line + "\n")


def test_a_config_value_that_would_crash_fails_the_cli_with_exit_2(cli_run, tmp_path):
    (tmp_path / "archiver.toml").write_text("timeout = 1e308\n")
    result = cli_run("sync", "--dry-run")
    assert result.exit_code == 2
    assert result.output.strip() == ("error: archiver.toml:1: timeout must be at most 3600 (read "
                                     "timeout in seconds, e.g. timeout = 60; each attempt also has "
                                     "an overall deadline of 10 + 3 x timeout seconds)")


def test_endpoint_keys_are_sites_sources_or_their_fallbacks():
    message = error_of("""\
        contact = "me@example.org"

        [endpoints]
        lesswrong = "https://mirror.example/graphql"
        lesswrong_fallbak = "https://gw.example"
    """)
    assert message.startswith("archiver.toml:5: unknown key 'lesswrong_fallbak' in [endpoints] "
                              "(did you mean 'lesswrong_fallback'? known keys: lesswrong, ")
    assert "openalex" in message
    assert "is archived as site 'lesswrong'" in error_of('[endpoints]\nalignmentforum = "https://x.example"\n')
    config = parse_config(textwrap.dedent("""\
        [endpoints]
        eaforum = "https://forum-bots.example/graphql"
        eaforum_fallback = "https://ea.gw.example"
        hackernews_fallback = "https://fb.example/v0"
        openalex = "https://oa.example"
        "discourse:forum.example.org" = "https://mirror.example"
    """))
    assert config.endpoints["eaforum_fallback"] == "https://ea.gw.example"
    assert len(config.endpoints) == 5
