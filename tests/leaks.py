"""A pytest plugin: the test run fails if a process it started is still alive at its end.

Nothing may outlive its command, and a test that starts a server and leaves it running breaks
that rule silently (the leaked `datasette serve` of `archiver serve` lived for hours). At the end
of the session every descendant of the pytest process still running is listed, killed, and the
exit status set to "tests failed".

On Linux the pytest process also becomes a *child subreaper* (prctl): a grandchild whose parent
died (a server started by a killed `archiver serve`) is re-parented to pytest instead of init,
so it is still found here.
"""

from __future__ import annotations

import ctypes
import os
import sys

import psutil
import pytest

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def adopt_orphans() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux 3.4+); False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child, or already reaped
        pass


def leftovers() -> list[psutil.Process]:
    """Descendants of this process still running (zombies are reaped, not counted)."""
    alive = []
    for process in psutil.Process().children(recursive=True):
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                _reap(process.pid)
            else:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


def describe(process: psutil.Process) -> str:
    try:
        return f"pid {process.pid}: {' '.join(process.cmdline())[:300]}"
    except psutil.Error:
        return f"pid {process.pid}"


def kill(processes: list[psutil.Process]) -> None:
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(processes, timeout=10)
    for process in processes:
        _reap(process.pid)


def pytest_configure(config):
    adopt_orphans()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    found = leftovers()
    if not found:
        return
    lines = [f"{len(found)} process(es) started by the tests still running at the end of the "
             "test run (killed now; a test must stop what it starts):"]
    lines += [f"  {describe(p)}" for p in found]
    kill(found)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for line in lines:
        if reporter is not None:
            reporter.write_line(line, red=True)
        else:
            print(line, file=sys.stderr)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
