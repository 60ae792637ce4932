"""The layering written in pyproject.toml ([tool.importlinter]) holds, including what
import-linter cannot see: imports by name through importlib."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_are_kept():
    # In a child process: import-linter reconfigures logging (disabling archiver's loggers).
    tool = Path(sys.executable).parent / "lint-imports"
    if not tool.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    done = subprocess.run([str(tool), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


@pytest.mark.parametrize("folder", ["kernel", "store", "analysis", "sources"])
def test_no_imports_by_name_below_the_use_cases(folder):
    """The store, analysis and sources import statically (the registry's entry points are the one
    lookup by name, and they live in pyproject.toml)."""
    for path in sorted((ROOT / "archiver" / folder).glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"import_module\(|__import__\(", text), path.name


def test_ci_checks_the_layers_plainly_after_the_types():
    """.ci/run says it runs lint-imports, right after mypy, not only through this test file."""
    steps = [line.split()[0] for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.startswith((" ", "#"))]
    assert "lint-imports" in steps
    assert steps.index("lint-imports") == steps.index("mypy") + 1


def test_every_module_lives_in_a_layer_folder():
    """Only the package's entry files sit at the top of archiver/, and every folder of code is a
    layer of the layers contract: a new module has to take a place in the layering."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib

    assert sorted(p.name for p in (ROOT / "archiver").glob("*.py")) == ["__init__.py",
                                                                         "__main__.py"]
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    layers = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    named = {name.strip() for layer in layers["layers"] for name in re.split(r"[|:]", layer)}
    assert {p.parent.name for p in (ROOT / "archiver").glob("*/__init__.py")} == named
