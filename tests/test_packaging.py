"""What `pip install -e .` promises: every third-party package archiver imports is declared.

A package that only arrives as a dependency of a dependency (numpy through scikit-learn,
lxml_html_clean through lxml's extra) works until that dependency changes or an older pip
resolves differently; then a fresh install breaks. Imports made when a module loads must be
core dependencies; imports inside a function or guarded by ``except ImportError`` may come from
an extra.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
LOCAL = {"archiver", "scripts", "tests"}
# Packages loaded only by a host program through an entry point: their eager imports may come from
# that host's extra (archiver/web is loaded by Datasette, which the datasette extra installs).
PLUGIN_EXTRAS = {"archiver/web/": "datasette"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return canonical(re.match(r"[A-Za-z0-9._-]+", requirement.strip()).group(0))


def declared(extra: str | None = None) -> tuple[set[str], set[str]]:
    """(core dependencies, packages of any extra, or of ``extra`` only), canonical names."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {requirement_name(r) for r in project["dependencies"]}
    extras = {requirement_name(r) for name, reqs in project["optional-dependencies"].items()
              for r in reqs if extra in (None, name)}
    return core, extras


def _guards_import_error(node: ast.Try) -> bool:
    names = []
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        names += [getattr(k, "id", None) for k in kinds]
    return bool({"ImportError", "ModuleNotFoundError"} & set(names))


def imports(tree: ast.AST, lazy: bool = False):
    """(top-level module, lazy) for each absolute import; lazy when inside a function or a
    try guarded by ``except ImportError``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], lazy
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], lazy
        inner = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) \
            or (isinstance(node, ast.Try) and _guards_import_error(node))
        yield from imports(node, inner)


def third_party_imports(paths: list[Path]) -> dict[str, tuple[bool, str]]:
    """module -> (only ever imported lazily, a file importing it, eagerly if any does)."""
    found: dict[str, tuple[bool, str]] = {}
    for path in sorted(paths):
        for module, lazy in imports(ast.parse(path.read_text(), str(path))):
            if module in sys.stdlib_module_names or module in LOCAL:
                continue
            if module not in found or (found[module][0] and not lazy):
                found[module] = (lazy, str(path.relative_to(ROOT)))
    return found


def _plugin_extra(path: Path) -> str | None:
    where = str(path.relative_to(ROOT))
    return next((extra for prefix, extra in PLUGIN_EXTRAS.items() if where.startswith(prefix)),
                None)


def undeclared(folder: Path) -> list[str]:
    """Core files against the dependencies (any extra for lazy imports); a plugin package's
    files also against its host's extra. Checked apart, so a plugin's import of a package can
    never hide an undeclared eager import of the same package elsewhere."""
    core, extras = declared()
    files = list(folder.rglob("*.py"))
    groups: dict[str | None, list[Path]] = {}
    for path in files:
        groups.setdefault(_plugin_extra(path), []).append(path)
    problems = []
    for plugin, paths in sorted(groups.items(), key=lambda item: item[0] or ""):
        allowed_eagerly = core | (declared(plugin)[1] if plugin else set())
        problems += _problems(third_party_imports(paths), allowed_eagerly, extras)
    return problems


def _problems(found: dict[str, tuple[bool, str]], eager: set[str], lazy_ok: set[str]) -> list[str]:
    distributions = packages_distributions()
    problems = []
    for module, (lazy, where) in sorted(found.items()):
        # Not installed here (tomli under Python 3.11+): the distribution is named as the module.
        dists = {canonical(d) for d in distributions.get(module, [module])}
        if not dists & eager and not (lazy and dists & lazy_ok):
            allowed = "dependencies or any extra" if lazy else "dependencies"
            problems.append(f"{where} imports {module} ({', '.join(sorted(dists))}): "
                            f"not in pyproject's {allowed}")
    return problems


def test_every_package_archiver_imports_is_declared_in_pyproject():
    assert not undeclared(ROOT / "archiver")


def test_the_check_finds_an_undeclared_import(tmp_path, monkeypatch):
    """numpy arrives through scikit-learn: a top-level import of it must be declared itself,
    and a package of an extra imported when a module loads is not enough either."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("import numpy\nimport yaml\n\n"
                                  "def later():\n    import datasette\n")
    monkeypatch.setattr(sys.modules[__name__], "declared",
                        lambda: ({"scikit-learn"}, {"pyyaml", "datasette"}))
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    problems = undeclared(package)
    assert len(problems) == 2, problems
    assert "imports numpy (numpy): not in pyproject's dependencies" in problems[0]
    assert "imports yaml (pyyaml): not in pyproject's dependencies" in problems[1]


def test_a_plugin_import_does_not_hide_the_same_eager_import_elsewhere(tmp_path, monkeypatch):
    """The reading room may import jinja2 when Datasette loads it (the datasette extra brings
    it); a core module importing jinja2 when it loads still needs it declared as a dependency."""
    (tmp_path / "archiver" / "web").mkdir(parents=True)
    (tmp_path / "archiver" / "web" / "a.py").write_text("import jinja2\n")
    (tmp_path / "archiver" / "xcore.py").write_text("import jinja2\n")  # sorts after web/
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "declared",
                        lambda extra=None: ({"click"}, {"jinja2"}))
    problems = undeclared(tmp_path / "archiver")
    assert problems == ["archiver/xcore.py imports jinja2 (jinja2): not in pyproject's "
                        "dependencies"]
