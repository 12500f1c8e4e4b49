"""The store and the reach sit low in the import graph; nothing below the CLI imports serve."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "riskml"


def _imports(path: Path) -> set[str]:
    """Modules ``path`` imports anywhere (function-local imports too), ``TYPE_CHECKING`` ones
    excluded."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _reachable(start: str) -> set[str]:
    """riskml modules imported, directly or not, by module ``start``."""
    files = {_module(p): p for p in SRC.rglob("*.py")}
    seen: set[str] = set()
    todo = [start]
    while todo:
        mod = todo.pop()
        if mod in seen or mod not in files:
            continue
        seen.add(mod)
        for imported in _imports(files[mod]):
            # ``from riskml.store import Store`` reaches the package and, through it, the module
            todo.extend(m for m in files if imported == m or imported.startswith(m + "."))
    return seen


@pytest.mark.parametrize("module", ["riskml.store", "riskml.store.store", "riskml.reach"])
def test_the_store_and_the_reach_do_not_import_the_features(module: str) -> None:
    reached = _reachable(module)
    assert module in reached
    assert not {m for m in reached if m.startswith("riskml.features")}


def test_reach_imports_no_riskml_module() -> None:
    assert not {m for m in _imports(SRC / "reach.py") if m.startswith("riskml")}


def test_nothing_below_the_cli_imports_serve() -> None:
    entry_points = {"riskml.cli", "riskml.demo", "riskml.__main__"}  # they start the service
    offenders = {
        _module(p)
        for p in SRC.rglob("*.py")
        if _module(p) not in entry_points
        and any(m == "serve" or m.startswith("serve.") for m in _imports(p))
    }
    assert not offenders
