"""The parts of Trophy's `WrappedResponse` (`ingest.http.answers_wrapped`) for one metric,
points system or streak, and the `year` parameter. Pure: the figures come from
`processors.core.wrapped`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from msgspec import UNSET

from ingest.http.answers_wrapped import WrappedMetric, WrappedPoints, WrappedStreak
from ingest.http.api import ApiError, number
from processors.core.wrapped import Figures, StreakRun
from schemas.records import Frequency
from schemas.rules import Metric, PointsSystem


def iso(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def _iso(ordinal: int | None) -> str | None:
    return None if ordinal is None else iso(ordinal)


def _figures(f: Figures, percentile: float | None) -> dict[str, Any]:
    """The figures of a metric or points system, by `WrappedMetric` / `WrappedPoints` field."""
    return {
        "current_total": number(f.total),
        "change_this_period": number(f.change),
        "percent_change": number(f.percent),
        "percentile_this_period": UNSET if percentile is None else percentile,
    }


def metric_json(metric: Metric, f: Figures, percentile: float | None) -> WrappedMetric:
    """Trophy's `WrappedMetric`."""
    return WrappedMetric(
        name=metric.name, units=metric.unit, **_figures(f, percentile), by_attribute={}
    )


def points_json(system: PointsSystem, f: Figures, percentile: float | None) -> WrappedPoints:
    """Trophy's `WrappedPoints`."""
    return WrappedPoints(
        name=system.name, description=system.description, **_figures(f, percentile)
    )


def streak_json(run: StreakRun, frequency: Frequency) -> WrappedStreak:
    """Trophy's `WrappedStreak`."""
    return WrappedStreak(
        length=run.length,
        frequency=frequency,
        period_start=_iso(run.period_start),
        period_end=_iso(run.period_end),
        started=_iso(run.started),
    )


def year_param(raw: str | None, current: int) -> int:
    """`year`: an integer from 1 to the current year (absent: the current year); 422 naming
    the parameter otherwise (the client error Trophy's document lists for the operation)."""
    if raw is None:
        return current
    expected = f"year: expected an integer from 1 to {current}"
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        raise ApiError(422, f"{expected}, got {raw[:40]!r}")
    year = int(raw)
    if not 1 <= year <= current:
        raise ApiError(422, f"{expected}, got {year}")
    return year
