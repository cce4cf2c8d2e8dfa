"""A user's state stays within the documented bound (`schemas.rules.state_bytes_bound`): a
state with every rules-bounded collection at its largest, each item at its longest, encodes
within the bound plus the profile strings; and the fold keeps every collection to its rule
however many events a user sends."""

from __future__ import annotations

from decimal import Decimal

from processors.fold import evolve
from processors.metrics import short_hash
from schemas.commands import MetricTracked, User
from schemas.rules import parse_rules, state_bytes_bound
from schemas.state import HistoryEntry, StreakState, UserState, encode_state

RULES = parse_rules(
    """
[limits]
idempotency_keys_per_metric = 50
recent_event_ids = 20
[metrics.words-written]
[metrics.chapters-finished]
[[achievements]]
key = "first-thousand-words"
name = "A"
trigger = "metric"
metric = "words-written"
value = 1000
[[achievements]]
key = "streak-7"
name = "B"
trigger = "streak"
streak_length = 7
[streak]
frequency = "daily"
history_periods = 30
[streak.freezes]
initial = 1
max = 3
[[streak.thresholds]]
metric = "words-written"
value = 1
[[streak.thresholds]]
metric = "chapters-finished"
value = 1
""",
    "bounds.toml",
)
# The longest a total can print: 120 significant digits (the fold's context), negative, with
# an exponent (inputs have exponents within ±30, so sums stay far from three digits).
LONGEST_DECIMAL = Decimal("-" + "9" * 120 + "E-99")
BIG = 999_999_999_999_999  # a 15-digit time in ms
DATE = 3_652_059  # the ordinal of 9999-12-31: the longest date or period index


def _largest_state(user_id: str) -> UserState:
    metrics = list(RULES.metrics)
    window = RULES.limits.idempotency_keys_per_metric
    return UserState(
        user_id=user_id,
        created_ms=BIG,
        updated_ms=BIG,
        events=BIG,
        totals={m: LONGEST_DECIMAL for m in metrics},
        idempotency={m: tuple(short_hash(f"{m}{i}") for i in range(window)) for m in metrics},
        recent_events=tuple(f"{i:040d}" for i in range(RULES.limits.recent_event_ids)),
        achievements={key: BIG for key in RULES.achievements},
        streak=StreakState(
            length=BIG,
            longest=BIG,
            started=DATE,
            covered=DATE,
            period=DATE,
            progress={m: LONGEST_DECIMAL for m in metrics},
            extended_ms=BIG,
            freezes=100,
            freeze_anchor=DATE,
            freeze_earned=BIG,
            history=tuple(
                HistoryEntry(period=DATE, length=DATE, used_freeze=False) for _ in range(30)
            ),
        ),
        offset=2**63 - 1,
    )


def test_the_largest_state_is_within_the_bound() -> None:
    state = _largest_state("u1")
    size = len(encode_state(state))
    profile = len(b"u1")
    assert size <= state_bytes_bound(RULES) + profile
    # and the bound is not loose by much: the fixed part is its only slack
    assert size > state_bytes_bound(RULES) - 800


def test_the_fold_keeps_each_collection_to_its_rule() -> None:
    state = None
    for i in range(2_000):
        cmd = MetricTracked(
            event_id=f"e{i}",
            time_ms=1_767_225_600_000 + i * 60_000,
            user=User(id="u1"),
            metric=("words-written", "chapters-finished")[i % 2],
            value=Decimal(1),
            idempotency_key=f"key-{i}",
        )
        state, _ = evolve(state, cmd, RULES)
    assert state is not None and state.events == 2_000
    assert {m: len(keys) for m, keys in state.idempotency.items()} == {
        "words-written": 50,
        "chapters-finished": 50,
    }
    assert state.recent_events == tuple(f"e{i}" for i in range(1_980, 2_000))
    assert len(state.streak.history) <= 30
    assert len(encode_state(state)) <= state_bytes_bound(RULES) + len(b"u1")
