"""The import graph of ``riskml`` and ``serve`` is one-way (ARCHITECTURE.md).

Every import counts, function-local ones and ``importlib.import_module("...")`` with a literal
included; only imports under ``if TYPE_CHECKING:`` may point back up, because they never run.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"riskml": ROOT / "src" / "riskml", "serve": ROOT / "serve"}


def _modules(packages: dict[str, Path]) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the packages."""
    out: dict[str, Path] = {}
    for root in packages.values():
        for path in root.rglob("*.py"):
            parts = list(path.relative_to(root.parent).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is one of ``modules`` (an attribute import names its
    module), or None for a module outside the packages."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


class _Imports(ast.NodeVisitor):
    """The modules one module imports, skipping ``if TYPE_CHECKING:`` blocks."""

    def __init__(self, module: str, is_package: bool, modules: dict[str, Path]) -> None:
        self.module, self.is_package, self.modules = module, is_package, modules
        self.found: set[str] = set()

    def _add(self, name: str) -> None:
        target = _known(name, self.modules)
        if target is not None and target != self.module:
            self.found.add(target)

    def visit_If(self, node: ast.If) -> None:
        if "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            package = self.module.split(".")
            if not self.is_package:
                package = package[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, base] if base else package)
        for alias in node.names:
            self._add(f"{base}.{alias.name}")

    def visit_Call(self, node: ast.Call) -> None:
        func = ast.unparse(node.func)
        if func.endswith("import_module") and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                self._add(arg.value)
        self.generic_visit(node)


def import_graph(packages: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ``packages`` it imports."""
    modules = _modules(packages)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        visitor = _Imports(name, path.name == "__init__.py", modules)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        graph[name] = visitor.found
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph(PACKAGES))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


# The CLI and the demo verb (which starts the service) are the top; everything else is below.
TOP = {"riskml.cli", "riskml.demo", "riskml.__main__"}


def test_riskml_below_the_cli_never_imports_serve() -> None:
    graph = import_graph(PACKAGES)
    offenders = {
        module: sorted(t for t in targets if t.split(".")[0] == "serve")
        for module, targets in graph.items()
        if module.startswith("riskml") and module not in TOP
    }
    assert {m: t for m, t in offenders.items() if t} == {}


def test_the_checker_sees_a_function_local_cycle(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "low.py").write_text("def f():\n    from pkg.high import g\n    return g\n")
    (pkg / "high.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import low\n"
        "from . import other\n"
    )
    (pkg / "other.py").write_text("import importlib\nimportlib.import_module('pkg.low')\n")
    graph = import_graph({"pkg": pkg})
    assert graph["pkg.high"] == {"pkg.other"}  # the TYPE_CHECKING import does not count
    cycle = find_cycle(graph)
    assert cycle is not None and set(cycle) == {"pkg.low", "pkg.high", "pkg.other"}


def _reached(graph: dict[str, set[str]], module: str) -> set[str]:
    """Every module ``module`` imports, directly or through others (a package's modules are
    reached through its ``__init__``)."""
    reach: set[str] = set()
    todo = [module]
    while todo:
        for target in graph[todo.pop()]:
            if target not in reach:
                reach.add(target)
                todo.append(target)
    return reach


@pytest.mark.parametrize("module", ["riskml.features", "riskml.data", "riskml.contract"])
def test_lower_layers_do_not_reach_the_model_layers(module: str) -> None:
    """contract -> data -> features stay below training, the registry and scoring."""
    upper = {"riskml.train", "riskml.registry", "riskml.gate", "riskml.scoring", "riskml.batch"}
    assert not _reached(import_graph(PACKAGES), module) & upper


@pytest.mark.parametrize("module", ["riskml.store", "riskml.reach"])
def test_the_store_and_the_reach_do_not_import_the_features(module: str) -> None:
    """Which rows a claim's features read is stated once, in riskml.reach; the store takes it
    from there, not from the feature code (the batch reader, above the features, cuts a chunk's
    history with :func:`riskml.features.history_for`, which applies the same reach)."""
    reached = _reached(import_graph(PACKAGES), module)
    assert not {m for m in reached if m.split(".")[:2] == ["riskml", "features"]}


def test_the_reach_imports_no_riskml_module() -> None:
    assert import_graph(PACKAGES)["riskml.reach"] == set()
