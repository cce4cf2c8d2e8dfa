"""Hypothesis strategies and small rules files shared by the unit tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import strategies as st

from schemas.commands import (
    AchievementAwarded,
    ClockTicked,
    Command,
    MetricTracked,
    User,
    UserIdentified,
)
from schemas.rules import Rules
from schemas.rules_parse import parse_rules

T0 = int(datetime(2024, 2, 20, tzinfo=UTC).timestamp() * 1000)  # spans a leap day and DST
HOUR = 3_600_000
ZONES = [
    None,
    "UTC",
    "Europe/London",
    "America/New_York",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "Australia/Lord_Howe",
    "Pacific/Kiritimati",
]
METRICS = ["words", "chapters", "edits"]
# one year (or, for 29 February 2020, four) before days the streams span, and a later date
SIGN_UPS = ["2023-02-21", "2023-02-28", "2023-03-01", "2023-03-12", "2020-02-29", "2024-03-05"]

RULES_TEMPLATE = (
    """
week_start = "{week_start}"
[limits]
recent_event_ids = 1000
points_days = 300  # within the state budget with 400 days per metric (the default)
[metrics.words]
name = "Words"
[metrics.chapters]
[metrics.edits]
[[achievements]]
key = "w10"
name = "Ten words"
trigger = "metric"
metric = "words"
value = 10
[[achievements]]
key = "w-tenth"
name = "Point three"
trigger = "metric"
metric = "words"
value = "0.3"
[[achievements]]
key = "c2-poetry"
name = "Two chapters, with a poem"
trigger = "metric"
metric = "chapters"
value = 2
event_attributes = {{ genre = "poetry" }}
[[achievements]]
key = "w5-pro"
name = "Five words on pro"
trigger = "metric"
metric = "words"
value = 5
user_attributes = {{ plan = "pro" }}
[[achievements]]
key = "s2"
name = "Streak 2"
trigger = "streak"
streak_length = 2
[[achievements]]
key = "s4"
name = "Streak 4"
trigger = "streak"
streak_length = 4
[[achievements]]
key = "api"
name = "Published"
trigger = "api"
[[achievements]]
key = "a1"
name = "A year"
trigger = "anniversary"
anniversary_years = 1
[[achievements]]
key = "a4-pro"
name = "Four years on pro"
trigger = "anniversary"
anniversary_years = 4
user_attributes = {{ plan = "pro" }}
[[achievements]]
key = "old-hand"
name = "Old hand"
trigger = "achievement"
achievements = ["a1", "w10"]
[[achievements]]
key = "combo"
name = "Combo"
trigger = "achievement"
achievements = ["w10", "s2"]
[[achievements]]
key = "mega"
name = "Mega"
trigger = "achievement"
achievements = ["combo", "api"]
[streak]
frequency = "{frequency}"
combine = "{combine}"
history_periods = 5
{days_off}
[[streak.thresholds]]
metric = "words"
value = 3
[[streak.thresholds]]
metric = "chapters"
value = 1
[streak.freezes]
initial = {initial}
max = 3
auto_earn_amount = {amount}
auto_earn_interval_days = {interval}
"""
    + """
[[points]]
key = "xp"
name = "XP"
max_points = 120
[[points.triggers]]
key = "w3"
type = "metric"
metric = "words"
threshold = 3
points = 10
[[points.triggers]]
key = "poetry"
type = "metric"
metric = "chapters"
threshold = "0.5"
points = 4
event_attributes = {{ genre = "poetry" }}
[[points.triggers]]
key = "pro-edits"
type = "metric"
metric = "edits"
threshold = 2
points = -5
user_attributes = {{ plan = "pro" }}
[[points.triggers]]
key = "ten-words"
type = "achievement"
achievement = "w10"
points = 25
[[points.triggers]]
key = "combo"
type = "achievement"
achievement = "combo"
points = 40
[[points.triggers]]
key = "published"
type = "achievement"
achievement = "api"
points = 15
user_attributes = {{ plan = "free" }}
[[points.triggers]]
key = "s2"
type = "streak"
streak_length = 2
points = 8
[[points.triggers]]
key = "hello"
type = "user_creation"
points = 5
[[points.levels]]
key = "l0"
name = "Zero"
points = 0
[[points.levels]]
key = "l30"
name = "Thirty"
points = 30
[[points.levels]]
key = "l100"
name = "Hundred"
points = 100
[[points.boosts]]
key = "week"
name = "Week"
multiplier = 1.5
start = 2024-02-22T00:00:00Z
end = 2024-03-01T00:00:00Z
[[points.boosts]]
key = "pro"
name = "Pro"
multiplier = 1.25
rounding = "up"
start = 2024-02-25T06:00:00Z
user_attributes = {{ plan = "pro" }}
[[points.boosts]]
key = "slow"
name = "Slow"
multiplier = 0.7
rounding = "nearest"
start = 2024-03-10
end = 2024-03-20

