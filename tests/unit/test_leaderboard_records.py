"""Leaderboard records and board scores: the wire format, round trips, and clear errors."""

from __future__ import annotations

import json
import zlib
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.leaderboards import (
    BoardScore,
    RankChanged,
    ScoreChanged,
    decode_leaderboard_record,
    encode_leaderboard_record,
    ranking_key,
    ranking_partition,
)
from schemas.wire import InvalidRecord

text = st.text(min_size=1, max_size=12)
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=3, max_value=10**9)
maybe = st.one_of(st.none(), decimals)
ranks = st.one_of(st.none(), st.integers(1, 10**6))

scores = st.builds(
    ScoreChanged,
    id=text,
    board=text,
    run=text,
    group=st.text(max_size=12),
    user_id=text,
    event_id=text,
    time_ms=st.integers(0, 2**53),
    previous=maybe,
    value=maybe,
    backfilled=st.booleans(),
)
rank_records = st.builds(
    RankChanged,
    id=text,
    cause=text,
    board=text,
    run=text,
    group=st.text(max_size=12),
    user_id=text,
    time_ms=st.integers(0, 2**53),
    previous_rank=ranks,
    rank=ranks,
    previous_value=maybe,
    value=maybe,
    reached_ms=st.one_of(st.none(), st.integers(0, 2**53)),
    participants=st.integers(0, 10**7),
    threshold=maybe,
)


@given(st.one_of(scores, rank_records))
def test_records_round_trip(rec: ScoreChanged | RankChanged) -> None:
    assert decode_leaderboard_record(encode_leaderboard_record(rec)) == rec


def test_the_wire_has_the_envelope_camel_case_and_decimal_strings() -> None:
    rec = ScoreChanged(
        id="u:score:b:all::e",
        board="b",
        run="all",
        group="",
        user_id="u",
        event_id="e",
        time_ms=5,
        previous=None,
        value=Decimal("7.50"),
    )
    wire = json.loads(encode_leaderboard_record(rec))
    assert wire["schema_version"] == 1 and wire["type"] == "score"
    assert (wire["userId"], wire["eventId"], wire["timeMs"], wire["value"]) == ("u", "e", 5, "7.50")
    assert wire["previous"] is None and wire["backfilled"] is False


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{", "^not JSON: "),
        (b"[1]", "^not a JSON object: got an array$"),
        (b'{"type": "medal", "schema_version": 1}', "^type: unknown 'medal'"),
        (b'{"type": "score", "schema_version": 1, "id": "x"}', "^ScoreChanged: board: missing$"),
        (
            b'{"type":"score","id":"a","board":"b","run":"all","group":"","userId":"u",'
            b'"eventId":"e","timeMs":1,"previous":null,"value":"3","schema_version":2}',
            r"^schema_version: unsupported 2 \(expected 1\)$",
        ),
    ],
)
def test_bad_records_are_refused_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidRecord, match=reason):
        decode_leaderboard_record(raw)


@given(
    st.dictionaries(
        text,
        st.builds(
            BoardScore,
            run=text,
            group=st.one_of(st.none(), st.text(max_size=8)),
            value=decimals,
            reached_ms=st.integers(0, 2**53),
        ),
        max_size=5,
    )
)
def test_board_scores_round_trip_as_the_state_codec_carries_them(
    held: dict[str, BoardScore],
) -> None:
    raw = msgspec.json.Encoder(order="sorted").encode(held)
    assert msgspec.json.decode(raw, type=dict[str, BoardScore]) == held
    assert list(json.loads(raw)) == sorted(held)  # deterministic order, as the state's


def test_a_board_score_on_the_wire() -> None:
    raw = msgspec.json.encode(BoardScore("2025-01-05", None, Decimal("2.5"), 7))
    assert json.loads(raw) == {"run": "2025-01-05", "group": None, "value": "2.5", "reachedMs": 7}


def test_a_ranking_has_one_stable_partition() -> None:
    key = ranking_key("weekly-xp", "2025-01-06", "plan=pro")
    assert key == "weekly-xp|2025-01-06|plan=pro"
    assert ranking_partition(key, 12) == zlib.crc32(b"weekly-xp|2025-01-06|plan=pro") % 12
    spread = {ranking_partition(ranking_key("b", "all", f"g{i}"), 12) for i in range(200)}
    assert spread == set(range(12))
