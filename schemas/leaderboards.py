"""Leaderboard records and the per-user score state.

- `ScoreChanged` on `podium.scores`: the per-user fold's word that a user's score on one
  board, run and breakdown group changed (key = `ranking_key`: every change of one ranking
  lands on one partition, in the order the fold emitted it).
- `RankChanged` on `podium.leaderboards`: what the ranking stage made of it. Only the mover
  gets a record (not everyone it shifted by one), plus, on a capped board, the one participant
  who crossed the cap the other way (pushed off, or pulled on).
- `BoardScore`: the user's current score per board, kept in the user's state so the next
  event of the same run adds to it.

Every record has a deterministic `id` (a consumer deduplicates by it) and a `backfilled`
flag. Wire format: a JSON object with "schema_version", "type" ("score", "rank") and
camelCase fields; decimals are strings, times integer epoch milliseconds UTC, runs the ISO
date of the run's first day ("all" for a perpetual board).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec

from schemas.commands import InvalidRecord

SCHEMA_VERSION = 1
PERPETUAL_RUN = "all"


def _wire_name(name: str) -> str:
    if name == "schema_version":
        return name  # the one snake_case field every Podium record shares
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def ranking_key(board: str, run: str, group: str) -> str:
    """The identity of one ranking (and the Kafka key of its score changes)."""
    return f"{board}|{run}|{group}"


class ScoreChanged(
    msgspec.Struct, frozen=True, kw_only=True, rename=_wire_name, tag_field="type", tag="score"
):
    """A user's score on one ranking changed.

    id = f"{user_id}:score:{board}:{run}:{group}:{event_id}". `value` None: the user left
    this ranking (its breakdown group changed); `previous` None: the user joined it. `time_ms`
    is when the user reached `value` (the event's time; for a move between groups, the time
    the value was first reached): the tie rule orders by it.
    """

    id: str
    board: str
    run: str
    group: str
    user_id: str
    event_id: str
    time_ms: int
    previous: Decimal | None
    value: Decimal | None
    schema_version: int = SCHEMA_VERSION
    backfilled: bool = False

    @property
    def ranking(self) -> str:
        return ranking_key(self.board, self.run, self.group)


class RankChanged(
    msgspec.Struct, frozen=True, kw_only=True, rename=_wire_name, tag_field="type", tag="rank"
):
    """A participant's place on one ranking changed (1 = first).

    id = f"{cause}:rank" for the mover, f"{cause}:rank:{user_id}" for a participant who
    crossed the cap; `cause` is the id of the `ScoreChanged` that caused it and `time_ms` its
    time (the mover's `reached_ms`; a cap crosser keeps its own). A rank None is
    "not on the board": never joined, left, or beyond `max_participants`. `threshold` is the
    value a newcomer must exceed to get on a full capped board (None: not capped or not full).
    """

    id: str
    cause: str
    board: str
    run: str
    group: str
    user_id: str
    time_ms: int
    previous_rank: int | None
    rank: int | None
    previous_value: Decimal | None
    value: Decimal | None
    reached_ms: int | None  # when this participant reached `value`; None: not a participant
    participants: int
    threshold: Decimal | None = None
    schema_version: int = SCHEMA_VERSION
    backfilled: bool = False


class BoardScore(msgspec.Struct, frozen=True, rename=_wire_name):
    """A user's score on one board: the run and group it belongs to, and when it was reached."""

    run: str
    group: str | None  # None: a breakdown attribute is missing, the user is in no ranking
    value: Decimal
    reached_ms: int


LeaderboardRecord = ScoreChanged | RankChanged

_encoder = msgspec.json.Encoder(decimal_format="string")
_decoder = msgspec.json.Decoder(LeaderboardRecord)
_scores_decoder = msgspec.json.Decoder(dict[str, BoardScore])


def encode_leaderboard_record(rec: LeaderboardRecord) -> bytes:
    return _encoder.encode(rec)


def decode_leaderboard_record(raw: bytes) -> LeaderboardRecord:
    """Decode a score or rank record; raises `InvalidRecord` with the reason."""
    try:
        rec = _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidRecord(f"not a leaderboard record: {exc}") from None
    if rec.schema_version != SCHEMA_VERSION:
        raise InvalidRecord(f"schema_version: unsupported {rec.schema_version!r}")
    return rec


def board_scores_json(scores: Mapping[str, BoardScore]) -> dict[str, Any]:
    """The user-state form of the scores (board key -> score), for the state codec."""
    return {board: msgspec.to_builtins(s) for board, s in sorted(scores.items())}


def board_scores_from_json(obj: Mapping[str, Any]) -> dict[str, BoardScore]:
    try:
        return msgspec.convert(dict(obj), dict[str, BoardScore])
    except msgspec.ValidationError as exc:
        raise InvalidRecord(f"board scores: {exc}") from None


def encode_board_scores(scores: Mapping[str, BoardScore]) -> bytes:
    return _encoder.encode(board_scores_json(scores))


def decode_board_scores(raw: bytes) -> dict[str, BoardScore]:
    try:
        return _scores_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidRecord(f"board scores: {exc}") from None
