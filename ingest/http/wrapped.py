"""Trophy's `WrappedResponse`: a user's year in review, built from the user's view document
with the pure computations of `processors.core.wrapped` (which says where Trophy is silent)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from ingest.http import api_wrapped
from ingest.http.answers_wrapped import (
    WrappedActivity,
    WrappedEntireYear,
    WrappedMostActiveDay,
    WrappedMostActiveMonth,
    WrappedMostActiveWeek,
    WrappedResponse,
    WrappedStreak,
)
from ingest.http.api import achievement_json, user_json
from processors.core.periods import local_ordinal, period_bounds
from processors.core.summaries import KeptDay
from processors.core.wrapped import (
    Kept,
    StreakNow,
    activity,
    figures,
    longest_streak,
    year_bounds,
)
from schemas.rules import Rules
from schemas.views import Points, UserView

Percentiles = Mapping[tuple[str, str], float]  # ("metric" | "points", key) -> the year's


class Sources(NamedTuple):
    """What a user's view document holds for wrapped, read once."""

    metrics: dict[str, list[KeptDay]]
    points: dict[str, list[KeptDay]]
    totals: dict[str, Decimal]  # "metric:key" / "points:key" -> the total now
    done: list[tuple[int, int, str]]  # (local day, achievedAt ms, key), oldest first


def _points(view: UserView, system: str) -> Points:
    return view.points.get(system) or Points(total=0)


def sources(view: UserView, rules: Rules) -> Sources:
    """The kept days of every metric and points system of the rules, the totals now and the
    achievements by local day (in the user's zone now) from a view document."""
    metrics = {
        m: [KeptDay(d.day.toordinal(), d.added, d.total) for d in view.metric_days.get(m, ())]
        for m in rules.metrics
    }
    points = {
        s: [KeptDay(d.day.toordinal(), Decimal(d.added), Decimal(d.total)) for d in kept.days]
        for s, kept in ((s, _points(view, s)) for s in rules.points)
    }
    totals = {f"metric:{m}": view.totals.get(m, Decimal(0)) for m in rules.metrics}
    totals.update({f"points:{s}": Decimal(_points(view, s).total) for s in rules.points})
    done = sorted(
        (local_ordinal(ms, view.tz), ms, k)
        for k, ms in view.achievements.items()
        if k in rules.achievements
    )
    return Sources(metrics, points, totals, done)


def period_fields(
    src: Sources, rules: Rules, first: int, last: int, percentiles: Percentiles | None = None
) -> dict[str, Any]:
    """Trophy's `WrappedActivityPeriod` fields over the local dates `first`..`last`."""
    pct = percentiles or {}
    return {
        "metrics": {
            m: api_wrapped.metric_json(
                rules.metrics[m],
                figures(days, first, last, src.totals[f"metric:{m}"]),
                pct.get(("metric", m)),
            )
            for m, days in src.metrics.items()
        },
        "points": {
            s: api_wrapped.points_json(
                rules.points[s],
                figures(days, first, last, src.totals[f"points:{s}"]),
                pct.get(("points", s)),
            )
            for s, days in src.points.items()
        },
        "achievements": [
            achievement_json(rules.achievements[key], rules, ms)
            for day, ms, key in src.done
            if first <= day <= last
        ],
        "leaderboards": {},
    }


def streak_of(view: UserView, rules: Rules, year: int) -> WrappedStreak:
    """Trophy's `WrappedStreak`: the year's longest, from the view's kept history."""
    frequency = rules.streak.frequency if rules.streak else "daily"
    history = [
        Kept(p.period_start.toordinal(), p.period_end.toordinal(), p.length) for p in view.history
    ]
    began = None if view.streak is None else view.streak.started
    now = StreakNow(
        0 if view.streak is None else view.streak.length,
        None if began is None else began.toordinal(),
        frequency,
        rules.week_start,
    )
    return api_wrapped.streak_json(longest_streak(history, year, now), frequency)


def wrapped_json(
    view: UserView, rules: Rules, year: int, percentiles: Percentiles
) -> WrappedResponse:
    """Trophy's `WrappedResponse` for `year` from a user's view document; `percentiles` are
    the user's in the year, per metric and points system (absent: not known)."""
    src = sources(view, rules)
    act = activity(src.metrics.values(), year, rules.week_start)
    first, last = year_bounds(year)
    month = period_bounds(year * 12 + act.month - 1, "monthly")
    iso = api_wrapped.iso
    return WrappedResponse(
        user=user_json(view),
        activity=WrappedActivity(
            days_active=act.days,
            weeks_active=act.weeks,
            months_active=act.months,
            most_active_day=WrappedMostActiveDay(
                date=iso(act.day), **period_fields(src, rules, act.day, act.day)
            ),
            most_active_week=WrappedMostActiveWeek(
                start=iso(act.week[0]),
                end=iso(act.week[1]),
                **period_fields(src, rules, *act.week),
            ),
            most_active_month=WrappedMostActiveMonth(
                month=act.month - 1, **period_fields(src, rules, *month)
            ),
            entire_year=WrappedEntireYear(
                **period_fields(src, rules, first, last, percentiles),
                longest_streak=streak_of(view, rules, year),
            ),
        ),
    )
