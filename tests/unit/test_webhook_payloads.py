"""Podium's facts as Trophy's webhooks: each body validates against the webhook's schema in
Trophy's OpenAPI document (tests/trophy/application.json, section `webhooks`), and carries the
figures written here by hand from the fact and the rules (tests/rules/node.toml); Trophy's
Python SDK parses each with its own webhook model."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
import trophy
from trophy.core.pydantic_utilities import parse_obj_as

from deploy.settings import REPO_DIR
from ingest.webhooks.payloads import SENT_TYPES, Fact, Outgoing, bare_user, webhooks_of
from schemas.leaderboards import RankChanged
from schemas.records import AchievementCompleted, PointsAward, PointsChanged, StreakChanged
from schemas.rules_parse import load_rules
from tests.rules import NODE_PATH

DOCUMENT = json.loads((REPO_DIR / "tests" / "trophy" / "application.json").read_bytes())
RULES = load_rules(NODE_PATH)
USER = bare_user("ann", 1_700_000_000_000)
T = 1_765_000_000_000  # 2025-12-06T05:46:40Z


def schema_of(webhook_type: str) -> dict[str, Any]:
    """The webhook's body schema, with the document's components to resolve its $refs."""
    post = DOCUMENT["webhooks"][webhook_type]["post"]
    schema = dict(post["requestBody"]["content"]["application/json"]["schema"])
    return {**schema, "components": DOCUMENT["components"]}


def sdk_model(webhook_type: str) -> Any:
    """The payload's model in Trophy's Python SDK: `streak.freeze_consumed` ->
    `WebhooksStreakFreezeConsumedPayload`."""
    words = re.split(r"[._]", webhook_type)
    return getattr(trophy, "Webhooks" + "".join(w.capitalize() for w in words) + "Payload")


def sent(fact: Fact) -> list[dict[str, Any]]:
    hooks = webhooks_of(fact, RULES, USER)
    for hook in hooks:
        body = json.loads(hook.body)
        assert body["type"] == hook.type
        jsonschema.validate(body, schema_of(hook.type), cls=jsonschema.Draft202012Validator)
        parse_obj_as(sdk_model(hook.type), body)  # and Trophy's Python SDK reads it
    return [json.loads(h.body) for h in hooks]


def streak(kind: str, length: int, freezes: int | None = 1) -> StreakChanged:
    return StreakChanged(
        id=f"ann:streak:{kind}:2025-12-06",
        kind=kind,  # type: ignore[arg-type]
        user_id="ann",
        event_id="e1",
        time_ms=T,
        length=length,
        longest=length,
        frequency="daily",
        started="2025-12-04",
        period_start="2025-12-06",
        period_end="2025-12-06",
        freezes=freezes,
    )


def test_every_type_podium_sends_is_one_of_trophys_18() -> None:
    assert len(DOCUMENT["webhooks"]) == 18
    assert set(SENT_TYPES) <= set(DOCUMENT["webhooks"])


def test_an_achievement_completed() -> None:
    fact = AchievementCompleted(
        id="ann:first-words",
        user_id="ann",
        achievement="first-words",
        achieved_at_ms=T,
        trigger="metric",
        event_id="e1",
        metric="words-written",
        metric_value=Decimal(1),
    )
    (body,) = sent(fact)
    assert body["type"] == "achievement.completed"
    assert body["user"]["id"] == "ann"
    ach = body["achievement"]
    assert (ach["key"] if "key" in ach else ach["id"]) == "first-words"
    assert ach["name"] == "First words"
    assert ach["achievedAt"] == "2025-12-06T05:46:40.000Z"
    assert ach["badgeUrl"] == "https://example.com/badges/first-words.png"


def test_an_achievement_the_rules_no_longer_have_sends_nothing() -> None:
    fact = AchievementCompleted(
        id="ann:gone",
        user_id="ann",
        achievement="gone",
        achieved_at_ms=T,
        trigger="api",
        event_id="e",
    )
    assert webhooks_of(fact, RULES, USER) == []


def test_a_streak_started_and_extended_show_the_streak_after() -> None:
    (started,) = sent(streak("started", 1))
    assert started["type"] == "streak.started"
    # daily: period 2025-12-06 kept, so it expires at the end of the next day
    assert started["streak"] == {
        "length": 1,
        "frequency": "daily",
        "started": "2025-12-04",
        "periodStart": "2025-12-06",
        "periodEnd": "2025-12-06",
        "expires": "2025-12-07",
        "freezes": 1,
        "maxFreezes": 2,
        "freezeAutoEarnInterval": 7,
        "freezeAutoEarnAmount": 1,
    }
    (extended,) = sent(streak("extended", 3))
    assert extended["type"] == "streak.extended" and extended["streak"]["length"] == 3


def test_a_streak_lost_and_the_freezes() -> None:
    (lost,) = sent(streak("lost", 7))
    assert {k: lost[k] for k in ("type", "length")} == {"type": "streak.lost", "length": 7}
    (used,) = sent(streak("freeze_consumed", 4, freezes=0))
    assert (used["type"], used["consumed"], used["freezes"]) == ("streak.freeze_consumed", 1, 0)
    (earned,) = sent(streak("freeze_earned", 4, freezes=2))
    assert (earned["type"], earned["earned"], earned["freezes"]) == ("streak.freeze_earned", 1, 2)


def points(added: int, total: int, previous: str | None, level: str | None) -> PointsChanged:
    award = PointsAward(
        id="ann:points:xp:per-10-words:e1",
        trigger="per-10-words",
        points=added,
        time_ms=T,
        total=total,
    )
    return PointsChanged(
        id=award.id,
        user_id="ann",
        system="xp",
        event_id="e1",
        time_ms=T,
        total=total,
        added=added,
        awards=(award,),
        previous_level=previous,
        level=level,
    )


def test_points_changed_without_a_level_change() -> None:
    (body,) = sent(points(2, 6, "novice", "novice"))
    assert body["type"] == "points.changed"
    assert (body["points"]["key"], body["points"]["total"], body["points"]["added"]) == ("xp", 6, 2)
    (award,) = body["points"]["awards"]
    assert (award["awarded"], award["total"], award["trigger"]["id"]) == (2, 6, "per-10-words")


def test_a_level_change_sends_both_types_changed_first() -> None:
    changed, level = sent(points(5, 12, "novice", "writer"))
    assert changed["type"] == "points.changed"
    assert level["type"] == "points.level_changed"
    assert level["points"]["total"] == 12
    assert level["previousLevel"]["key"] == "novice" and level["previousLevel"]["points"] == 0
    assert level["newLevel"]["key"] == "writer" and level["newLevel"]["points"] == 10


def rank(previous: int | None, now: int | None) -> RankChanged:
    return RankChanged(
        id="ann:score:top-writers:all::e1:rank",
        cause="ann:score:top-writers:all::e1",
        board="top-writers",
        run="all",
        group="",
        user_id="ann",
        time_ms=T,
        previous_rank=previous,
        rank=now,
        previous_value=None if previous is None else Decimal("40.5"),
        value=Decimal("52.9"),
        reached_ms=T,
        participants=3,
    )


def test_a_rank_change() -> None:
    (body,) = sent(rank(3, 1))
    board = body["leaderboard"]
    assert body["type"] == "leaderboard.rank_changed"
    assert (board["key"], board["rank"], board["previousRank"]) == ("top-writers", 1, 3)
    assert (board["value"], board["previousValue"]) == (52, 40)  # Trophy's integers, rounded down
    (joined,) = sent(rank(None, 2))
    assert (joined["leaderboard"]["previousRank"], joined["leaderboard"]["previousValue"]) == (
        None,
        None,
    )


def test_a_score_that_keeps_its_rank_sends_nothing() -> None:
    assert webhooks_of(rank(2, 2), RULES, USER) == []


@pytest.mark.parametrize("backfilled", [False, True])
def test_a_webhook_keeps_the_facts_id_and_backfilled_flag(backfilled: bool) -> None:
    fact = AchievementCompleted(
        id="ann:published",
        user_id="ann",
        achievement="published",
        achieved_at_ms=T,
        trigger="api",
        event_id="e",
        backfilled=backfilled,
    )
    (hook,) = webhooks_of(fact, RULES, USER)
    assert isinstance(hook, Outgoing)
    assert (hook.fact_id, hook.user_id, hook.backfilled) == ("ann:published", "ann", backfilled)
