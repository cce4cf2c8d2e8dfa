"""No function over 50 lines (the house rule: small pieces, one screen each), read from the
source: every `def` in the project's packages and tests, nested ones included, counted as `ast`
spans it (decorators aside), with no file left out."""

from __future__ import annotations

import ast
from pathlib import Path

from deploy.settings import REPO_DIR

LIMIT = 50
PACKAGES = ("schemas", "processors", "ingest", "deploy", "tests")
SKIPPED_DIRS = {".venv", ".podium"}


def sources() -> list[Path]:
    """The checked `.py` files, relative to the repository."""
    found = []
    for package in PACKAGES:
        for path in sorted((REPO_DIR / package).rglob("*.py")):
            rel = path.relative_to(REPO_DIR)
            if SKIPPED_DIRS.isdisjoint(rel.parts):
                found.append(rel)
    return found


def long_functions(source: str, name: str) -> list[str]:
    """`name:line function (n lines)` for every function in `source` over LIMIT lines."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            lines = node.end_lineno - node.lineno + 1
            if lines > LIMIT:
                found.append(f"{name}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_is_over_50_lines() -> None:
    over = [f for rel in sources() for f in long_functions((REPO_DIR / rel).read_text(), str(rel))]
    assert over == [], "functions over 50 lines:\n" + "\n".join(over)


def test_the_walk_reaches_every_package() -> None:
    checked = sources()
    assert {rel.parts[0] for rel in checked} == set(PACKAGES)
    assert Path("tests/unit/test_function_length.py") in checked
    assert Path("processors/core/fold.py") in checked
    assert Path("ingest/openapi.py") in checked


def _def(name: str, body_lines: int, indent: str = "") -> str:
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(body_lines))
    return f"{indent}def {name}() -> None:\n{body}"


def test_a_function_of_51_lines_is_named_and_one_of_50_is_not() -> None:
    # the def line and its body: 50 and 51 lines; a nested one and an async one counted too
    source = (
        _def("fifty", 49)
        + _def("fifty_one", 50)
        + "def outer() -> None:\n"
        + _def("inner", 51, indent="    ")
        + "async "
        + _def("waits", 60)
    )
    assert long_functions(source, "m.py") == [
        "m.py:51 fifty_one (51 lines)",
        "m.py:102 outer (53 lines)",
        "m.py:155 waits (61 lines)",
        "m.py:103 inner (52 lines)",
    ]
