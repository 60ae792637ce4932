"""`archiver serve` stops with archiver: whatever signal ends it (Ctrl-C, SIGTERM from systemd,
SIGHUP, SIGKILL), no server process survives and the port is free again; a busy port is one
clear error before anything says "serving"."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest
import requests

from archiver.store import open_db


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen(1)
        except OSError:
            return False
        return True


def until(condition, timeout: float = 30) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass (a bound, not a sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/-/versions.json", timeout=2).ok
    except (requests.ConnectionError, requests.Timeout):
        return False


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def archive(tmp_path) -> str:
    path = tmp_path / "archive.db"
    open_db(str(path)).close()
    return str(path)


def start_serve(archive: str, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    return subprocess.Popen([sys.executable, "-m", "archiver", "serve", "--db", archive,
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL, signal.SIGHUP, signal.SIGINT],
                         ids=lambda s: signal.Signals(s).name)
def test_serve_leaves_nothing_behind_when_stopped(archive, stop):
    port = free_port()
    process = start_serve(archive, port)
    tree = [psutil.Process(process.pid)]
    try:
        assert until(lambda: answers(port) or process.poll() is not None), "serve never answered"
        assert process.poll() is None, process.stderr.read()
        tree += tree[0].children(recursive=True)  # whatever serve started (a child Datasette?)
        process.send_signal(stop)
        process.wait(30)
        assert until(lambda: all(gone(p) for p in tree)), \
            f"still running after {stop.name}: {[p.cmdline() for p in tree if not gone(p)]}"
        assert until(lambda: port_is_free(port)), f"port {port} still taken after {stop.name}"
        if stop == signal.SIGINT:
            assert process.returncode == 0  # Ctrl-C is the normal way to stop it
    finally:
        for leftover in tree:
            if not gone(leftover):
                leftover.kill()
        if process.poll() is None:
            process.kill()
            process.wait(10)
        process.stderr.close()


def test_serve_on_a_busy_port_is_one_clear_error(archive, cli_run):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = cli_run("--db", archive, "serve", "--port", str(port))
    assert result.exit_code == 1
    assert "serving" not in result.output
    assert result.output.strip() == (f"error: port {port} on 127.0.0.1 is already in use "
                                     "(another archiver serve or Datasette?): stop it, or pick "
                                     "another with --port")


def test_serve_on_an_address_not_of_this_machine_is_one_clear_error(archive, cli_run):
    result = cli_run("--db", archive, "serve", "--host", "192.0.2.1", "--port", "8001")
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot listen on 192.0.2.1:8001: ")
    assert len(result.output.strip().splitlines()) == 1
