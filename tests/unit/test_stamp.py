"""Event ids: random version-4 UUIDs written as 32 hex digits, like `uuid.uuid4().hex`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest

from ingest.stamp import new_event_id, new_event_ids

ONE_BY_ONE = pytest.mark.parametrize(
    "make", [lambda n: [new_event_id() for _ in range(n)], new_event_ids], ids=["one", "many"]
)


@ONE_BY_ONE
def test_event_ids_are_version_4_uuids_in_32_hex_digits(make: Callable[[int], list[str]]) -> None:
    ids = make(2_000)
    assert len(set(ids)) == len(ids)
    for event_id in ids:
        assert re.fullmatch(r"[0-9a-f]{32}", event_id)
        parsed = uuid.UUID(hex=event_id)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert parsed.hex == event_id


@ONE_BY_ONE
def test_every_random_bit_varies(make: Callable[[int], list[str]]) -> None:
    """122 of the 128 bits are random: over many ids each of them is seen both 0 and 1."""
    ones = 0
    zeros = 0
    for event_id in make(500):
        bits = int(event_id, 16)
        ones |= bits
        zeros |= ~bits
    fixed = (0xF << 76) | (0x3 << 62)  # the version nibble and the variant's two bits
    every = (1 << 128) - 1
    assert ones & zeros & every == every ^ fixed
