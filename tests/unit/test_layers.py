"""The pure core imports only the standard library, `schemas` and other pure modules: a
whitelist read from the source (the import-linter contract in pyproject.toml is the
blacklist `make lint` checks; this also catches a new third-party import it does not name).
The pure modules are the package `processors.core` (every file in it) and the runtime's two
pure steps; the contract names the same, and this test checks that it does."""

from __future__ import annotations

import ast
import sys
import tomllib

import pytest

from deploy.settings import REPO_DIR

CORE = "processors.core"
# The runtime's pure pieces (processors/runtime/ is the stream runtime's folder, mostly I/O).
RUNTIME_PURE = ("processors.runtime.step", "processors.runtime.outbox")
PURE = (
    *sorted(
        f"{CORE}.{path.stem}"
        for path in (REPO_DIR / "processors" / "core").glob("*.py")
        if path.stem != "__init__"
    ),
    *RUNTIME_PURE,
)
# The one third-party import a pure module may make: pure Python, no I/O (pyproject says why).
EXTRA = {"processors.core.ranking": frozenset({"sortedcontainers"})}


def imported(module: str) -> set[str]:
    path = REPO_DIR / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module in ("processors", CORE):
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            else:
                names.add(node.module)
    return names


def allowed(name: str, module: str = "") -> bool:
    top = name.split(".")[0]
    pure = top in sys.stdlib_module_names or top == "schemas"
    pure = pure or name in PURE or name == CORE
    return pure or top in EXTRA.get(module, ())


@pytest.mark.parametrize("module", PURE)
def test_a_pure_module_imports_only_the_stdlib_schemas_and_pure_modules(module: str) -> None:
    assert sorted(n for n in imported(module) if not allowed(n, module)) == []


def test_the_whitelist_and_the_import_linter_contract_name_the_same_modules() -> None:
    assert len(PURE) > len(RUNTIME_PURE) + 10  # the folder was found
    config = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())
    [contract] = [
        c
        for c in config["tool"]["importlinter"]["contracts"]
        if c["name"].startswith("the pure core")
    ]
    assert sorted(contract["source_modules"]) == sorted((CORE, *RUNTIME_PURE))


def test_the_check_sees_a_forbidden_import() -> None:
    assert not allowed("orjson") and not allowed("processors.runtime.batch")
    assert not allowed("sortedcontainers") and allowed(
        "sortedcontainers", "processors.core.ranking"
    )
    assert allowed("schemas.records") and allowed("processors.core.fold") and allowed("decimal")
    assert "processors.core.fold" in imported("processors.runtime.step")
