"""The scheduling recipes in scripts/ are valid: the crontab line, the systemd units, the
GitHub Actions workflow."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def cron_line() -> str:
    lines = [line for line in (SCRIPTS / "cron.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#") and not line.startswith("MAILTO=")]
    assert len(lines) == 1
    return lines[0]


def test_crontab_line_parses_and_runs_sync():
    croniter = pytest.importorskip("croniter").croniter
    fields = cron_line().split(None, 5)
    assert croniter.is_valid(" ".join(fields[:5]))
    assert "archiver sync" in fields[5] and "cd " in fields[5]
    assert "%" not in fields[5]  # cron turns % into newlines
    assert any(line.startswith("MAILTO=") for line in (SCRIPTS / "cron.txt").read_text().splitlines())


@pytest.mark.parametrize("code, alert", [(0, False), (75, False), (3, True), (1, True)])
def test_the_cron_command_logs_and_prints_one_line_only_on_failure(tmp_path, code, alert):
    """Cron mails whatever the command prints: a failed sync prints one line, a good or a
    skipped (locked) one prints nothing; everything the sync says goes to the log."""
    command = cron_line().split(None, 5)[5].replace("/srv/archive", str(tmp_path))
    (tmp_path / "db").mkdir()
    fake = tmp_path / ".venv" / "bin" / "archiver"
    fake.parent.mkdir(parents=True)
    fake.write_text(f"#!/bin/sh\necho \"sync said $*\"\nexit {code}\n")
    fake.chmod(0o755)
    result = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=30)
    assert (tmp_path / "db" / "sync.log").read_text() == "sync said sync --quiet\n"
    if alert:
        assert result.stdout == (f"archiver sync in {tmp_path} failed with exit code {code}; "
                                 f"see {tmp_path}/db/sync.log\n")
    else:
        assert result.stdout == ""


def test_logrotate_recipe_rotates_the_cron_log():
    text = (SCRIPTS / "archiver-sync.logrotate").read_text()
    assert "/srv/archive/db/sync.log {" in text and "rotate 8" in text
    assert "/srv/archive/db/sync.log" in cron_line()
    logrotate = shutil.which("logrotate") or (Path("/usr/sbin/logrotate")
                                              if Path("/usr/sbin/logrotate").exists() else None)
    if not logrotate:
        pytest.skip("logrotate is not installed here")
    result = subprocess.run([str(logrotate), "-d", str(SCRIPTS / "archiver-sync.logrotate")],
                            capture_output=True, text=True, timeout=30)
    assert "error" not in result.stderr.lower(), result.stderr


def test_systemd_units_pass_systemd_analyze_verify(tmp_path):
    installed = Path(sys.executable).with_name("archiver")
    analyze = shutil.which("systemd-analyze")
    archiver = shutil.which("archiver") or (str(installed) if installed.exists() else None)
    if not analyze or not archiver:
        pytest.skip("systemd-analyze (or the archiver script) is not available here")
    service = (SCRIPTS / "archiver-sync.service").read_text()
    timer = (SCRIPTS / "archiver-sync.timer").read_text()
    # verify checks that ExecStart exists and the user is known: point them at this machine.
    service = (service.replace("/srv/archive/.venv/bin/archiver", archiver)
               .replace("WorkingDirectory=/srv/archive", f"WorkingDirectory={tmp_path}")
               .replace("User=archiver", "User=root"))
    (tmp_path / "archiver-sync.service").write_text(service)
    (tmp_path / "archiver-sync.timer").write_text(timer)
    result = subprocess.run([analyze, "verify", "archiver-sync.service", "archiver-sync.timer"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    if "Failed to initialize manager" in result.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    assert "Unknown key" not in result.stderr and "ignoring" not in result.stderr
    assert "SuccessExitStatus=75" in service  # a locked (skipped) run is not a failure


def test_github_actions_workflow_syncs_and_commits_the_archive():
    croniter = pytest.importorskip("croniter").croniter
    workflow = yaml.safe_load((SCRIPTS / "github-actions-sync.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert croniter.is_valid(triggers["schedule"][0]["cron"])
    assert "workflow_dispatch" in triggers
    assert workflow["permissions"]["contents"] == "write"
    assert workflow["concurrency"]["cancel-in-progress"] is False
    steps = workflow["jobs"]["sync"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert uses[0].startswith("actions/checkout@") and uses[1].startswith("actions/setup-python@")
    runs = [s.get("run", "") for s in steps]
    order = [next(i for i, r in enumerate(runs) if needle in r)
             for needle in ("pip install", "stats --content-hash", "archiver sync",
                            "archiver stats --json", "git push")]
    assert order == sorted(order)
    # the installed environment is cached, and archiver installed only when the cache misses
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == ".venv" and "hashFiles('pyproject.toml')" in cache["with"]["key"]
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert install["if"] == f"steps.{cache['id']}.outputs.cache-hit != 'true'"
    # a commit only when the archived content changed (runs and cursors are left out)
    push = next(s for s in steps if "git push" in s.get("run", ""))
    assert push["if"] == "steps.after.outputs.hash != steps.before.outputs.hash"
    assert "content-hash" in next(s for s in steps if s.get("id") == "after")["run"]
    assert "95000000" in push["run"] and "50000000" in push["run"]  # GitHub's file limits
    sync = next(s for s in steps if "archiver sync" in s.get("run", ""))
    assert sync["id"] == "sync" and "exit_code" in sync["run"]
    assert steps[-1]["if"] == "steps.sync.outputs.exit_code == '3'"


def test_content_hash_ignores_runs_and_cursors_and_sees_an_edit(cli_run, tmp_path):
    from archiver.kernel.records import Page, Post
    from archiver.store import open_db, save_page, start_run
    from archiver.store.save import set_state

    db = open_db(str(tmp_path / "archive.db"))
    post = Post(id="lesswrong:p1", site_id="lesswrong", source_id="p1", title="A post",
                body_html="<p>One.</p>")
    save_page(db, Page(posts=[post]))
    first = cli_run("stats", "--content-hash")
    assert first.exit_code == 0 and len(first.output.strip()) == 64
    start_run(db, "sync", "watch list")
    with db.conn:
        set_state(db, "thread_synced", "lesswrong:p1", "2027-01-01T00:00:00Z")
    save_page(db, Page(posts=[post]))  # fetched again, unchanged: only last_seen moves
    assert cli_run("stats", "--content-hash").output == first.output
    save_page(db, Page(posts=[Post(id="lesswrong:p1", site_id="lesswrong", source_id="p1",
                                   title="A post", body_html="<p>One, edited.</p>")]))
    assert cli_run("stats", "--content-hash").output != first.output
    db.close()

