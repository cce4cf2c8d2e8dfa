"""Achievement rules: metric, streak, API, anniversary and composite. Pure; completion is
permanent.

Each function returns the newly completed achievements as `AchievementCompleted` records
(`podium.achievements`); the fold merges them into the user's state.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from datetime import MAXYEAR, date
from decimal import Decimal
from functools import lru_cache

from processors.core.moment import Moment, matches
from schemas.commands import iso_date
from schemas.records import AchievementCompleted
from schemas.rules import Achievement, Rules


def _completed(
    ach: Achievement, moment: Moment, total: Decimal | None = None, length: int | None = None
) -> AchievementCompleted:
    return AchievementCompleted(
        id=f"{moment.user_id}:{ach.key}",
        user_id=moment.user_id,
        achievement=ach.key,
        achieved_at_ms=moment.time_ms,
        trigger=ach.trigger,
        event_id=moment.event_id,
        metric=ach.metric,
        metric_value=total,
        streak_length=length,
    )


def on_metric(
    done: Mapping[str, int],
    rules: Rules,
    metric: str,
    total: Decimal,
    event_attributes: Mapping[str, str] | None,
    moment: Moment,
) -> list[AchievementCompleted]:
    """Metric achievements of `metric` whose target the total has reached.

    `event_attributes` None means "not an event" (a profile change): achievements with an
    event-attribute filter are then left for the next matching event.
    """
    candidates = rules.by_metric.get(metric)
    if not candidates:
        return []
    out: list[AchievementCompleted] = []
    for ach in candidates:
        if ach.key in done or total < ach.metric_value:  # type: ignore[operator]
            continue
        if ach.event_attributes and (
            event_attributes is None or not matches(ach.event_attributes, event_attributes)
        ):
            continue
        if not ach.user_attributes or matches(ach.user_attributes, moment.attributes):
            out.append(_completed(ach, moment, total=total))
    return out


def on_streak(
    done: Mapping[str, int], rules: Rules, length: int, moment: Moment
) -> list[AchievementCompleted]:
    out: list[AchievementCompleted] = []
    for ach in rules.streak_achievements:  # shortest first
        if length < ach.streak_length:  # type: ignore[operator]
            break
        if ach.key not in done and (
            not ach.user_attributes or matches(ach.user_attributes, moment.attributes)
        ):
            out.append(_completed(ach, moment, length=length))
    return out


def on_api(
    done: Mapping[str, int], rules: Rules, key: str, moment: Moment
) -> list[AchievementCompleted]:
    ach = rules.achievements.get(key)
    if ach is None or ach.trigger != "api" or key in done:
        return []
    if not matches(ach.user_attributes, moment.attributes):
        return []
    return [_completed(ach, moment)]


@lru_cache(maxsize=16_384)
def anniversary_day(sign_up: str, years: int) -> int | None:
    """The date (ordinal) `years` years after the sign-up date `sign_up` (YYYY-MM-DD): the
    same month and day, except that a 29 February sign-up has its anniversary on 28 February
    in a common year (the anniversary never leaves the sign-up's month, as adding years does
    in most date libraries). None when `sign_up` is not such a date, or the day would fall
    after the calendar's last year."""
    signed = iso_date(sign_up)
    if signed is None:
        return None
    year = signed.year + years
    if year > MAXYEAR:
        return None
    day = min(signed.day, calendar.monthrange(year, signed.month)[1])
    return date(year, signed.month, day).toordinal()


def on_anniversary(
    done: Mapping[str, int], rules: Rules, sign_up: str | None, moment: Moment
) -> list[AchievementCompleted]:
    """Anniversary achievements whose day (sign-up date + N years) the user's local date at
    the moment (`moment.day`, in the user's zone) has reached. A user without a sign-up date
    completes none: Trophy says such users are not eligible."""
    out: list[AchievementCompleted] = []
    if sign_up is None:
        return out
    for ach in rules.anniversaries:  # fewest years first, so the days come in order
        due = anniversary_day(sign_up, ach.anniversary_years)
        if due is None or moment.day < due:
            break
        if ach.key not in done and (
            not ach.user_attributes or matches(ach.user_attributes, moment.attributes)
        ):
            out.append(_completed(ach, moment))
    return out


def on_composites(
    done: Mapping[str, int],
    new: Iterable[AchievementCompleted],
    rules: Rules,
    moment: Moment,
) -> list[AchievementCompleted]:
    """Composites whose parts are all complete, counting this command's completions (`new`).

    `rules.composites` is in dependency order, so a composite of composites completes in the
    same command as its last part.
    """
    if not rules.composites:
        return []
    fresh: set[str] = set()
    for rec in new:
        fresh.add(rec.achievement)
    parts = rules.composite_parts
    out: list[AchievementCompleted] = []
    for ach in rules.composites:
        if ach.key in done or ach.key in fresh:
            continue
        # A plain loop over the few parts: cheaper than a set difference per composite.
        for part in parts[ach.key]:
            if part not in done and part not in fresh:
                break
        else:
            if not ach.user_attributes or matches(ach.user_attributes, moment.attributes):
                out.append(_completed(ach, moment))
                fresh.add(ach.key)
    return out


def merged(done: Mapping[str, int], new: Iterable[AchievementCompleted]) -> dict[str, int]:
    out = dict(done)
    for rec in new:
        out[rec.achievement] = rec.achieved_at_ms
    return out
