"""Worked examples: metric totals, idempotency, users and achievements."""

from __future__ import annotations

from decimal import Decimal

from schemas.rules_parse import parse_rules
from tests.unit.fold_helpers import Run, at
from tests.unit.strategies import RULES


def test_decimal_totals_are_exact() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", "0.1")
    progress = run.track("2024-03-01T10:01", "0.2")
    assert progress.total == Decimal("0.3")
    assert str(progress.total) == "0.3"
    assert "w-tenth" in run.completed()  # target 0.3 reached exactly, no float drift


def test_negative_values_lower_the_total_but_never_revoke() -> None:
    run = Run(RULES)
    assert run.track("2024-03-01T10:00", 12).total == Decimal(12)
    assert run.state is not None and "w10" in run.state.achievements
    progress = run.track("2024-03-01T10:05", -20)
    assert progress.total == Decimal(-8)
    assert "w10" in run.state.achievements
    assert run.track("2024-03-01T10:06", 30).achievements == ()  # not completed again


def test_an_idempotency_key_repeat_changes_nothing_and_says_replayed() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", 5, key="k1")
    before = run.state
    again = run.track("2024-03-01T10:01", 5, key="k1")
    assert again.replayed and again.total == Decimal(5) and again.idempotency_key == "k1"
    assert run.state is before
    other_metric = run.track("2024-03-01T10:02", 1, "chapters", key="k1")
    assert not other_metric.replayed and other_metric.total == Decimal(1)


def test_the_same_event_id_twice_is_a_replay() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", 5, event_id="same")
    assert run.track("2024-03-01T10:00", 5, event_id="same").replayed
    assert run.state is not None and run.state.totals["words"] == Decimal(5)


def test_idempotency_keys_are_bounded_when_configured() -> None:
    rules = parse_rules("[limits]\nidempotency_keys_per_metric = 2\n[metrics.words]\n")
    run = Run(rules)
    for key in ("a", "b", "c"):
        run.track("2024-03-01T10:00", 1, key=key)
    assert run.track("2024-03-01T10:00", 1, key="c").replayed
    assert not run.track("2024-03-01T10:00", 1, key="a").replayed  # "a" was evicted
    assert run.state is not None and run.state.totals["words"] == Decimal(4)
    assert all(len(h) == 16 for h in run.state.idempotency["words"])  # compact hashes


def test_the_user_object_is_an_upsert() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", 1, tz="Europe/London", plan="free")
    run.identify("2024-03-01T11:00", team="blue")
    assert run.state is not None
    assert run.state.tz == "Europe/London"
    assert dict(run.state.attributes) == {"plan": "free", "team": "blue"}
    assert run.state.created_ms == at("2024-03-01T10:00")


def test_several_achievements_and_composites_in_one_event() -> None:
    run = Run(RULES)
    run.award("2024-03-01T09:00", "api")
    run.track("2024-03-01T10:00", 3)  # starts the streak (threshold 3 words); w-tenth
    progress = run.track("2024-03-02T10:00", 10)  # w10, streak 2, then combo, then mega
    assert [a.achievement for a in progress.achievements] == ["w10", "s2", "combo", "mega"]
    assert all(a.achieved_at_ms == at("2024-03-02T10:00") for a in progress.achievements)
    triggers = {a.achievement: a.trigger for a in progress.achievements}
    assert triggers == {
        "w10": "metric",
        "s2": "streak",
        "combo": "achievement",
        "mega": "achievement",
    }
    by_key = {a.achievement: a for a in progress.achievements}
    assert by_key["w10"].metric_value == Decimal(13) and by_key["w10"].id == "u1:w10"
    assert by_key["s2"].streak_length == 2


def test_api_achievements_complete_once_and_only_via_the_api() -> None:
    run = Run(RULES)
    assert [a.achievement for a in run.award("2024-03-01T09:00", "api").achievements] == ["api"]
    assert run.award("2024-03-01T09:01", "api").achievements == ()
    assert run.award("2024-03-01T09:02", "w10").achievements == ()  # a metric achievement
    assert run.award("2024-03-01T09:03", "unknown").achievements == ()


def test_user_attribute_filters() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", 6, plan="free")
    assert "w5-pro" not in run.completed()
    run.identify("2024-03-01T11:00", plan="pro")  # a profile change completes it
    assert run.completed() == ["w5-pro"]


def test_event_attribute_filters() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", 2, "chapters", attributes={"genre": "prose"})
    assert "c2-poetry" not in run.completed()
    run.identify("2024-03-01T10:30")  # a profile change is not a matching event
    assert "c2-poetry" not in run.completed()
    run.track("2024-03-01T11:00", 0, "chapters", attributes={"genre": "poetry"})
    assert run.completed() == ["c2-poetry"]


def test_records_start_with_one_progress_then_achievements_then_streak_then_points() -> None:
    run = Run(RULES)
    run.track("2024-03-01T10:00", 12)
    kinds = [type(r).__name__ for r in run.records]
    assert kinds == [
        "Progress",
        "AchievementCompleted",
        "AchievementCompleted",
        "StreakChanged",
        "PointsChanged",
    ]


def test_recent_event_ids_are_bounded() -> None:
    rules = parse_rules("[limits]\nrecent_event_ids = 2\n[metrics.words]\n")
    run = Run(rules)
    for event_id in ("a", "b", "c"):
        run.track("2024-03-01T10:00", 1, event_id=event_id)
    assert run.state is not None and run.state.recent_events == ("b", "c")
    assert run.track("2024-03-01T10:00", 1, event_id="c").replayed
    assert not run.track("2024-03-01T10:00", 1, event_id="a").replayed  # forgotten
    none = Run(parse_rules("[limits]\nrecent_event_ids = 0\n[metrics.words]\n"))
    none.track("2024-03-01T10:00", 1, event_id="a")
    assert not none.track("2024-03-01T10:00", 1, event_id="a").replayed
    assert none.state is not None and none.state.recent_events == ()
    long_id = "x" * 50
    run.track("2024-03-01T10:00", 1, event_id=long_id)
    assert run.state.recent_events[-1].startswith("#") and len(run.state.recent_events[-1]) == 17
    assert run.track("2024-03-01T10:00", 1, event_id=long_id).replayed
