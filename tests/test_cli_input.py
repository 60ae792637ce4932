"""Bad command-line input (issue 11, item 3): one clear line, exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_non_utf8_argument_from_a_real_argv_is_one_line_exit_2(tmp_path):
    # Real bytes in argv: Python decodes them to lone surrogates, which crashed the first encode
    # (SQLite's, in search). This run makes no request: it fails before any command runs.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ARCHIVER_DB": str(tmp_path / "a.db")}
    done = subprocess.run([sys.executable, "-m", "archiver", b"search", b"\xff\xfe gated"],
                          capture_output=True, env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert done.stderr.decode() == ("error: the argument b'\\xff\\xfe gated' is not valid UTF-8 "
                                    "text; pass UTF-8 (check the terminal's or the script's "
                                    "encoding)\n")
    assert not (tmp_path / "a.db").exists()


@pytest.mark.parametrize("args, message", [
    (["search", "\udcff\udcfe"], "error: the argument b'\\xff\\xfe' is not valid UTF-8 text"),
    (["page", "http://[::1"], "error: 'http://[::1' is not a valid URL (Invalid IPv6 URL)"),
    (["thread", "http://[::1"], "error: 'http://[::1' is not a valid URL (Invalid IPv6 URL)"),
    (["user", "https://www.lesswrong.com:99999/users/x"], "Port out of range"),
    (["thread", "lesswrong:abcdefabcdefabcdef", "--endpoint=http://[::1/graphql"],
     "error: 'http://[::1/graphql' is not a valid URL"),
    (["thread", "lesswrong:abcdefabcdefabcdef", "--delay", "inf"],
     "error: --delay takes seconds from 0 to 3600, not inf"),
    (["sync", "--delay", "nan"], "error: --delay takes seconds from 0 to 3600, not nan"),
    (["sync", "--delay", "1e308"], "error: --delay takes seconds from 0 to 3600, not 1e+308"),
])
def test_bad_arguments_are_one_clear_line_and_exit_2(cli_run, args, message):
    result = cli_run(*args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_a_search_for_a_url_like_phrase_still_works(cli_run, tmp_path):
    from archiver.store import open_db

    open_db(str(tmp_path / "archive.db")).close()
    result = cli_run("search", "see https://example.org/x")
    assert result.exit_code == 0, result.output
