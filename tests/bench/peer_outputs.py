"""What a runtime peer of `podium worker` writes for a fold's effects, but the state (each
peer keeps the state its own way): the derived records, the score changes and the dead letters,
keyed as the worker keys them. Free of any peer's library, so the project's own environment
tests it (tests/unit/test_bench_runtime.py) while the Quix peer runs in a virtualenv of its own.
"""

from __future__ import annotations

from typing import NamedTuple

from processors.runtime.batch import Effects
from schemas.records import encode_record
from schemas.topics import Names


class Out(NamedTuple):
    """One output record: its topic's name, key and encoded value."""

    topic: str
    key: bytes | None
    value: bytes


def outputs(effects: Effects, names: Names) -> list[Out]:
    """Every record the worker would publish for these effects, except the state."""
    out = [
        Out(names.of(topic), key, value)
        for topic, items in effects.derived.items()
        for key, value in items
    ]
    out += [
        Out(names.scores, key, value)
        for items in effects.scores.values()
        for key, value, _ in items
    ]
    out += [Out(names.dlq, None, encode_record(dead)) for dead in effects.dead]
    return out
