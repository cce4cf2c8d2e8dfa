"""The one per-record step of the stream runtime: a raw `podium.events` record becomes either
the user's next state with its derived records, or a `DeadLetter` naming what is wrong.

decode → validate against the rules → check the key → fold. The worker (`batch.fold_batch`),
the replay (`replay.Rebuild`) and the runtime tests' oracle all call `apply_record`, so they
share one error policy: nothing the record causes raises out of it, nothing is dropped
unseen — every record it does not apply comes back as a dead letter, which the caller counts
and logs. The codecs raise nothing but `InvalidRecord` (`schemas.wire.decoder`): whatever
decoding raises, such as msgspec's `RecursionError` on JSON nested about 1,000 deep, is the
record's fault and a dead letter, never a worker that stops at the record forever.

The key rule: a command's Kafka key is its user id (UTF-8). A record keyed otherwise (or not
at all) may sit on another partition than the user's other commands; folding it would start a
second, divergent copy of that user's state there, so it is a dead letter instead.

This is also the only place the runtime decodes a command (`decode_command`); records and
states are encoded only through `encode_out_record` and `encode_out_state` below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from processors.core.fold import FoldRecord, evolve
from processors.core.users import attributes_problem
from schemas.commands import (
    AchievementAwarded,
    ClockTicked,
    Command,
    InvalidRecord,
    MetricTracked,
    command_user_id,
    decode_command,
)
from schemas.leaderboards import ScoreChanged, encode_leaderboard_record
from schemas.records import DeadLetter, Record, encode_record, progress_event_id
from schemas.rules import Rules
from schemas.state import UserState, encode_state

MAX_REASON = 500


class RawRecord(Protocol):
    """What the step needs of a consumed record (`processors.runtime.kafka.Record` fits)."""

    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class Applied:
    """A record folded: the user's new state (not yet stamped with the offset) and what the
    fold derived, in order (`Progress` first for a metric event)."""

    user_id: str
    state: UserState
    derived: tuple[FoldRecord, ...]
    event_id: str = ""


def invalid_for_rules(cmd: Command, rules: Rules) -> str | None:
    """Why a decoded command cannot be applied under these rules (None: it can)."""
    if isinstance(cmd, MetricTracked) and cmd.metric not in rules.metrics:
        return f"metric: unknown {cmd.metric[:64]!r}"
    if isinstance(cmd, AchievementAwarded):
        ach = rules.achievements.get(cmd.achievement)
        if ach is None or ach.trigger != "api":
            return f"achievement: unknown API achievement {cmd.achievement[:64]!r}"
    return None


def invalid_key(key: bytes | None, user_id: str) -> str | None:
    """Why a record's Kafka key breaks the key rule (None: it is the user id)."""
    if key is None:
        return f"key: missing; a command's key must be its user id {user_id[:64]!r}"
    if key != user_id.encode():
        shown = key[:64].decode("utf-8", "replace")
        return f"key: {shown!r} is not the command's user id {user_id[:64]!r}"
    return None


def decode_valid(key: bytes | None, value: bytes | None, rules: Rules) -> Command:
    """The command in a record; raises `InvalidRecord` with the reason it cannot be applied."""
    if value is None:
        raise InvalidRecord("no value")
    cmd = decode_command(value)
    reason = invalid_for_rules(cmd, rules) or invalid_key(key, command_user_id(cmd))
    if reason is not None:
        raise InvalidRecord(reason)
    return cmd


def apply_record(
    rec: RawRecord,
    state_of: Callable[[str], UserState | None],
    rules: Rules,
    topic: str,
    partition: int,
) -> Applied | DeadLetter:
    """Fold one record onto its user's state (`state_of(user_id)`), or say why not.

    What `state_of` raises is not the record's fault and is not a dead letter: it propagates
    (the worker's store raises `StateUndecodable` for a state it keeps but cannot decode)."""

    def dead(reason: str, event_id: str | None) -> DeadLetter:
        return DeadLetter.of(reason, rec.value, topic, partition, rec.offset, rec.key, event_id)

    try:
        cmd = decode_valid(rec.key, rec.value, rules)
    except InvalidRecord as err:  # the event id as far as it can be read (for the answer)
        return dead(err.reason, progress_event_id(rec.value) if rec.value else None)
    uid = command_user_id(cmd)
    before = state_of(uid)  # may raise (the store's `StateUndecodable`): the record waits
    if not isinstance(cmd, ClockTicked) and (problem := attributes_problem(before, cmd.user)):
        return dead(problem, cmd.event_id)
    try:
        state, derived = evolve(before, cmd, rules)
    except Exception as exc:  # a fold bug must not stop the partition: park the record
        # (the dead letter is data: the runner and the replay log and count every one)
        return dead(f"fold: {type(exc).__name__}: {exc}"[:MAX_REASON], cmd.event_id)
    return Applied(uid, state, tuple(derived), cmd.event_id)


def encode_out_record(item: Record | ScoreChanged) -> bytes:
    """The bytes of a derived record or dead letter as published."""
    if isinstance(item, ScoreChanged):
        return encode_leaderboard_record(item)
    return encode_record(item)


def encode_out_state(state: UserState) -> bytes:
    """The changelog bytes of a state (stamped with the offset of its last applied event)."""
    return encode_state(state)
