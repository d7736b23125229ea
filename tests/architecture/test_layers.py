"""The package graph is layered (docs/development.md, "Layers"): a package imports only packages on lower layers,
or on its own layer where an arrow is declared; nothing imports upwards and no two packages import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "toit_emploi_api"
SRC = Path(__file__).resolve().parents[2] / "src" / PACKAGE

# Bottom to top. The composition layer (app factory, CLI, worker) may import everything.
LAYERS: list[tuple[str, set[str]]] = [
    ("foundation", {"core"}),
    ("vocabulary", {"vocab", "reference"}),
    ("identity", {"accounts", "auth"}),
    ("domains", {"households", "employers", "housing", "administration"}),
    ("flows", {"pipeline", "integration", "privacy"}),
    ("read models", {"reports", "matching", "desk", "catalogue"}),
    ("composition", {"main", "cli", "worker", "models", "openapi_document"}),
]
# Imports allowed inside one layer (importer, imported): auth checks the identities that accounts keeps; privacy
# exports and anonymises the pipeline's records.
ARROWS = {("auth", "accounts"), ("privacy", "pipeline")}


def layer_of(package: str) -> int:
    for index, (_, members) in enumerate(LAYERS):
        if package in members:
            return index
    raise AssertionError(f"package {package!r} is on no layer: add it to LAYERS (and to docs/development.md)")


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """Top-level package (or module) → the application packages it imports (module level or inside functions)."""
    graph: dict[str, set[str]] = {}
    for path in src.rglob("*.py"):
        relative = path.relative_to(src)
        owner = relative.parts[0].removesuffix(".py")
        if owner == "__init__":
            continue
        targets = graph.setdefault(owner, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
                if node.module == PACKAGE:  # `from toit_emploi_api import __version__` names no package
                    names = [f"{PACKAGE}.{alias.name}" for alias in node.names if (src / alias.name).exists()]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == PACKAGE and len(parts) > 1 and parts[1] != owner:
                    targets.add(parts[1])
    return graph


def violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for importer, imported in sorted(graph.items()):
        for target in sorted(imported):
            low, high = layer_of(target), layer_of(importer)
            top = high == len(LAYERS) - 1
            if low < high or (low == high and ((importer, target) in ARROWS or top)):
                continue
            found.append(f"{importer} ({LAYERS[high][0]}) imports {target} ({LAYERS[low][0]})")
    return found


def test_the_package_graph_is_layered() -> None:
    graph = import_graph()
    assert graph, "no package found"
    assert violations(graph) == []


def test_every_package_is_on_a_layer() -> None:
    for package in import_graph():
        layer_of(package)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"core": {"households"}}, ["core (foundation) imports households (domains)"]),
        ({"households": {"pipeline"}}, ["households (domains) imports pipeline (flows)"]),
        ({"housing": {"households"}}, ["housing (domains) imports households (domains)"]),
        ({"accounts": {"auth"}}, ["accounts (identity) imports auth (identity)"]),
        ({"pipeline": {"housing", "core"}, "auth": {"accounts"}}, []),
    ],
)
def test_a_forbidden_import_is_reported(graph: dict[str, set[str]], expected: list[str]) -> None:
    assert violations(graph) == expected


def test_an_added_forbidden_import_fails_the_check(tmp_path: Path) -> None:
    """The real scanner, on a copy of the tree with one upward import added."""
    import shutil

    copy = tmp_path / PACKAGE
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "*.csv"))
    (copy / "core" / "zz_forbidden.py").write_text("from toit_emploi_api.households import models\n")
    assert "core (foundation) imports households (domains)" in violations(import_graph(copy))
