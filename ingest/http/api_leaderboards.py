"""The HTTP API's leaderboard shapes (Trophy's `LeaderboardResponse`, `LeaderboardRanking`,
`UserLeaderboardResponseWithHistory`; see the `trophy` SDK's `types/`) and the query
parameters of the three leaderboard reads. Pure: no Redis, no clock (the status and the run
are decided by the caller, `ingest.routes_leaderboards`).

A board's id is its key in the rules file. Podium keeps no creation date of a board, so a
board without a `start` answers the epoch's date as its start (as a points trigger's
`created` is the epoch). Values are integers in Trophy's shapes: a decimal score is rendered
rounded down (`floor`), while the rank stays the exact position of the ranking, which orders
the exact decimals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from ingest.http import answers_leaderboards as out
from ingest.http.answer_parts import KeyValue
from ingest.http.api import attributes_param, bool_param, int_param
from ingest.http.requests import ApiError, bad
from processors.core.leaderboards import Status
from schemas.leaderboards import RankChanged
from schemas.rules import Leaderboard, Rules
from schemas.tenants import split_group
from schemas.views import HISTORY_DAYS, HistoryDay

MAX_OFFSET = 2**31 - 1  # beyond every ranking; Redis takes 64-bit positions only
# `maxParticipants` of a board without a cap: Trophy's type is a number and its Node SDK
# refuses null, so the largest offset a page can ask for (no position is beyond the cap);
# above any cap a rules file can set (`MAX_PARTICIPANTS`), so it cannot be mistaken for one
NO_CAP = MAX_OFFSET
DEFAULT_LIMIT = 10
MAX_LIMIT = 1000  # Trophy: rankings per page (and its participant cap)
DEFAULT_EVENTS = 10
MAX_EVENTS = HISTORY_DAYS  # Trophy: days of history (100); the views keep as many
EPOCH_DAY = "1970-01-01"  # the start of a board that has no start date


def _day(ordinal: int | None) -> str | None:
    return None if ordinal is None else date.fromordinal(ordinal).isoformat()


def _clock(minute: int | None) -> str | None:
    return None if minute is None else f"{minute // 60:02d}:{minute % 60:02d}"


def _ranked_by(board: Leaderboard, rules: Rules) -> dict[str, str]:
    """`metricKey`/`metricName` or `pointsSystemKey`/`pointsSystemName`: only the pair of
    what the board ranks by, by `out.Leaderboard` field."""
    if board.rank_by == "metric" and board.metric is not None:
        metric = rules.metrics[board.metric]
        return {"metric_key": metric.key, "metric_name": metric.name}
    if board.rank_by == "points" and board.points is not None:
        system = rules.points[board.points]
        return {"points_system_key": system.key, "points_system_name": system.name}
    return {}


def board_fields(board: Leaderboard, rules: Rules, status: Status) -> dict[str, Any]:
    """Trophy's `LeaderboardResponse` fields with `status`, by `out.Leaderboard` field.
    `userAttributes` (participation filters) is empty: Podium's boards have none; the
    deprecated `breakdownAttribute` names the one breakdown attribute when there is one."""
    attrs = board.breakdown_attributes
    return {
        "id": board.key,
        "key": board.key,
        "name": board.name,
        "description": board.description,
        "rank_by": board.rank_by,
        **_ranked_by(board, rules),
        "status": status,
        "breakdown_attribute": attrs[0] if len(attrs) == 1 else None,
        "breakdown_attributes": list(attrs),
        "start": _day(board.start) or EPOCH_DAY,
        "end": _day(board.end),
        "start_time": _clock(board.start_time),
        "end_time": _clock(board.end_time),
        "max_participants": NO_CAP if board.max_participants is None else board.max_participants,
        "run_unit": board.run_unit,
        "run_interval": board.run_interval if board.repeating else None,
        "user_attributes": [],
    }


def board_json(board: Leaderboard, rules: Rules, status: Status) -> out.Leaderboard:
    """Trophy's `LeaderboardsAllResponseItem`."""
    return out.Leaderboard(**board_fields(board, rules, status))


def event_board_json(
    board: Leaderboard, rules: Rules, moved: RankChanged, first: int | None, last: int | None
) -> out.EventLeaderboard:
    """Trophy's `MetricEventLeaderboardResponse`: the board, the run the event counted in
    (`first`..`last`, its dates), the user's rank after and before the event, and the
    threshold: the value a newcomer must exceed to enter a full capped board, 0 where any
    value enters (not capped, or not full). A breakdown board names the user's group."""
    fields = board_fields(board, rules, "active")  # Trophy's shape requires it; it counted
    fields.update(start=_day(first) or EPOCH_DAY, end=_day(last))
    if board.breakdown_attributes:
        values = [
            KeyValue(unquote(k), unquote(v))
            for k, _, v in (part.partition("=") for part in split_group(moved.group)[1].split("&"))
        ]
        fields["breakdown_attribute_values"] = values
        if len(values) == 1:
            fields["breakdown_attribute_value"] = values[0].value
    return out.EventLeaderboard(
        **fields,
        rank=moved.rank,
        previous_rank=moved.previous_rank,
        threshold=0 if moved.threshold is None else whole(moved.threshold),
    )


