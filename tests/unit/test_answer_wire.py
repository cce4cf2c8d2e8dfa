"""The answer channel's wire contract (`schemas.answers`): the header naming a gateway, and
the frames the worker pushes. The expected bytes are written out by hand from the rule (a
4-byte big-endian length, then the payload)."""

from __future__ import annotations

import pytest

from schemas.answers import (
    ANSWER_HEADER,
    RANKS_HEADER,
    answer_address,
    answer_header,
    encode_frames,
)


def test_the_header_names_the_gateway_s_address() -> None:
    assert answer_header("10.0.0.7:41234") == ("podium-answer", b"10.0.0.7:41234")
    assert answer_address([("other", b"x"), (ANSWER_HEADER, b"gw-1:8081")]) == "gw-1:8081"


def test_the_ranks_header_is_read_apart_from_the_answer_header() -> None:
    ranks = answer_header("10.0.0.7:41234", RANKS_HEADER)
    assert ranks == ("podium-ranks", b"10.0.0.7:41234")
    assert answer_address([ranks]) is None  # it does not ask for the progress
    assert answer_address([ranks], RANKS_HEADER) == "10.0.0.7:41234"
    assert answer_address([(ANSWER_HEADER, b"gw-1:8081")], RANKS_HEADER) is None


@pytest.mark.parametrize(
    "headers",
    [
        None,
        [],
        [("other", b"127.0.0.1:9")],
        [(ANSWER_HEADER, b"127.0.0.1")],  # no port
        [(ANSWER_HEADER, b"127.0.0.1:0")],
        [(ANSWER_HEADER, b"127.0.0.1:70000")],
        [(ANSWER_HEADER, b":8080")],
        [(ANSWER_HEADER, b"h\xff:8080")],  # not ASCII
    ],
)
def test_a_record_without_a_usable_address_gets_no_answer(
    headers: list[tuple[str, bytes]] | None,
) -> None:
    assert answer_address(headers) is None


def test_a_gateway_cannot_name_an_address_nobody_can_reach() -> None:
    with pytest.raises(ValueError, match="host:port"):
        answer_header("localhost")


def test_frames_are_a_big_endian_length_then_the_bytes() -> None:
    assert encode_frames([b"ab", b"", b"x" * 300]) == (
        b"\x00\x00\x00\x02ab" + b"\x00\x00\x00\x00" + b"\x00\x00\x01\x2c" + b"x" * 300
    )
    assert encode_frames([]) == b""
