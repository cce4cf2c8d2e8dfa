"""The dead-letter counter's label is the reason's class, from a fixed set: a reason names
the field it is about, which may be any attribute name a producer sent."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.runtime.telemetry import reason_label
from schemas.commands import InvalidRecord, decode_command
from schemas.records import REASON_CLASSES, reason_class


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("not JSON: unexpected character", "json"),
        ("not a JSON object: got an array", "json"),
        ("not decodable: nested too deeply", "json"),
        ("schema_version: unsupported 2 (expected 1)", "version"),
        ("user.id: missing user id", "field"),
        ("user.attributes.x9f3: expected a string, got a number", "field"),
        ("metric: missing", "field"),
        ("metric: unknown 'lines-deleted'", "rules"),
        ("achievement: unknown API achievement 'x'", "rules"),
        ("key: 'u2' is not the command's user id 'u1'", "key"),
        ("partition: ranking 'b|all|' belongs on partition 3", "partition"),
        ("type: expected a ScoreChanged record, got RankChanged", "type"),
        ("no value", "no_value"),
        ("fold: ZeroDivisionError: division by zero", "fold"),
        ("record: a derived record would be 1200000 bytes, over 1000000", "record"),
        ("state: the user's state would be 1016000 bytes, over 1000000", "state"),
        ("something else", "other"),
    ],
)
def test_each_reason_has_its_class(reason: str, expected: str) -> None:
    assert reason_class(reason) == expected
    assert reason_label(reason) == expected


@given(st.dictionaries(st.text(min_size=1, max_size=30), st.integers(0, 9), min_size=1, max_size=3))
def test_a_producers_attribute_names_never_become_labels(attributes: dict[str, int]) -> None:
    raw = (
        b'{"type":"user","schema_version":1,"eventId":"e","time":0,'
        b'"user":{"id":"u","attributes":' + orjson.dumps(attributes) + b"}}"
    )
    with pytest.raises(InvalidRecord) as caught:
        decode_command(raw)
    assert reason_label(caught.value.reason) in REASON_CLASSES