def whole(value: float | Decimal) -> int:
    """A board value as Trophy's integer: rounded down (2.5 -> 2, -2.5 -> -3)."""
    return math.floor(value)


def ranking_json(user_id: str, name: str | None, rank: int, value: float) -> out.LeaderboardRanking:
    """Trophy's `LeaderboardRanking`."""
    return out.LeaderboardRanking(user_id=user_id, user_name=name, rank=rank, value=whole(value))


def _shown(rank: int | None, value: Decimal | None) -> int | None:
    """A history value as Trophy shows it: null when the participant is not on the board
    (never joined, left, or beyond the cap), like the rank; else rounded down."""
    return None if rank is None or value is None else whole(value)


def history_json(days: Sequence[HistoryDay], count: int) -> list[out.LeaderboardEvent]:
    """Trophy's `LeaderboardEvent`s: the latest `count` days, oldest first, on which the
    participant was on the board before or after (a day spent wholly off a capped board is
    not a snapshot of the board). `date` is the UTC day; the deprecated `timestamp` its
    start."""
    shown = [
        d for d in sorted(days, key=lambda d: d.day) if (d.previous_rank, d.rank) != (None, None)
    ]
    events = []
    for entry in shown[-count:] if count > 0 else []:
        day = date.fromordinal(entry.day).isoformat()
        events.append(
            out.LeaderboardEvent(
                date=day,
                timestamp=f"{day}T00:00:00.000Z",
                previous_rank=entry.previous_rank,
                rank=entry.rank,
                previous_value=_shown(entry.previous_rank, entry.previous_value),
                value=_shown(entry.rank, entry.value),
            )
        )
    return events


def user_board_json(
    fields: dict[str, Any],
    standing: tuple[int, float] | None,
    history: list[out.LeaderboardEvent],
) -> out.UserLeaderboard:
    """Trophy's `UserLeaderboardResponseWithHistory`: the board (`board_fields`), the user's
    rank and value (both null when the user is not on the board) and the history."""
    rank, value = (None, None) if standing is None else (standing[0], whole(standing[1]))
    return out.UserLeaderboard(**fields, rank=rank, value=value, history=history)


# --- query parameters (422, the status Trophy's document lists for each operation) ---------


def include_finished_param(raw: str | None) -> bool:
    return bool_param(raw, "includeFinished")


def page_params(query: Mapping[str, str]) -> tuple[int, int]:
    """`offset` (0 or more, default 0) and `limit` (0 to 1,000, default 10)."""
    offset = int_param(query.get("offset"), "offset", 0, 0, MAX_OFFSET)
    limit = int_param(query.get("limit"), "limit", DEFAULT_LIMIT, 0, MAX_LIMIT)
    return offset, limit


def events_param(raw: str | None) -> int:
    return int_param(raw, "numEvents", DEFAULT_EVENTS, 0, MAX_EVENTS)


def run_param(raw: str | None) -> int | None:
    """`run=YYYY-MM-DD`: a date in the run wanted, as an ordinal; None when absent."""
    if raw is None:
        return None
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw).toordinal()
    except ValueError:
        raise bad(f"run: expected a date as YYYY-MM-DD, got {raw[:40]!r}") from None


def breakdown_param(board: Leaderboard, raw: str | None) -> dict[str, str]:
    """`userAttributes=attr:value,...` choosing one breakdown group of the board: required
    on a board with a breakdown (one value per breakdown attribute, no other key), refused on
    a board without one (Trophy: "only valid for leaderboards with a breakdown attribute")."""
    given = attributes_param(raw) or {}
    wanted = board.breakdown_attributes
    if not wanted:
        if given:
            raise bad(f"userAttributes: leaderboard {board.key!r} has no breakdown attributes")
        return {}
    missing = [a for a in wanted if a not in given]
    extra = sorted(set(given) - set(wanted))
    if missing or extra:
        problem = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(extra)}"
        raise bad(
            f"userAttributes: leaderboard {board.key!r} is broken down by "
            f"{', '.join(wanted)}; give one value for each as attribute:value pairs ({problem})"
        )
    return given


def no_such_run(board: Leaderboard, ordinal: int) -> ApiError:
    """404 for a `run` date outside the board's dates, naming the date and the dates."""
    since, until = _day(board.start), _day(board.end)
    span = " ".join(
        part
        for part in (f"from {since}" if since else "", f"until {until}" if until else "")
        if part
    )
    return ApiError(404, f"leaderboard {board.key!r} has no run on {_day(ordinal)}: it runs {span}")
