"""No import circle among the `schemas` modules, counting every import a module makes (at the
top, inside a function, or under TYPE_CHECKING): each contract module can be read after the
ones it names, and none reaches back through a function-level import."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter

from deploy.settings import REPO_DIR

SCHEMAS = REPO_DIR / "schemas"


def schemas_imports() -> dict[str, set[str]]:
    modules = {p.stem for p in SCHEMAS.glob("*.py") if p.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for name in modules:
        tree = ast.parse((SCHEMAS / f"{name}.py").read_text())
        named: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "schemas":
                named.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("schemas."):
                named.add(node.module.split(".")[1])  # type: ignore[union-attr]
            elif isinstance(node, ast.Import):
                named.update(
                    a.name.split(".")[1] for a in node.names if a.name.startswith("schemas.")
                )
        graph[name] = named & modules - {name}
    return graph


def test_the_schemas_modules_import_each_other_without_a_circle() -> None:
    graph = schemas_imports()
    assert {"rules", "rules_parse", "rules_doc", "rules_points"} <= set(graph)
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as err:
        raise AssertionError(f"import circle among schemas modules: {err.args[1]}") from None
    assert order.index("rules_doc") < order.index("rules_points") < order.index("rules_parse")


def test_the_check_sees_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"a"}}
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError:
        return
    raise AssertionError("a two-module circle was not found")
