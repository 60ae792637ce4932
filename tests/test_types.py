"""The kernel, the sources and the store type-check ([tool.mypy] in pyproject.toml lists the
files)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_finds_no_type_errors(tmp_path):
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install -e '.[test]')")
    done = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_mypy_checks_every_source_and_the_coercion_layer():
    """``follow_imports = "silent"`` reads modules outside ``files`` without reporting their
    errors, so a module missing from ``files`` is silently unchecked: every module of the
    sources and the store, and the coercion and date parsing they rely on, must be listed
    (wherever those modules live)."""
    files = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"]
    listed = [Path(f) for f in files]
    wanted = [p.relative_to(ROOT) for p in (ROOT / "archiver").rglob("*.py")
              if {"sources", "store"} & set(p.relative_to(ROOT).parts)
              or p.name in ("coerce.py", "parse.py")]
    assert len(wanted) > 20
    unchecked = [str(p) for p in wanted if not any(p == f or f in p.parents for f in listed)]
    assert not unchecked, f"not in [tool.mypy] files: {unchecked}"
