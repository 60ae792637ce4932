"""The scheduling recipes in scripts/ are valid: the crontab line, the systemd units, the
GitHub Actions workflow."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def test_crontab_line_parses_and_runs_sync():
    croniter = pytest.importorskip("croniter").croniter
    lines = [line for line in (SCRIPTS / "cron.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    assert croniter.is_valid(" ".join(fields[:5]))
    assert "archiver sync" in fields[5] and "cd " in fields[5]


def test_systemd_units_pass_systemd_analyze_verify(tmp_path):
    analyze, archiver = shutil.which("systemd-analyze"), shutil.which("archiver")
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
             for needle in ("pip install", "archiver sync", "archiver stats", "git push")]
    assert order == sorted(order)
    sync = next(s for s in steps if "archiver sync" in s.get("run", ""))
    assert sync["id"] == "sync" and "exit_code" in sync["run"]
    assert steps[-1]["if"] == "steps.sync.outputs.exit_code == '3'"