[[points]]
key = "energy"
name = "Energy"
max_points = 6
[[points.triggers]]
key = "regen"
type = "time"
time_unit = "hour"
time_interval = 7
points = 1
[[points.triggers]]
key = "pro-daily"
type = "time"
time_unit = "day"
time_interval = 1
points = 2
user_attributes = {{ plan = "pro" }}
[[points.triggers]]
key = "spend"
type = "metric"
metric = "words"
threshold = 1
points = -1
[[points.boosts]]
key = "double"
name = "Double"
multiplier = 2
rounding = "nearest"
start = 2024-03-01T00:00:00Z
end = 2024-03-05T00:00:00Z
"""
)


def make_rules(
    frequency: str = "daily",
    combine: str = "any",
    week_start: str = "monday",
    initial: int = 1,
    amount: int = 1,
    interval: int = 3,
    days_off: tuple[int, ...] = (),
) -> Rules:
    """The template's rules; `days_off` (JavaScript weekdays, 0 = Sunday) for a daily streak."""
    text = RULES_TEMPLATE.format(
        frequency=frequency,
        combine=combine,
        week_start=week_start,
        initial=initial,
        amount=amount,
        interval=interval,
        days_off=f"days_off = {list(days_off)}" if days_off else "",
    )
    return parse_rules(text, source="test-rules.toml")


RULES = make_rules()

values = st.sampled_from(["0.1", "0.2", "1", "2", "3", "5", "-1", "-0.3", "10", "0"]).map(Decimal)


@st.composite
def streams(
    draw: st.DrawFn, users: int = 3, max_size: int = 40, gap_hours: int = 60
) -> list[Command]:
    """A random stream of commands for a few users, with replays and idempotent repeats."""
    n = draw(st.integers(1, max_size))
    time_ms = T0 + draw(st.integers(0, 24)) * HOUR
    out: list[Command] = []
    for i in range(n):
        time_ms += draw(st.integers(-2, gap_hours)) * HOUR + draw(st.integers(0, HOUR))
        uid = f"u{draw(st.integers(0, users - 1))}"
        kind = draw(st.sampled_from(["metric"] * 8 + ["user", "award", "tick", "repeat"]))
        tz = draw(st.sampled_from(ZONES)) if draw(st.integers(0, 9)) == 0 else None
        plan = draw(st.sampled_from([None, "pro", "free"]))
        sign_up = draw(st.sampled_from([None] * 8 + SIGN_UPS))
        user = User(
            id=uid,
            tz=tz,
            attributes=None if plan is None else {"plan": plan},
            sign_up_date=sign_up,
        )
        eid = f"e{i}"
        if kind == "repeat" and out:
            out.append(draw(st.sampled_from(out)))
            continue
        if kind == "user":
            out.append(UserIdentified(event_id=eid, time_ms=time_ms, user=user))
        elif kind == "award":
            key = draw(st.sampled_from(["api", "w10", "nope"]))
            out.append(
                AchievementAwarded(event_id=eid, time_ms=time_ms, user=user, achievement=key)
            )
        elif kind == "tick":
            out.append(ClockTicked(event_id=eid, time_ms=time_ms, user_id=uid))
        else:
            genre = draw(st.sampled_from(["poetry", "prose"]))
            idem = draw(st.one_of(st.none(), st.sampled_from(["k1", "k2", "k3"])))
            out.append(
                MetricTracked(
                    event_id=eid,
                    time_ms=time_ms,
                    user=user,
                    metric=draw(st.sampled_from(METRICS)),
                    value=draw(values),
                    attributes={"genre": genre},
                    idempotency_key=idem,
                )
            )
    return out
