"""The pure core imports only the standard library, `schemas` and other pure modules: a
whitelist read from the source (the import-linter contract in pyproject.toml is the
blacklist `make lint` checks; this also catches a new third-party import it does not name)."""

from __future__ import annotations

import ast
import sys

import pytest

from deploy.settings import REPO_DIR

PURE = (
    "processors.fold",
    "processors.metrics",
    "processors.achievements",
    "processors.streaks",
    "processors.points",
    "processors.periods",
    "processors.snapshots",
    "processors.users",
    "processors.views",
    "processors.leaderboards",
    "processors.runtime.step",
)


def imported(module: str) -> set[str]:
    path = REPO_DIR / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "processors":
                names.update(f"processors.{alias.name}" for alias in node.names)
            else:
                names.add(node.module)
    return names


def allowed(name: str) -> bool:
    top = name.split(".")[0]
    return top in sys.stdlib_module_names or top == "schemas" or name in PURE


@pytest.mark.parametrize("module", PURE)
def test_a_pure_module_imports_only_the_stdlib_schemas_and_pure_modules(module: str) -> None:
    assert sorted(n for n in imported(module) if not allowed(n)) == []


def test_the_check_sees_a_forbidden_import() -> None:
    assert not allowed("orjson") and not allowed("processors.runtime.batch")
    assert allowed("schemas.records") and allowed("processors.fold") and allowed("decimal")
    assert "processors.fold" in imported("processors.runtime.step")
