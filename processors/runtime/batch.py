"""Fold a batch of raw `podium.events` records into a partition's state: the CPU part of the
runtime, with no I/O (the worker, the replay and the benchmarks share it).

A record that cannot be decoded or validated becomes a `DeadLetter` (it never stops the
batch). Each derived record is encoded once, keyed by its user id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from processors.fold import evolve
from processors.runtime.store import StateStore
from schemas.commands import (
    AchievementAwarded,
    Command,
    InvalidRecord,
    MetricTracked,
    command_user_id,
    decode_command,
)
from schemas.points import PointsChanged
from schemas.records import (
    AchievementCompleted,
    DeadLetter,
    Progress,
    StreakChanged,
    encode_record,
)
from schemas.rules import Rules
from schemas.state import UserState

KeyValue = tuple[bytes, bytes]


class RawRecord(Protocol):
    """What the fold needs of a consumed record (aiokafka's ConsumerRecord fits)."""

    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass
class Effects:
    """What one batch changed: the states to write and the records to publish."""

    states: dict[str, UserState] = field(default_factory=dict)
    progress: list[KeyValue] = field(default_factory=list)
    achievements: list[KeyValue] = field(default_factory=list)
    streaks: list[KeyValue] = field(default_factory=list)
    points: list[KeyValue] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    events: int = 0
    next_offset: int = -1  # the input offset to commit (last + 1)


def invalid_for_rules(cmd: Command, rules: Rules) -> str | None:
    """Why a decoded command cannot be applied under these rules (None: it can)."""
    if isinstance(cmd, MetricTracked) and cmd.metric not in rules.metrics:
        return f"metric: unknown {cmd.metric[:64]!r}"
    if isinstance(cmd, AchievementAwarded):
        ach = rules.achievements.get(cmd.achievement)
        if ach is None or ach.trigger != "api":
            return f"achievement: unknown API achievement {cmd.achievement[:64]!r}"
    return None


def decode_valid(value: bytes | None, rules: Rules) -> Command:
    """The command in a record value; raises `InvalidRecord` with the reason."""
    if value is None:
        raise InvalidRecord("no value")
    cmd = decode_command(value)
    reason = invalid_for_rules(cmd, rules)
    if reason is not None:
        raise InvalidRecord(reason)
    return cmd


def fold_batch(
    store: StateStore,
    records: Iterable[RawRecord],
    rules: Rules,
    topic: str,
    partition: int,
) -> Effects:
    """Apply the records in order to `store` (mutating it) and collect their effects.

    Each changed user's state is stamped with the offset of the last event applied to it and
    written once per batch (the changelog is compacted: only the latest value matters).
    """
    out = Effects()
    touched: dict[str, int] = {}
    sink: dict[type, list[KeyValue]] = {
        Progress: out.progress,
        AchievementCompleted: out.achievements,
        StreakChanged: out.streaks,
        PointsChanged: out.points,
    }
    for rec in records:
        out.next_offset = rec.offset + 1
        try:
            cmd = decode_valid(rec.value, rules)
        except InvalidRecord as err:
            out.dead.append(
                DeadLetter.of(err.reason, rec.value, topic, partition, rec.offset, rec.key)
            )
            continue
        uid = command_user_id(cmd)
        try:
            state, derived = evolve(store.get(uid), cmd, rules)
        except Exception as exc:  # a fold bug must not stop the partition: park the record
            reason = f"fold: {type(exc).__name__}: {exc}"[:500]
            out.dead.append(DeadLetter.of(reason, rec.value, topic, partition, rec.offset, rec.key))
            continue
        store.put(uid, state)
        touched[uid] = rec.offset
        out.events += 1
        key = uid.encode()
        for item in derived:
            sink[type(item)].append((key, encode_record(item)))
    for uid, offset in touched.items():
        state = store.get_live(uid).with_offset(offset)
        store.put(uid, state)
        out.states[uid] = state
    return out
