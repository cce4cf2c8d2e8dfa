"""Validation of the rules file's `[[leaderboards]]` into `schemas.rules.Leaderboard`.

Errors read like every other rules error, `<file>: leaderboards[1].metric: unknown metric
'word-written'`. References are checked against the rules parsed before them: a metric board
needs the metric, a streak board the `[streak]` section, a points board the points system
(`rules.points`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time
from typing import Any

from schemas.rules import (
    DEFAULT_KEEP_RUNS,
    MAX_BREAKDOWN_ATTRIBUTES,
    RANK_BY,
    RUN_UNITS,
    Leaderboard,
    Rules,
)
from schemas.rules_doc import Doc, kind_of

LEADERBOARD_KEYS = (
    "key",
    "name",
    "description",
    "rank_by",
    "metric",
    "points",
    "run_unit",
    "run_interval",
    "start",
    "end",
    "start_time",
    "end_time",
    "breakdown_attributes",
    "max_participants",
    "keep_runs",
)
PER_RANK_BY = {"metric": {"metric"}, "points": {"points"}, "streak": set()}
_HH_MM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
MAX_RUN_INTERVAL = 1000
MAX_PARTICIPANTS = 100_000_000
MAX_KEEP_RUNS = 10_000


def parse_leaderboards(d: Doc, raw: object, rules: Rules) -> dict[str, Leaderboard]:
    """The boards of a `[[leaderboards]]` array, in file order, keys unique."""
    if not isinstance(raw, list):
        raise d.error("leaderboards", "expected an array of tables ([[leaderboards]])")
    out: dict[str, Leaderboard] = {}
    index: dict[str, int] = {}
    for i, item in enumerate(raw):
        board = _leaderboard(d, item, f"leaderboards[{i}]", rules)
        if board.key in out:
            raise d.error(
                f"leaderboards[{i}].key",
                f"duplicate key {board.key!r} (first at leaderboards[{index[board.key]}])",
            )
        out[board.key] = board
        index[board.key] = i
    return out


def _leaderboard(d: Doc, raw: object, path: str, rules: Rules) -> Leaderboard:
    t = d.table(raw, path, LEADERBOARD_KEYS)
    key = d.string(t.get("key"), f"{path}.key", key=True)
    name = d.string(t.get("name"), f"{path}.name")
    rank_by = t.get("rank_by")
    if rank_by not in RANK_BY:
        raise d.error(
            f"{path}.rank_by", f"expected one of {', '.join(RANK_BY)}, got {kind_of(rank_by)}"
        )
    for other in set(t) & (set().union(*PER_RANK_BY.values()) - PER_RANK_BY[rank_by]):
        raise d.error(f"{path}.{other}", f"not allowed for rank_by {rank_by!r}")
    metric, points = _ranked_thing(d, t, path, rank_by, rules)
    run_unit, run_interval = _runs(d, t, path, rank_by)
    start = _date(d, t.get("start"), f"{path}.start")
    end = _date(d, t.get("end"), f"{path}.end")
    if start is not None and end is not None and end < start:
        raise d.error(f"{path}.end", "must not be before start")
    start_time, end_time = _window(d, t, path, rank_by)
    return Leaderboard(
        key=key,
        name=name,
        rank_by=rank_by,
        anchor=_anchor(run_unit, start, rules.week_start),
        description=d.string(t["description"], f"{path}.description")
        if "description" in t
        else None,
        metric=metric,
        points=points,
        run_unit=run_unit,
        run_interval=run_interval,
        start=start,
        end=end,
        start_time=start_time,
        end_time=end_time,
        breakdown_attributes=_breakdown(d, t.get("breakdown_attributes", []), path),
        max_participants=None
        if "max_participants" not in t
        else d.integer(t["max_participants"], f"{path}.max_participants", 1, MAX_PARTICIPANTS),
        keep_runs=_keep_runs(d, t, path, run_unit),
    )


def _keep_runs(d: Doc, t: Mapping[str, Any], path: str, run_unit: str | None) -> int:
    """Finished runs kept besides the current one (a perpetual board has one run)."""
    if "keep_runs" not in t:
        return DEFAULT_KEEP_RUNS
    if run_unit is None:
        raise d.error(f"{path}.keep_runs", "needs run_unit (a perpetual board has one run)")
    return d.integer(t["keep_runs"], f"{path}.keep_runs", 0, MAX_KEEP_RUNS)


def _ranked_thing(
    d: Doc, t: Mapping[str, Any], path: str, rank_by: str, rules: Rules
) -> tuple[str | None, str | None]:
    """The metric or points system the board ranks by (None, None for a streak board)."""
    if rank_by == "metric":
        metric = d.string(t.get("metric"), f"{path}.metric")
        if metric not in rules.metrics:
            raise d.error(f"{path}.metric", f"unknown metric {metric!r}")
        return metric, None
    if rank_by == "points":
        system = d.string(t.get("points"), f"{path}.points")
        if system not in rules.points:
            raise d.error(f"{path}.points", f"unknown points system {system!r}")
        return None, system
    if rules.streak is None:
        raise d.error(f"{path}.rank_by", "a streak leaderboard needs a [streak] section")
    return None, None


def _runs(d: Doc, t: Mapping[str, Any], path: str, rank_by: str) -> tuple[Any, int]:
    if "run_unit" not in t:
        if "run_interval" in t:
            raise d.error(f"{path}.run_interval", "needs run_unit (a perpetual board has none)")
        return None, 1
    unit = t["run_unit"]
    if unit not in RUN_UNITS:
        raise d.error(
            f"{path}.run_unit", f"expected one of {', '.join(RUN_UNITS)}, got {kind_of(unit)}"
        )
    if rank_by == "streak":
        raise d.error(f"{path}.run_unit", "a streak leaderboard is perpetual (no run_unit)")
    interval = d.integer(t.get("run_interval", 1), f"{path}.run_interval", 1, MAX_RUN_INTERVAL)
    return unit, interval


def _date(d: Doc, raw: object, path: str) -> int | None:
    """A TOML local date (`2025-01-06`) or the string "2025-01-06", as an ordinal."""
    if raw is None:
        return None
    if isinstance(raw, date) and not hasattr(raw, "hour"):
        return raw.toordinal()
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw).toordinal()
        except ValueError:
            pass
    raise d.error(path, f"expected a date YYYY-MM-DD, got {kind_of(raw)}")


def _minute(d: Doc, raw: object, path: str) -> int | None:
    """A time of day "HH:MM" (or a TOML local time on a whole minute) as minutes."""
    if raw is None:
        return None
    if isinstance(raw, time) and raw.second == 0 and raw.microsecond == 0:
        return raw.hour * 60 + raw.minute
    match = _HH_MM.match(raw) if isinstance(raw, str) else None
    if match is None:
        raise d.error(path, f"expected a time of day HH:MM (00:00..23:59), got {kind_of(raw)}")
    return int(match[1]) * 60 + int(match[2])


def _window(d: Doc, t: Mapping[str, Any], path: str, rank_by: str) -> tuple[int | None, int | None]:
    start = _minute(d, t.get("start_time"), f"{path}.start_time")
    end = _minute(d, t.get("end_time"), f"{path}.end_time")
    if rank_by == "streak" and (start is not None or end is not None):
        field = "start_time" if start is not None else "end_time"
        raise d.error(f"{path}.{field}", "a streak leaderboard ranks the length: no daily window")
    if start is not None and start == end:
        raise d.error(f"{path}.end_time", "must differ from start_time (an empty window)")
    return start, end


def _breakdown(d: Doc, raw: object, path: str) -> tuple[str, ...]:
    where = f"{path}.breakdown_attributes"
    if not isinstance(raw, list):
        raise d.error(where, f"expected an array of user attribute keys, got {kind_of(raw)}")
    if len(raw) > MAX_BREAKDOWN_ATTRIBUTES:
        raise d.error(where, f"at most {MAX_BREAKDOWN_ATTRIBUTES} attributes, got {len(raw)}")
    keys: list[str] = []
    for j, item in enumerate(raw):
        attr = d.string(item, f"{where}[{j}]")
        if attr in keys:
            raise d.error(f"{where}[{j}]", f"duplicate attribute {attr!r}")
        keys.append(attr)
    return tuple(keys)


def _anchor(run_unit: str | None, start: int | None, week_start: int) -> int:
    """The first day of run 0: the start date, or the calendar's origin for the unit.

    Ordinal 1 (0001-01-01) is a Monday and a 1 January, so `1 + week_start` starts day runs
    (and 7-day weeks) on the configured week start, and 1 starts month and year runs on a
    calendar boundary.
    """
    if start is not None:
        return start
    return 1 + week_start if run_unit in (None, "day") else 1
