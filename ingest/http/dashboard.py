"""The live page's answers (`ingest.routes_dashboard`), as msgspec Structs, and the pure rule
that turns a fact of the derived topics into a line of its live feed. No I/O here.

The feed shows what a person watching wants to see happen: achievements unlocked, streaks
started, extended, lost or frozen, level changes and rank changes. A points award that changes
no level and a score that moves nobody are left out (the boards on the page show them at
their next refresh), and so is every fact flagged `backfilled`: a replay's catch-up is not
something happening now.
"""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from ingest.http.answers import AchievementWithStats
from ingest.http.answers_leaderboards import LeaderboardRanking
from ingest.http.answers_points import PointsLevelUsers
from schemas.leaderboards import RankChanged
from schemas.records import AchievementCompleted, PointsChanged, StreakChanged
from schemas.rules import Rules
from schemas.tenants import split_group, split_user

FeedKind = Literal["achievement", "streak", "level", "rank"]
Fact = AchievementCompleted | StreakChanged | PointsChanged | RankChanged


class Camel(Struct, rename="camel"):
    pass


class Place(Camel):
    """The named user's place on a board: rank (1 is first) and value."""

    rank: int
    value: int


class BoardTop(Camel):
    """A board's run as the page shows it: its top ten and the named user's place. `run` is
    the run's first day (None: a perpetual board); `note` says why `top` is empty when it is
    (a breakdown board needs a named user's group)."""

    key: str
    name: str
    status: str
    run: str | None
    top: list[LeaderboardRanking]
    user: Place | None = None
    note: str | None = None


class UserPoints(Camel):
    """The named user's total and level in a points system."""

    total: int
    level: str | None


class PointsOverview(Camel):
    key: str
    name: str
    levels: list[PointsLevelUsers]
    user: UserPoints | None = None


class Overview(Camel):
    """Everything the page shows but the feed and health, read at once."""

    boards: list[BoardTop]
    achievements: list[AchievementWithStats]
    points: list[PointsOverview]
    user_id: str | None
    user_found: bool


class FeedItem(Camel):
    """One line of the live feed: who, what (`text` follows the user's name), when."""

    id: str  # the fact's id: the page drops one it has shown
    kind: FeedKind
    user_id: str  # as the page's tenant knows the user
    time_ms: int
    text: str
    user_name: str | None = None


class GroupHealth(Camel):
    """A consumer group of the pipeline: its processes (members) and how far behind it is."""

    process: str
    group: str
    topic: str
    members: int
    lag: int | None  # records not yet processed; None: never committed


class PipelineHealth(Camel):
    """What the broker says of the pipeline's processes, and the dead letters parked."""

    groups: list[GroupHealth]
    dead_letters: int
    checked_ms: int


class Health(Camel):
    """The gateway's own checks (as /ready), the pipeline as the broker sees it, the feed."""

    gateway: dict[str, bool]
    pipeline: PipelineHealth | None
    pipeline_error: str | None
    feed_readers: int
    feed_pages: int
    note: str


def _plural(n: int, one: str) -> str:
    return f"{n} {one}" if n == 1 else f"{n} {one}s"


def _streak_text(fact: StreakChanged) -> str:
    unit = {"daily": "day", "weekly": "week", "monthly": "month"}[fact.frequency]
    match fact.kind:
        case "started":
            return "started a streak"
        case "extended":
            return f"extended their streak to {_plural(fact.length, unit)}"
        case "lost":
            return f"lost their {fact.length}-{unit} streak"
        case "freeze_consumed":
            return "used a streak freeze"
        case _:
            return "earned a streak freeze"


def _level_text(fact: PointsChanged, rules: Rules) -> str | None:
    system = rules.points.get(fact.system)
    if system is None or fact.level == fact.previous_level:
        return None
    levels = {lv.key: lv for lv in system.levels}
    new = levels.get(fact.level) if fact.level is not None else None
    old = levels.get(fact.previous_level) if fact.previous_level is not None else None
    if new is None:
        return f"dropped below every level of {system.name}"
    up = old is None or new.points > old.points
    return f"{'reached' if up else 'dropped to'} level {new.name} in {system.name}"


def _rank_text(fact: RankChanged, rules: Rules) -> str | None:
    board = rules.leaderboards.get(fact.board)
    if board is None or fact.rank == fact.previous_rank:
        return None
    if fact.rank is None:
        return f"dropped off {board.name}"
    if fact.previous_rank is None:
        return f"joined {board.name} at #{fact.rank}"
    way = "up" if fact.rank < fact.previous_rank else "down"
    return f"moved {way} to #{fact.rank} on {board.name} (was #{fact.previous_rank})"


def _text(fact: Fact, rules: Rules) -> tuple[FeedKind, str] | None:
    if isinstance(fact, AchievementCompleted):
        ach = rules.achievements.get(fact.achievement)
        return "achievement", f"unlocked {ach.name if ach else fact.achievement}"
    if isinstance(fact, StreakChanged):
        return "streak", _streak_text(fact)
    if isinstance(fact, PointsChanged):
        level = _level_text(fact, rules)
        return None if level is None else ("level", level)
    rank = _rank_text(fact, rules)
    return None if rank is None else ("rank", rank)


def _time_ms(fact: Fact) -> int:
    return fact.achieved_at_ms if isinstance(fact, AchievementCompleted) else fact.time_ms


def feed_item(fact: Fact, rules: Rules) -> tuple[str | None, FeedItem] | None:
    """The feed's line for `fact` and the tenant whose page may show it (None: the default
    tenant); None when the feed does not show the fact."""
    if fact.backfilled:
        return None
    said = _text(fact, rules)
    if said is None:
        return None
    tenant, user = split_user(fact.user_id)
    if isinstance(fact, RankChanged):  # a ranking's tenant is in its group
        tenant = split_group(fact.group)[0]
    kind, text = said
    return tenant, FeedItem(id=fact.id, kind=kind, user_id=user, time_ms=_time_ms(fact), text=text)
