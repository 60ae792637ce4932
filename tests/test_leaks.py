"""The session-end check of tests/leaks.py: a run that leaves a process behind fails (and the
process is killed), including a grandchild orphaned by its killed parent; a clean run passes."""

from __future__ import annotations

import os
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]

LEAKY = '''
import os, subprocess, sys

SLEEP = [sys.executable, "-c", "import time; time.sleep(120)"]

def record(pid):
    with open(os.environ["LEAK_PIDS"], "a") as out:
        out.write(f"{pid}\\n")

def test_a_child_left_running():
    record(subprocess.Popen(SLEEP).pid)

def test_a_grandchild_whose_parent_exited():
    starter = ("import subprocess, sys; print(subprocess.Popen("
               f"{SLEEP!r}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid)")
    record(int(subprocess.run([sys.executable, "-c", starter], capture_output=True,
                              text=True, check=True).stdout))
'''

CLEAN = '''
import subprocess, sys

def test_a_child_that_is_waited_for():
    subprocess.run([sys.executable, "-c", "pass"], check=True)
'''


def run_inner(pytester, monkeypatch, source: str):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [
        str(ROOT), os.environ.get("PYTHONPATH", "")])))
    pytester.makepyfile(test_inner=source)
    return pytester.runpytest_subprocess("-p", "tests.leaks", "-p", "no:cacheprovider")


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_run_that_leaves_processes_behind_fails_and_kills_them(pytester, monkeypatch,
                                                                 tmp_path):
    pids_file = tmp_path / "pids"
    monkeypatch.setenv("LEAK_PIDS", str(pids_file))
    result = run_inner(pytester, monkeypatch, LEAKY)
    pids = [int(line) for line in pids_file.read_text().split()]
    try:
        output = result.stdout.str()
        assert "2 passed" in output  # the tests themselves pass ...
        assert result.ret == 1, output  # ... the run does not
        assert "2 process(es) started by the tests still running" in output
        for pid in pids:  # the orphaned grandchild too: pytest adopted it
            assert f"pid {pid}: " in output
            assert not alive(pid)
    finally:
        for pid in pids:
            if alive(pid):
                psutil.Process(pid).kill()


def test_a_run_that_waits_for_its_processes_passes(pytester, monkeypatch):
    result = run_inner(pytester, monkeypatch, CLEAN)
    assert result.ret == 0, result.stdout.str()
    assert "still running" not in result.stdout.str()
