"""The independent expectation for runtime tests: fold the events topic, partition by
partition in log order, and predict every state (stamped with the offset of the last event
applied to the user, as the changelog contract says), every derived record and every dead
letter. It shares only the per-record step (`processors.runtime.step.apply_record`: the one
decode / validate / fold policy); its states, batching and bookkeeping are its own, with none
of the worker's store, batches, transactions or offsets."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from processors.runtime.step import apply_record
from schemas.commands import MetricTracked, User, encode_command
from schemas.leaderboards import ScoreChanged, encode_leaderboard_record
from schemas.records import (
    AchievementCompleted,
    DeadLetter,
    PointsChanged,
    Progress,
    StreakChanged,
    encode_record,
    refusal_of,
)
from schemas.rules import Rules
from schemas.state import UserState, encode_state
from tests.integration.runtime.kafka_io import Consumed

DAY_MS = 86_400_000
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def metric_events(
    count: int,
    users: int,
    *,
    seed: int = 7,
    start_ms: int = START_MS,
    days: int = 20,
    metrics: tuple[str, ...] = ("words-written", "chapters-finished"),
    prefix: str = "e",
) -> list[tuple[bytes, bytes]]:
    """`count` metric commands for `users` users over `days` days, in time order."""
    rnd = random.Random(seed)
    span = days * DAY_MS
    out = []
    for i in range(count):
        uid = f"u{rnd.randrange(users)}"
        cmd = MetricTracked(
            event_id=f"{prefix}{seed}-{i}",
            time_ms=start_ms + span * i // count,
            user=User(id=uid),
            metric=rnd.choice(metrics),
            value=Decimal(rnd.choice((1, 5, 50, 120, 400, 1000))),
        )
        out.append((uid.encode(), encode_command(cmd)))
    return out


@dataclass
class Expected:
    states: dict[str, bytes] = field(default_factory=dict)  # user id -> encode_state
    progress: Counter[bytes] = field(default_factory=Counter)
    achievements: Counter[bytes] = field(default_factory=Counter)
    streaks: Counter[bytes] = field(default_factory=Counter)
    scores: Counter[bytes] = field(default_factory=Counter)
    points: Counter[bytes] = field(default_factory=Counter)
    invalid: int = 0
    dead: list[DeadLetter] = field(default_factory=list)


def fold_log(
    events: Mapping[int, Iterable[Consumed]],
    rules: Rules,
    topic: str = "",
    start: Mapping[str, UserState] | None = None,
) -> Expected:
    """The expectation; `start` holds states users had before the log (none: all new)."""
    out = Expected()
    for partition, records in events.items():
        states: dict[str, UserState] = dict(start or {})
        touched: set[str] = set()
        for rec in records:
            outcome = apply_record(rec, states.get, rules, topic, partition)
            if isinstance(outcome, DeadLetter):
                out.invalid += 1
                out.dead.append(outcome)
                refused = refusal_of(outcome, (rec.key or b"").decode("utf-8", "replace"))
                if refused is not None:  # the answer where its Progress would be
                    out.progress[encode_record(refused)] += 1
                continue
            states[outcome.user_id] = outcome.state.with_offset(rec.offset)
            touched.add(outcome.user_id)
            for item in outcome.derived:
                if isinstance(item, Progress):
                    out.progress[encode_record(item)] += 1
                elif isinstance(item, AchievementCompleted):
                    out.achievements[encode_record(item)] += 1
                elif isinstance(item, StreakChanged):
                    out.streaks[encode_record(item)] += 1
                elif isinstance(item, PointsChanged):
                    out.points[encode_record(item)] += 1
                elif isinstance(item, ScoreChanged):
                    out.scores[encode_leaderboard_record(item)] += 1
        out.states.update({uid: encode_state(states[uid]) for uid in touched})
    return out


def latest_by_key(
    records: Mapping[int, Iterable[Consumed]],
) -> dict[str, bytes]:
    latest: dict[str, bytes] = {}
    for recs in records.values():
        for rec in recs:
            assert rec.key is not None
            latest[rec.key.decode()] = rec.value
    return latest


def values(records: Mapping[int, Iterable[Consumed]]) -> Counter[bytes]:
    return Counter(rec.value for recs in records.values() for rec in recs)
