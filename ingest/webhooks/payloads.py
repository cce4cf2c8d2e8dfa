"""Podium's facts as Trophy's webhooks: which types a fact drives, and their bodies in
Trophy's shapes (`ingest.http.answers_webhooks`). Pure: the rules and the user (Trophy's
`User`, read by the caller from the views) are passed in.

    podium.achievements  AchievementCompleted  -> achievement.completed
    podium.streaks       StreakChanged         -> streak.started | extended | lost |
                                                  freeze_consumed | freeze_earned (its kind)
    podium.points        PointsChanged         -> points.changed (when it added or deducted),
                                                  points.level_changed (when the level moved)
    podium.leaderboards  RankChanged           -> leaderboard.rank_changed (when the rank moved)

Every other Trophy type has no fact behind it (docs/webhooks.md says why for each).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import msgspec

from ingest.http.answers import Streak, User
from ingest.http.answers_webhooks import (
    AchievementCompletedHook,
    BoardRankChange,
    FreezeConsumedHook,
    FreezeEarnedHook,
    LevelChangedHook,
    PointsChangedHook,
    PointsTotal,
    RankChangedHook,
    StreakHook,
    StreakLostHook,
    Webhook,
)
from ingest.http.api import achievement_json, timestamp
from ingest.http.api_leaderboards import board_fields, whole
from ingest.http.api_points import event_points, level_of, system_base
from processors.core.periods import js_weekday, next_period, period_index, period_iso
from schemas.leaderboards import RankChanged
from schemas.records import AchievementCompleted, PointsChanged, StreakChanged
from schemas.rules import Rules
from schemas.tenants import split_user

Fact = AchievementCompleted | StreakChanged | PointsChanged | RankChanged

SENT_TYPES: tuple[str, ...] = (
    "achievement.completed",
    "streak.started",
    "streak.extended",
    "streak.lost",
    "streak.freeze_consumed",
    "streak.freeze_earned",
    "points.changed",
    "points.level_changed",
    "leaderboard.rank_changed",
)
"""The Trophy webhook types Podium sends (the others: docs/webhooks.md)."""

_ENCODER = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One webhook of one fact, ready to sign and send to the endpoints that take its type."""

    type: str
    fact_id: str
    user_id: str  # as on the topics (a tenant's user keeps its tenant prefix)
    time_ms: int
    backfilled: bool
    body: bytes


def bare_user(user_id: str, time_ms: int) -> User:
    """The `User` of a user the views do not hold yet (the projector is behind): its id, and
    Trophy's defaults."""
    _, uid = split_user(user_id)
    at = timestamp(time_ms)
    return User(
        id=uid,
        email=None,
        name=None,
        tz=None,
        device_tokens=None,
        subscribe_to_emails=True,
        attributes={},
        control=False,
        created=at,
        updated=at,
    )


def fact_time(fact: Fact) -> int:
    return fact.achieved_at_ms if isinstance(fact, AchievementCompleted) else fact.time_ms


def webhooks_of(fact: Fact, rules: Rules, user: User) -> list[Outgoing]:
    """The webhooks `fact` drives, in the order they are sent; none when the rules no longer
    know what it is about."""
    hooks = _hooks(fact, rules, user)
    return [
        Outgoing(h.type, fact.id, fact.user_id, fact_time(fact), fact.backfilled, _encode(h))
        for h in hooks
    ]


def _encode(hook: Webhook) -> bytes:
    return _ENCODER.encode(hook)


def _hooks(fact: Fact, rules: Rules, user: User) -> list[Webhook]:
    if isinstance(fact, AchievementCompleted):
        return _achievement(fact, rules, user)
    if isinstance(fact, StreakChanged):
        return _streak(fact, rules, user)
    if isinstance(fact, PointsChanged):
        return _points(fact, rules, user)
    return _rank(fact, rules, user)


