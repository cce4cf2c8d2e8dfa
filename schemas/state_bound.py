"""The largest a user's state (`schemas.state.UserState`, as `encode_state` writes it) can
grow by what the rules bound: docs/runtime.md, "How large a state gets". The rules loader
refuses rules whose bound is over `STATE_BUDGET_BYTES` (`schemas.rules_parse`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from schemas.rules import PointsSystem, Rules

STATE_BUDGET_BYTES = 512 * 1024
"""The most the rules may let the rules-bounded part of a user's state grow to: half the
worker's record limit (1,000,000 bytes), the rest is left for the user's profile (ids,
names, attributes), which commands bound."""

# Encoded sizes (JSON) of the state's bounded parts at their largest, separators included: a
# 16-hex fingerprint in a list, an event id (40 characters or "#" + fingerprint), a decimal
# (120 significant digits, sign, point, exponent, quoted), an achievement's time in ms, a
# streak history entry `[period,length,false]`, an integer (64 bits: 20 characters).
STATE_FIXED_BYTES = 600  # every other field, without profile strings (names, ids, attributes)
KEY_BYTES = 19
EVENT_ID_BYTES = 43
DECIMAL_BYTES = 130
TIME_BYTES = 21
HISTORY_ENTRY_BYTES = 24
INT_BYTES = 21
SIGN_UP_DATE_BYTES = 12  # `"YYYY-MM-DD"`, as the API keeps it
NOTIFICATIONS_BYTES = 150
"""`notifications` at its fullest as the API accepts it (`ingest.http.requests`): each of the four
notification types with both channels, `{"achievement_completed":["email","push"],...}`."""
DAY_BYTES = 8  # a local date ordinal (at most 3,652,059: 9999-12-31) and a comma
PAUSED_FIXED_BYTES = 12  # `"paused":[],` (the streak's periods a day off kept)
POINTS_SYSTEM_BYTES = 100
"""One `"system":{"awards":[],"counts":{},"days":[],"level":null,"total":N,"units":{}}`
without its key, items and level key."""
AWARD_FIXED_BYTES = 3 + 3 + EVENT_ID_BYTES + 4 * INT_BYTES + 2
"""A kept award `[trigger,eventId,points,timeMs,total,count,[boosts]],` without its trigger
key and boost keys: brackets and comma, the trigger's quotes and comma, the event id, four
integers, the boosts' brackets."""
POINTS_DAY_BYTES = 3 + DAY_BYTES + 2 * INT_BYTES  # `[day,added,total],`
METRIC_DAY_BYTES = 3 + DAY_BYTES + 2 * DECIMAL_BYTES  # `[day,"added","total"],`


BOARD_SCORE_BYTES = 26 + INT_BYTES + 8 + 10 + 10 + DECIMAL_BYTES + 2
"""One board's score `{"group":null,"reachedMs":N,"run":"YYYY-MM-DD","value":"..."},`
without the board key. A breakdown group's text (`attr=value&...`, percent-encoded) replaces
`null`: its attribute names count here, their values as profile (they are the user's)."""
LEADERBOARDS_BYTES = 18  # `"leaderboards":{},` (absent until the user first scores)
EARLIER_BYTES = 10  # `"earlier":` before the earlier run's score, inside the newest's


def state_bytes_bound(rules: Rules) -> int:
    """The largest a user's state can grow by what these rules bound (everything but the
    profile strings the user's commands carry)."""
    limits = rules.limits
    metrics = sum(
        2 * (len(key) + 5) + DECIMAL_BYTES + KEY_BYTES * limits.idempotency_keys_per_metric
        for key in rules.metrics
    )
    achievements = sum(len(key) + 5 + TIME_BYTES for key in rules.achievements)
    streak = 0
    if rules.streak is not None:
        streak = HISTORY_ENTRY_BYTES * rules.streak.history_periods + sum(
            len(t.metric) + 5 + DECIMAL_BYTES for t in rules.streak.thresholds
        )
        if rules.streak.days_off:  # `"paused":[day,...],`: at most every kept period
            streak += PAUSED_FIXED_BYTES + DAY_BYTES * rules.streak.history_periods
    recent = EVENT_ID_BYTES * limits.recent_event_ids
    points = sum(points_bytes_bound(s, rules) for s in rules.points.values())
    days = sum(len(key) + 5 + METRIC_DAY_BYTES * limits.metric_days for key in rules.metrics)
    profile = SIGN_UP_DATE_BYTES + NOTIFICATIONS_BYTES
    rest = points + days + profile + boards_bytes_bound(rules)
    return STATE_FIXED_BYTES + metrics + achievements + streak + recent + rest


def boards_bytes_bound(rules: Rules) -> int:
    """`leaderboards` at its largest: two scores per board, the newest run's and the earlier
    one's inside it (each its run, group, value, time)."""
    if not rules.leaderboards:
        return 0
    return LEADERBOARDS_BYTES + sum(
        len(key)
        + 3
        + EARLIER_BYTES
        + 2 * (BOARD_SCORE_BYTES + sum(3 * len(a) + 3 for a in board.breakdown_attributes))
        for key, board in rules.leaderboards.items()
    )


def points_bytes_bound(system: PointsSystem, rules: Rules) -> int:
    """One system's `PointsState` at its largest: the kept awards and days, a count per
    trigger, units per metric trigger, the longest level key."""
    triggers = [t.key for t in system.triggers]
    longest = max(map(len, triggers), default=0)
    award = AWARD_FIXED_BYTES + longest + sum(len(b.key) + 3 for b in system.boosts)
    counts = sum(len(t) + 3 + INT_BYTES for t in triggers)
    units = sum(len(t.key) + 3 + DECIMAL_BYTES for t in system.triggers if t.type == "metric")
    level = max((len(lv.key) + 2 for lv in system.levels), default=0)
    return (
        len(system.key)
        + POINTS_SYSTEM_BYTES
        + level
        + award * rules.limits.points_awards
        + POINTS_DAY_BYTES * rules.limits.points_days
        + counts
        + units
    )
