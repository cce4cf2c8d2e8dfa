"""The answer channel's wire contract: how a gateway names itself on the events it publishes,
and the frames in which the worker pushes each event's answer back to it (docs/fast-path.md,
"Answers leave at the fold").

- A `podium.events` record whose publisher waits for its answer carries the header
  `ANSWER_HEADER` with the address (`host:port`, ASCII) of that gateway's answer listener.
  A record without it (`podium send`, the batch endpoint, replay) gets no push.
- The worker keeps one TCP connection per gateway and writes, for each folded event that
  named one, the encoded record its fold writes to `podium.progress` (the same bytes, so the
  gateway decodes them with `schemas.records.decode_record`) as one frame: a 4-byte
  big-endian length, then that many bytes. Nothing flows back.
- A gateway that waits for ranks also names itself in the header `RANKS_HEADER` (same value);
  the worker then copies `ANSWER_HEADER` onto the event's `podium.scores` records, and the
  ranking stage, for each such score change it folds, writes the mover's `RankChanged` as it
  writes it to `podium.leaderboards` (decoded with
  `schemas.leaderboards.decode_leaderboard_record`) as a frame on its own connection to that
  gateway. The gateway tells the two apart by the record's type tag, which the leaderboard
  codec writes first (`is_rank`).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Final

ANSWER_HEADER: Final = "podium-answer"
RANKS_HEADER: Final = "podium-ranks"
FRAME_LENGTH: Final = struct.Struct(">I")
MAX_FRAME_BYTES: Final = 4 * 1024 * 1024
"""A frame announcing more than this is not an answer (a record is at most ≈ 1 MB): the
listener closes the connection rather than buffer it."""

RANK_PREFIX: Final = b'{"type":"rank"'
"""How an encoded `RankChanged` begins: msgspec writes the tag field first, and a progress
record's tag is "progress" or "refused"."""

Headers = Iterable[tuple[str, bytes]]


def answer_header(address: str, name: str = ANSWER_HEADER) -> tuple[str, bytes]:
    """The header naming the gateway at `address` (`host:port`) as the one waiting (with
    `RANKS_HEADER`: waiting for the ranks too)."""
    parse_address(address)
    return name, address.encode("ascii")


def answer_address(headers: Headers | None, header: str = ANSWER_HEADER) -> str | None:
    """The address a record's headers name for its answer (with `RANKS_HEADER`: for its
    ranks); None without one (or with one that is not `host:port`: an answer nobody can
    receive is not pushed)."""
    for name, value in headers or ():
        if name == header:
            try:
                address = value.decode("ascii")
                parse_address(address)
            except (UnicodeDecodeError, ValueError):
                return None
            return address
    return None


def parse_address(address: str) -> tuple[str, int]:
    """`host:port` as (host, port); ValueError when it is not one."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not a host:port address: {address!r}")
    return host, int(port)


def encode_frames(payloads: Iterable[bytes]) -> bytes:
    """The frames of `payloads`, back to back."""
    out = bytearray()
    for payload in payloads:
        out += FRAME_LENGTH.pack(len(payload))
        out += payload
    return bytes(out)


def is_rank(payload: bytes) -> bool:
    """Whether a frame carries a rank (the ranking stage's) rather than an event's answer."""
    return payload.startswith(RANK_PREFIX)