def _achievement(fact: AchievementCompleted, rules: Rules, user: User) -> list[Webhook]:
    ach = rules.achievements.get(fact.achievement)
    if ach is None:
        return []
    done = achievement_json(ach, rules, fact.achieved_at_ms)
    return [AchievementCompletedHook(type="achievement.completed", user=user, achievement=done)]


def _streak(fact: StreakChanged, rules: Rules, user: User) -> list[Webhook]:
    kind = f"streak.{fact.kind}"
    freezes = fact.freezes or 0
    if fact.kind in ("started", "extended"):
        return [StreakHook(type=kind, user=user, streak=_streak_after(fact, rules))]
    if fact.kind == "lost":
        return [StreakLostHook(type=kind, user=user, length=fact.length)]
    if fact.kind == "freeze_consumed":  # the fold uses one freeze per missed period
        return [FreezeConsumedHook(type=kind, user=user, consumed=1, freezes=freezes)]
    return [FreezeEarnedHook(type=kind, user=user, earned=_earned(rules), freezes=freezes)]


def _earned(rules: Rules) -> int:
    """Freezes one auto-earn adds: the rules' amount (fewer when the cap cut it; the fact
    does not say by how much)."""
    fz = rules.streak.freezes if rules.streak else None
    return 0 if fz is None else fz.auto_earn_amount


def _streak_after(fact: StreakChanged, rules: Rules) -> Streak:
    """Trophy's `BaseStreakResponse` after a start or an extension of period `periodStart`:
    it expires at the end of the next period that counts (a day off only pauses it)."""
    rule, ws = rules.streak, rules.week_start
    extra: dict[str, Any] = {}
    expires = None
    if rule is not None:
        period = period_index(date.fromisoformat(fact.period_start).toordinal(), fact.frequency, ws)
        following = next_period(period)
        while rule.days_off and js_weekday(following) in rule.days_off:
            following = next_period(following)
        expires = period_iso(following, fact.frequency, ws)[1]
        fz = rule.freezes
        if fz is not None:
            extra = {"freezes": fact.freezes or 0, "max_freezes": fz.max}
            if fz.auto_earn_interval_days:
                extra["freeze_auto_earn_interval"] = fz.auto_earn_interval_days
                extra["freeze_auto_earn_amount"] = fz.auto_earn_amount
    return Streak(
        length=fact.length,
        frequency=fact.frequency,
        started=fact.started,
        period_start=fact.period_start,
        period_end=fact.period_end,
        expires=expires,
        **extra,
    )


def _points(fact: PointsChanged, rules: Rules, user: User) -> list[Webhook]:
    system = rules.points.get(fact.system)
    if system is None:
        return []
    hooks: list[Webhook] = []
    if fact.added:
        change = event_points([fact], rules, fact.time_ms)[system.key]
        hooks.append(PointsChangedHook(type="points.changed", user=user, points=change))
    if fact.level != fact.previous_level:
        hooks.append(
            LevelChangedHook(
                type="points.level_changed",
                user=user,
                points=PointsTotal(**system_base(system), total=fact.total),
                previous_level=level_of(system, fact.previous_level),
                new_level=level_of(system, fact.level),
            )
        )
    return hooks


def _rank(fact: RankChanged, rules: Rules, user: User) -> list[Webhook]:
    board = rules.leaderboards.get(fact.board)
    if board is None or fact.rank == fact.previous_rank:
        return []
    change = BoardRankChange(
        **board_fields(board, rules, "active"),
        rank=fact.rank,
        value=_shown(fact.rank, fact.value),
        previous_rank=fact.previous_rank,
        previous_value=_shown(fact.previous_rank, fact.previous_value),
    )
    return [RankChangedHook(type="leaderboard.rank_changed", user=user, leaderboard=change)]


def _shown(rank: int | None, value: Any) -> int | None:
    """Trophy's value: null when not on the board, else its integer (rounded down)."""
    return None if rank is None or value is None else whole(value)
