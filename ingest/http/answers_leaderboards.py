"""Trophy's leaderboard answers as msgspec Structs (built by `ingest.http.api_leaderboards`,
encoded and turned into OpenAPI component schemas like `ingest.http.answers`). A board's id
is its key in the rules file; values are Trophy's integers (rounded down)."""

from __future__ import annotations

from msgspec import UNSET, UnsetType

from ingest.http.answer_parts import Answer, Day, KeyValue, Timestamp
from processors.core.leaderboards import Status
from schemas.rules import RankBy, RunUnit


class Leaderboard(Answer, kw_only=True):
    """Trophy's `LeaderboardResponse` with `status` (its `LeaderboardsAllResponseItem`):
    only the rank-by pair of what the board ranks by (Trophy types them as strings, never
    null); `maxParticipants` is always a number (Trophy's Node SDK refuses null)."""

    id: str
    key: str
    name: str
    description: str | None
    rank_by: RankBy
    metric_key: str | UnsetType = UNSET
    metric_name: str | UnsetType = UNSET
    points_system_key: str | UnsetType = UNSET
    points_system_name: str | UnsetType = UNSET
    status: Status
    breakdown_attribute: str | None
    breakdown_attributes: list[str]
    start: Day
    end: Day | None
    start_time: str | None
    end_time: str | None
    max_participants: int
    run_unit: RunUnit | None
    run_interval: int | None
    user_attributes: list[KeyValue]


class LeaderboardRanking(Answer):
    """Trophy's `LeaderboardRanking`."""

    user_id: str
    user_name: str | None
    rank: int
    value: int


class LeaderboardEvent(Answer):
    """Trophy's `LeaderboardEvent`: a UTC day's rank and value before and after (null when
    not on the board); the deprecated `timestamp` is the day's start."""

    date: Day
    timestamp: Timestamp
    previous_rank: int | None
    rank: int | None
    previous_value: int | None
    value: int | None


class LeaderboardWithRankings(Leaderboard, kw_only=True):
    """Trophy's `LeaderboardResponseWithRankings`: a page of the run's ranking."""

    rankings: list[LeaderboardRanking]


class UserLeaderboard(Leaderboard, kw_only=True):
    """Trophy's `UserLeaderboardResponseWithHistory`: the user's rank and value (both null
    when not on the board) and the history."""

    rank: int | None
    value: int | None
    history: list[LeaderboardEvent]


class EventLeaderboard(Leaderboard, kw_only=True):
    """Trophy's `MetricEventLeaderboardResponse`: a board a write moved the user on, with the
    run it counted in (`start`, `end`), the ranks after and before, the threshold a newcomer
    must exceed (0 where any value enters), and the user's group on a breakdown board."""

    rank: int | None
    previous_rank: int | None
    threshold: int
    breakdown_attribute_value: str | UnsetType = UNSET  # one breakdown attribute
    breakdown_attribute_values: list[KeyValue] | UnsetType = UNSET


LEADERBOARD_ANSWERS = (
    Leaderboard,
    LeaderboardRanking,
    LeaderboardEvent,
    LeaderboardWithRankings,
    UserLeaderboard,
    EventLeaderboard,
)
