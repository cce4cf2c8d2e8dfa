"""The component tier's fixtures: a gateway over hand-written fakes (no broker, no Redis),
with the tests' own rules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from schemas.rules import Rules
from tests.component.fakes import Stack
from tests.rules import writing_rules


@pytest.fixture(scope="session")
def rules() -> Rules:
    return writing_rules()


@pytest.fixture
def stack(rules: Rules) -> Stack:
    return Stack(rules)


@pytest.fixture
def http(stack: Stack) -> Iterator[TestClient]:
    with stack.client() as client:
        yield client
