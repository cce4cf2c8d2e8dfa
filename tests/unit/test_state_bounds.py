"""A user's state stays within the documented bound (`schemas.state_bound.state_bytes_bound`): a
state with every rules-bounded collection at its largest, each item at its longest, encodes
within the bound plus the profile strings; and the fold keeps every collection to its rule
however many events a user sends."""

from __future__ import annotations

import json
from decimal import Decimal

import msgspec

from ingest.http.requests import NOTIFICATION_TYPES, parse_preferences
from processors.core.fold import evolve
from processors.core.metrics import short_hash
from schemas.commands import MetricTracked, User
from schemas.leaderboards import BoardScore
from schemas.rules import PointsSystem
from schemas.rules_parse import parse_rules
from schemas.state import (
    HistoryEntry,
    KeptAward,
    MetricDay,
    PointsDay,
    PointsState,
    StreakState,
    UserState,
    encode_state,
)
from schemas.state_bound import boards_bytes_bound, state_bytes_bound

RULES_TEXT = """
[limits]
idempotency_keys_per_metric = 50
recent_event_ids = 20
points_awards = 25
points_days = 40
metric_days = 30
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
[[points]]
key = "experience-points"
name = "XP"
[[points.triggers]]
key = "per-hundred-words-written"
type = "metric"
metric = "words-written"
threshold = 100
points = 10
[[points.triggers]]
key = "chapter"
type = "metric"
metric = "chapters-finished"
threshold = 1
points = 3
[[points.triggers]]
key = "first-thousand"
type = "achievement"
achievement = "first-thousand-words"
points = 50
[[points.triggers]]
key = "weekly-streak"
type = "streak"
streak_length = 7
points = 20
[[points.triggers]]
key = "hourly"
type = "time"
time_unit = "hour"
time_interval = 1
points = 1
[[points.levels]]
key = "novice"
name = "Novice"
points = 0
[[points.levels]]
key = "accomplished-author"
name = "Accomplished author"
points = 1000
[[points.boosts]]
key = "double-weekend"
name = "Double"
multiplier = 2
start = 2020-01-01T00:00:00Z
[[points.boosts]]
key = "launch"
name = "Launch"
multiplier = 1.5
start = 2020-01-01T00:00:00Z
[[points]]
key = "karma"
name = "Karma"
max_points = 50
[[points.triggers]]
key = "chapter"
type = "metric"
metric = "chapters-finished"
threshold = 1
points = 3
"""
RULES = parse_rules(RULES_TEXT, "bounds.toml")
# The longest a total can print: 120 significant digits (the fold's context), negative, with
# an exponent (inputs have exponents within ±30, so sums stay far from three digits).
LONGEST_DECIMAL = Decimal("-" + "9" * 120 + "E-99")
BIG = 999_999_999_999_999  # a 15-digit time in ms
DATE = 3_652_059  # the ordinal of 9999-12-31: the longest date or period index
INT = -(2**63)  # the longest integer the state's encoder writes (20 characters)
EVENT_ID = "9" * 40  # the longest event id the gateway or a tick writes within 40 characters


def _largest_points(system: PointsSystem) -> PointsState:
    limits = RULES.limits
    longest = max((t.key for t in system.triggers), key=len)
    award = KeptAward(
        trigger=longest,
        event_id=EVENT_ID,
        points=INT,
        time_ms=INT,
        total=INT,
        count=INT,
        boosts=tuple(b.key for b in system.boosts),  # every boost applied
    )
    return PointsState(
        total=INT,
        level=max((lv.key for lv in system.levels), key=len, default=None),
        awards=(award,) * limits.points_awards,
        days=(PointsDay(day=DATE, added=INT, total=INT),) * limits.points_days,
        counts={t.key: INT for t in system.triggers},
        units={t.key: LONGEST_DECIMAL for t in system.triggers if t.type == "metric"},
    )


def _fullest_notifications() -> dict[str, tuple[str, ...]]:
    """What the preferences API stores at most: every type it accepts with every channel."""
    body = {"notifications": {kind: ["email", "push", "email"] for kind in NOTIFICATION_TYPES}}
    return parse_preferences(json.dumps(body).encode())


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
        points={key: _largest_points(system) for key, system in RULES.points.items()},
        sign_up_date="9999-12-31",
        notifications=_fullest_notifications(),
        metric_days={
            m: (MetricDay(day=DATE, added=LONGEST_DECIMAL, total=LONGEST_DECIMAL),)
            * RULES.limits.metric_days
            for m in metrics
        },
        offset=2**63 - 1,
    )


