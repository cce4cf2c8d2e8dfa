"""The live feed's lines (`ingest.http.dashboard.feed_item`): which facts the page shows, in
what words, and for which tenant. The expected lines are written by hand from the rules of
tests/rules/dashboard.toml (levels Novice from 0 XP and Writer from 50; the board "Top
writers"; the achievement "Novella")."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ingest.http.dashboard import FeedItem, feed_item
from schemas.leaderboards import RankChanged
from schemas.records import AchievementCompleted, PointsChanged, StreakChanged
from schemas.rules_parse import load_rules
from schemas.tenants import qualify, tenant_group
from schemas.values import replace
from tests.rules import DASHBOARD_PATH

RULES = load_rules(DASHBOARD_PATH)
T = 1_764_547_200_000


def achievement(user: str, key: str = "novella") -> AchievementCompleted:
    return AchievementCompleted(
        id=f"{user}:ach:{key}",
        user_id=user,
        achievement=key,
        achieved_at_ms=T,
        trigger="metric",
        event_id="e1",
    )


def streak(kind: str, length: int, frequency: str = "daily") -> StreakChanged:
    return StreakChanged(
        id=f"ada:streak:{kind}",
        kind=kind,  # type: ignore[arg-type]
        user_id="ada",
        event_id="e1",
        time_ms=T + 1,
        length=length,
        longest=length,
        frequency=frequency,  # type: ignore[arg-type]
        started=None,
        period_start="2025-12-01",
        period_end="2025-12-01",
    )


def points(before: str | None, after: str | None) -> PointsChanged:
    return PointsChanged(
        id="ada:points:xp:e1",
        user_id="ada",
        system="xp",
        event_id="e1",
        time_ms=T,
        total=60,
        added=10,
        awards=(),
        previous_level=before,
        level=after,
    )


def rank(before: int | None, after: int | None, group: str = "") -> RankChanged:
    return RankChanged(
        id="s1:rank",
        cause="s1",
        board="top-writers",
        run="all",
        group=group,
        user_id="ada",
        time_ms=T,
        previous_rank=before,
        rank=after,
        previous_value=None,
        value=Decimal(600),
        reached_ms=T,
        participants=2,
    )


def line(fact: object) -> str | None:
    found = feed_item(fact, RULES)  # type: ignore[arg-type]
    return None if found is None else found[1].text


def test_an_achievement_is_a_line_of_its_users_tenant() -> None:
    found = feed_item(achievement(qualify("acme", "ada")), RULES)
    assert found == (
        "acme",
        FeedItem(
            id="acme\x00ada:ach:novella",
            kind="achievement",
            user_id="ada",
            time_ms=T,
            text="unlocked Novella",
        ),
    )
    assert feed_item(achievement("ada"), RULES) is not None
    assert feed_item(achievement("ada"), RULES)[0] is None  # type: ignore[index]


@pytest.mark.parametrize(
    ("kind", "length", "frequency", "text"),
    [
        ("started", 1, "daily", "started a streak"),
        ("extended", 1, "daily", "extended their streak to 1 day"),
        ("extended", 3, "daily", "extended their streak to 3 days"),
        ("lost", 5, "weekly", "lost their 5-week streak"),
        ("freeze_consumed", 4, "daily", "used a streak freeze"),
        ("freeze_earned", 4, "monthly", "earned a streak freeze"),
    ],
)
def test_streak_lines(kind: str, length: int, frequency: str, text: str) -> None:
    assert line(streak(kind, length, frequency)) == text


def test_a_level_change_is_a_line_and_points_alone_are_not() -> None:
    assert line(points(None, "novice")) == "reached level Novice in XP"
    assert line(points("novice", "writer")) == "reached level Writer in XP"
    assert line(points("writer", "novice")) == "dropped to level Novice in XP"
    assert line(points("novice", None)) == "dropped below every level of XP"
    assert line(points("writer", "writer")) is None


def test_a_rank_change_is_a_line_and_a_score_alone_is_not() -> None:
    assert line(rank(None, 3)) == "joined Top writers at #3"
    assert line(rank(2, 1)) == "moved up to #1 on Top writers (was #2)"
    assert line(rank(1, 4)) == "moved down to #4 on Top writers (was #1)"
    assert line(rank(5, None)) == "dropped off Top writers"
    assert line(rank(1, 1)) is None


def test_a_rankings_tenant_is_its_groups() -> None:
    found = feed_item(rank(None, 1, tenant_group("acme", "")), RULES)
    assert found is not None and found[0] == "acme" and found[1].user_id == "ada"


def test_backfilled_facts_are_not_shown() -> None:
    facts = [achievement("ada"), streak("started", 1), points(None, "novice"), rank(None, 1)]
    assert all(line(f) is not None for f in facts)
    assert all(line(replace(f, backfilled=True)) is None for f in facts)
