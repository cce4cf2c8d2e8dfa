"""The HTTP API's wrapped shapes (Trophy's `WrappedResponse` and its parts; see the `trophy`
SDK's `types/wrapped_*.py`). Pure: the figures come from `processors.core.wrapped`.

Podium keeps no per-attribute totals and no rank history, so `byAttribute` is `{}` and a
period's `leaderboards` is `{}` (docs/trophy-conformance.md). `percentileThisPeriod` is only
there when Podium has the distribution: for the entire year.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ingest.http.api import ApiError, number
from processors.core.wrapped import Figures, StreakRun
from schemas.rules import Metric, PointsSystem


def iso(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def _iso(ordinal: int | None) -> str | None:
    return None if ordinal is None else iso(ordinal)


def _figures(f: Figures, percentile: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "currentTotal": number(f.total),
        "changeThisPeriod": number(f.change),
        "percentChange": number(f.percent),
    }
    if percentile is not None:
        out["percentileThisPeriod"] = percentile
    return out


def metric_json(metric: Metric, f: Figures, percentile: float | None) -> dict[str, Any]:
    """Trophy's `WrappedMetric`."""
    return {
        "name": metric.name,
        "units": metric.unit,
        **_figures(f, percentile),
        "byAttribute": {},
    }


def points_json(system: PointsSystem, f: Figures, percentile: float | None) -> dict[str, Any]:
    """Trophy's `WrappedPoints`."""
    return {"name": system.name, "description": system.description, **_figures(f, percentile)}


def streak_json(run: StreakRun, frequency: str) -> dict[str, Any]:
    """Trophy's `WrappedStreak`."""
    return {
        "length": run.length,
        "frequency": frequency,
        "periodStart": _iso(run.period_start),
        "periodEnd": _iso(run.period_end),
        "started": _iso(run.started),
    }


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
