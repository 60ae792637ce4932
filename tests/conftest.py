"""Shared fixtures: a loopback ForumMagnum, a CLI runner, paths to the shared real-world data."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.kernel.http import Http, HttpSettings
from tests.fakes.forummagnum import FakeForum

SHARED = Path(__file__).resolve().parents[2] / "shared"

# tests.leaks: the run fails if a process a test started is still alive at its end.
pytest_plugins = ["tests.leaks", "pytester"]


def shared_file(*parts: str) -> Path:
    """A file under ../shared (real-world recordings, seeds); skip the test when absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not available (run inside the project's workspace to use it)")
    return path


_real_connect = socket.socket.connect


def _loopback_only(self, address):
    """Tests never reach the internet: a connection anywhere but this machine fails loudly."""
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise OSError(f"test tried to reach {host}: tests may only use loopback servers")
    return _real_connect(self, address)


_real_getaddrinfo = socket.getaddrinfo


def _resolve_loopback_only(host, *args, **kwargs):
    """No name lookups either: a DNS query would leave the machine. Any name but localhost fails
    as an unknown name does offline, which is what the offline tests want to see."""
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and name != "localhost":
        try:
            ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME,
                                  f"Name or service not known ({name}: tests resolve no names)"
                                  ) from None
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    monkeypatch.setattr(socket, "getaddrinfo", _resolve_loopback_only)


@pytest.fixture
def forum(httpserver) -> FakeForum:
    fake = FakeForum()
    httpserver.expect_request("/graphql", method="POST").respond_with_handler(fake.handler)
    return fake


@pytest.fixture
def endpoint(httpserver) -> str:
    return httpserver.url_for("/graphql")


@pytest.fixture
def http() -> Http:
    return Http(HttpSettings(delay=0, backoff=0, retries=3))


@pytest.fixture
def cli_run(tmp_path, monkeypatch):
    """Run the CLI against a database in tmp_path; returns the click Result."""
    from archiver.cli import cli

    monkeypatch.setenv("ARCHIVER_DB", str(tmp_path / "archive.db"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return run
