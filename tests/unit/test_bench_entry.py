"""`make bench` calls every registered benchmark's `main()` with no arguments."""

from __future__ import annotations

import importlib
import inspect

import pytest

from tests.bench.__main__ import BENCHES


@pytest.mark.parametrize("name", BENCHES)
def test_every_benchmark_runs_without_arguments(name: str) -> None:
    module = importlib.import_module(f"tests.bench.{name}")
    inspect.signature(module.main).bind()  # raises TypeError when an argument is required
    assert (module.__doc__ or "").strip(), f"{name} needs a docstring: its first line is shown"