def test_the_largest_state_is_within_the_bound() -> None:
    state = _largest_state("u1")
    assert len(state.points) == 2 and len(state.notifications) == 4
    assert all(len(d) == 30 for d in state.metric_days.values())
    size = len(encode_state(state))
    profile = len(b"u1")
    assert size <= state_bytes_bound(RULES) + profile
    # and the bound is not loose by much: the fixed part is its only slack, with a few bytes
    # per kept day and award (these decimals print in 122 of the 127 characters allowed)
    assert size > state_bytes_bound(RULES) - 1_000


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


def test_the_fold_keeps_points_and_metric_days_to_their_rules() -> None:
    state = None
    for i in range(300):  # one event every 13 hours: 163 local days, each metric on ~80
        cmd = MetricTracked(
            event_id=f"e{i}",
            time_ms=1_767_225_600_000 + i * 13 * 3_600_000,
            user=User(id="u1"),
            metric=("words-written", "chapters-finished")[i % 2],
            value=Decimal(500),
        )
        state, _ = evolve(state, cmd, RULES)
    assert state is not None
    assert {m: len(days) for m, days in state.metric_days.items()} == {
        "words-written": 30,
        "chapters-finished": 30,
    }
    xp = state.points["experience-points"]
    assert len(xp.awards) == 25 and len(xp.days) == 40
    assert xp.level == "accomplished-author"  # 75,000 words at 10 per hundred pass 1,000
    assert state.points["karma"].total == 50  # capped: its awards stopped at the cap
    assert len(encode_state(state)) <= state_bytes_bound(RULES) + len(b"u1")


BOARDS = parse_rules(
    """
[metrics.words-written]
[[leaderboards]]
key = "top-writers"
name = "Top"
rank_by = "metric"
metric = "words-written"
[[leaderboards]]
key = "weekly-by-plan-and-region"
name = "Weekly"
rank_by = "metric"
metric = "words-written"
run_unit = "day"
run_interval = 7
breakdown_attributes = ["plan", "region"]
""",
    "boards.toml",
)


def test_board_scores_at_their_largest_are_within_the_bound() -> None:
    """Two scores per board (the newest run and the earlier one), each at its longest (a
    dated run, the longest decimal, a 64-bit time); the breakdown groups' values are the
    user's own strings and count as profile."""
    values = {"plan": "p" * 40, "region": "r" * 40}
    group = "&".join(f"{k}={v}" for k, v in values.items())
    longest = 2**63 - 1

    def score(run: str, group: str) -> BoardScore:
        earlier = BoardScore(run=run, group=group, value=LONGEST_DECIMAL, reached_ms=longest)
        return BoardScore(run, group, LONGEST_DECIMAL, longest, earlier)

    state = UserState(
        user_id="u1",
        attributes=values,
        leaderboards={
            "top-writers": score("all", ""),
            "weekly-by-plan-and-region": score("9999-12-27", group),
        },
    )
    without = len(encode_state(msgspec.structs.replace(state, leaderboards=msgspec.UNSET)))
    grown = len(encode_state(state)) - without  # what the scores add to the state
    profile = 2 * sum(len(v) for v in values.values())  # each group repeats the user's values
    assert grown <= boards_bytes_bound(BOARDS) + profile
    assert grown > boards_bytes_bound(BOARDS) - 80  # and not loose by much


def test_paused_periods_fit_what_days_off_add_to_the_bound() -> None:
    """With days off, every kept period may be paused: `streak.paused` lists them all."""
    rules_off = parse_rules(
        RULES_TEXT.replace("history_periods = 30", "history_periods = 30\ndays_off = [0, 6]")
    )
    plain = _largest_state("u1")
    paused = msgspec.structs.replace(
        plain, streak=msgspec.structs.replace(plain.streak, paused=(DATE,) * 30)
    )
    added = len(encode_state(paused)) - len(encode_state(plain))
    assert added == len(b',"paused":[]') + 30 * len(str(DATE)) + 29  # the commas between
    assert 0 < added <= state_bytes_bound(rules_off) - state_bytes_bound(RULES)
