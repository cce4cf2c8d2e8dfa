"""Fold a batch of raw `podium.events` records into a partition's state: the CPU part of the
worker, with no I/O. Each record goes through the one per-record step (`step.apply_record`);
a record it does not apply becomes a `DeadLetter` (it never stops the batch). Each derived
record is encoded once, keyed by its user id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from processors.runtime.step import Applied, RawRecord, apply_record, encode_out_record
from processors.runtime.store import StateStore
from schemas.records import (
    AchievementCompleted,
    DeadLetter,
    PointsChanged,
    Progress,
    StreakChanged,
)
from schemas.rules import Rules
from schemas.state import UserState

KeyValue = tuple[bytes, bytes]


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
        outcome = apply_record(rec, store.get, rules, topic, partition)
        if not isinstance(outcome, Applied):
            out.dead.append(outcome)
            continue
        uid = outcome.user_id
        store.put(uid, outcome.state)
        touched[uid] = rec.offset
        out.events += 1
        key = uid.encode()
        for item in outcome.derived:
            sink[type(item)].append((key, encode_out_record(item)))
    for uid, offset in touched.items():
        state = store.get_live(uid).with_offset(offset)
        store.put(uid, state)
        out.states[uid] = state
    return out
