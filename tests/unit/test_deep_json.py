"""JSON nested about 1,000 deep makes msgspec raise `RecursionError`. Whatever decoding raises
is the record's fault: every codec of a topic raises `InvalidRecord` for it (so a consumer
dead-letters the record instead of stopping at it), the per-record step makes it a dead
letter and the next record of the partition is folded, and the gateway answers 422."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from ingest.http.api import ApiError
from ingest.http.requests import parse_batch, parse_event, parse_preferences, parse_user
from processors.replay import Rebuild
from processors.runtime.batch import fold_batch
from processors.runtime.step import apply_record
from processors.runtime.store import StateStore
from schemas.commands import InvalidRecord, MetricTracked, User, decode_command, encode_command
from schemas.leaderboards import decode_leaderboard_record
from schemas.records import DeadLetter, decode_record, progress_event_id
from schemas.state import decode_state
from schemas.topics import CATALOGUE
from tests.rules import writing_rules

RULES = writing_rules()
DEEP = b"[" * 5000 + b"]" * 5000  # 10 kB
COMMAND_WITH_DEEP = (
    b'{"type":"metric","schema_version":1,"eventId":"e0","time":0,"user":{"id":"u1"},'
    b'"metric":"words-written","value":"1","x":' + DEEP + b"}"
)
DEEP_VALUES = [DEEP, b'{"a":' * 5000 + b"1" + b"}" * 5000, COMMAND_WITH_DEEP]


@pytest.mark.parametrize("raw", DEEP_VALUES)
@pytest.mark.parametrize(
    "decode", [decode_command, decode_record, decode_leaderboard_record, decode_state]
)
def test_every_codec_refuses_deep_json_as_an_invalid_record(decode: object, raw: bytes) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode(raw)  # type: ignore[operator]
    assert caught.value.reason.endswith("not decodable: nested too deeply"), caught.value.reason


@pytest.mark.parametrize("topic", CATALOGUE, ids=lambda t: t.name)
def test_every_topics_value_codec_refuses_deep_json(topic: object) -> None:
    with pytest.raises(InvalidRecord, match="nested too deeply"):
        topic.value.decode(DEEP)  # type: ignore[attr-defined]


def test_the_gateways_look_up_of_an_event_id_survives_deep_json() -> None:
    # an escape inside the id makes it read the record with msgspec
    assert progress_event_id(b'{"eventId":"a\\u0041","x":' + DEEP + b"}") is None


@dataclass(frozen=True)
class Rec:
    offset: int
    key: bytes | None
    value: bytes | None


def _rec(offset: int, value: bytes) -> Rec:
    return Rec(offset, b"u1", value)


def good(event_id: str) -> bytes:
    return encode_command(
        MetricTracked(
            event_id=event_id,
            time_ms=0,
            user=User(id="u1"),
            metric="words-written",
            value=Decimal(7),
        )
    )


def test_the_step_dead_letters_deep_json_and_the_partition_goes_on() -> None:
    out = apply_record(_rec(3, COMMAND_WITH_DEEP), lambda _: None, RULES, "t", 0)
    assert isinstance(out, DeadLetter)
    assert out.reason == "not decodable: nested too deeply"
    assert out.original_bytes() == COMMAND_WITH_DEEP
    effects = fold_batch(
        StateStore(), [_rec(3, COMMAND_WITH_DEEP), _rec(4, good("e4"))], RULES, "t", 0
    )
    assert [d.offset for d in effects.dead] == [3]
    assert effects.events == 1 and effects.next_offset == 5
    assert effects.states["u1"].totals["words-written"] == Decimal(7)


def test_replay_skips_deep_json_and_folds_the_next_event() -> None:
    rebuild = Rebuild(0)
    rebuild.fold([_rec(0, DEEP), _rec(1, good("e1"))], RULES, "t")
    assert rebuild.events == 1 and rebuild.position == 2
    state = rebuild.store.get("u1")
    assert state is not None and state.totals["words-written"] == Decimal(7)


@pytest.mark.parametrize(
    "parse",
    [
        lambda raw: parse_event(raw, "words-written", RULES, None),
        lambda raw: parse_batch(raw, RULES),
        lambda raw: parse_user(raw, "body"),
        parse_preferences,
    ],
)
@pytest.mark.parametrize(
    "raw",
    [
        DEEP,
        b'{"user":{"id":"u1"},"value":1,"attributes":' + DEEP + b"}",
        b'{"user":{"id":"u1"},"value":1,"extra":' + DEEP + b"}",
    ],
)
def test_every_request_body_parser_answers_deep_json_with_422(parse: object, raw: bytes) -> None:
    with pytest.raises(ApiError) as caught:
        parse(raw)  # type: ignore[operator]
    assert caught.value.status == 422
    assert "nested too deeply" in caught.value.message, caught.value.message
