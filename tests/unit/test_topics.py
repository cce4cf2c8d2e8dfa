"""The topic catalogue binds each topic's key and value codecs; they round-trip, and a
derived topic's codec refuses another topic's records."""

from __future__ import annotations

from decimal import Decimal

import pytest

from schemas.commands import InvalidRecord, MetricTracked, User
from schemas.leaderboards import RankChanged, ScoreChanged
from schemas.records import AchievementCompleted, DeadLetter, Progress
from schemas.state import UserState
from schemas.topics import (
    ACHIEVEMENTS,
    CATALOGUE,
    EVENT_ID_OF_PROGRESS,
    EVENTS,
    EVENTS_DLQ,
    LEADERBOARDS,
    PROGRESS,
    RANKING_STATE,
    SCORES,
    STATE,
    WEBHOOKS_DLQ,
)
from schemas.webhooks import WebhookDeadLetter

DONE = AchievementCompleted(
    id="u:a", user_id="u", achievement="a", achieved_at_ms=5, trigger="api", event_id="e"
)
SCORE = ScoreChanged(
    id="u:score:b:all::e",
    board="b",
    run="all",
    group="",
    user_id="u",
    event_id="e",
    time_ms=5,
    previous=None,
    value=Decimal(3),
)
VALUES = {
    EVENTS.name: MetricTracked(
        event_id="e", time_ms=5, user=User(id="u"), metric="m", value=Decimal("2.5")
    ),
    STATE.name: UserState(user_id="u", totals={"m": Decimal("2.5")}),
    PROGRESS.name: Progress(
        id="u:progress:e", event_id="e", user_id="u", command="metric", time_ms=5
    ),
    ACHIEVEMENTS.name: DONE,
    EVENTS_DLQ.name: DeadLetter.of("not JSON", b"{", "podium.events", 0, 7, b"u"),
    SCORES.name: SCORE,
    RANKING_STATE.name: SCORE,
    LEADERBOARDS.name: RankChanged(
        id="u:score:b:all::e:rank",
        cause="u:score:b:all::e",
        board="b",
        run="all",
        group="",
        user_id="u",
        time_ms=5,
        previous_rank=None,
        rank=1,
        previous_value=None,
        value=Decimal(3),
        reached_ms=5,
        participants=1,
    ),
    WEBHOOKS_DLQ.name: WebhookDeadLetter(
        id="0f" * 16,
        endpoint="crm",
        reason="HTTP 500",
        topic="podium.achievements",
        partition=3,
        offset=7,
        time_ms=5,
        attempts=4,
        webhook_type="achievement.completed",
        user_id="u",
        fact_id="u:a",
        body='{"type":"achievement.completed"}',
    ),
}


@pytest.mark.parametrize("topic", [t for t in CATALOGUE if t.name in VALUES], ids=str)
def test_every_topic_round_trips_its_values_and_keys(topic: object) -> None:
    value = VALUES[topic.name]  # type: ignore[attr-defined]
    assert isinstance(value, topic.value.type)  # type: ignore[attr-defined]
    raw = topic.value.encode(value)  # type: ignore[attr-defined]
    assert topic.value.decode(raw) == value  # type: ignore[attr-defined]


def test_the_keys_are_utf8_user_ids_and_the_dlq_keeps_raw_keys() -> None:
    assert EVENTS.key.encode("é") == b"\xc3\xa9" and STATE.key.decode(b"\xc3\xa9") == "é"
    assert EVENTS_DLQ.key.encode(b"\xff") == b"\xff"


def test_a_derived_topic_refuses_another_topics_record() -> None:
    with pytest.raises(
        InvalidRecord, match="expected a Progress or EventRefused record, got AchievementCompleted"
    ):
        PROGRESS.value.decode(ACHIEVEMENTS.value.encode(DONE))


def test_the_rank_topic_refuses_a_score_change() -> None:
    with pytest.raises(InvalidRecord, match="expected a RankChanged record, got ScoreChanged"):
        LEADERBOARDS.value.decode(SCORES.value.encode(SCORE))


def test_the_progress_event_id_lookup_matches_the_progress_codec() -> None:
    progress = Progress(
        id="u:progress:e-9",
        event_id="e-9",
        user_id="u",
        command="achievement",
        time_ms=5,
        achievements=(DONE,),
    )
    raw = PROGRESS.value.encode(progress)
    assert EVENT_ID_OF_PROGRESS(raw) == PROGRESS.value.decode(raw).event_id == "e-9"


def test_every_record_the_fold_writes_has_one_topic_whose_codec_reads_it() -> None:
    from typing import get_args

    from processors.core.fold import FoldRecord
    from schemas.records import PointsChanged, StreakChanged
    from schemas.topics import POINTS, STREAKS, output_topic

    by_hand = {
        Progress: PROGRESS,
        AchievementCompleted: ACHIEVEMENTS,
        StreakChanged: STREAKS,
        PointsChanged: POINTS,
        ScoreChanged: SCORES,
    }
    assert set(get_args(FoldRecord)) == set(by_hand)
    for kind, topic in by_hand.items():
        assert output_topic(kind) is topic
    topic = output_topic(AchievementCompleted)
    assert topic.value.decode(topic.value.encode(DONE)) == DONE
    with pytest.raises(KeyError):
        output_topic(DeadLetter)


def test_the_user_keyed_topics_but_progress_are_aligned_with_the_events() -> None:
    from schemas.topics import PARTITION_ALIGNED, POINTS, STREAKS

    names = {t.name for t in PARTITION_ALIGNED}
    assert names == {
        EVENTS.name,
        STATE.name,
        ACHIEVEMENTS.name,
        STREAKS.name,
        POINTS.name,
    }
    assert PROGRESS.key is EVENTS.key and PROGRESS.partitions == 1


def test_partitions_from_the_settings_move_each_aligned_group_together() -> None:
    from schemas.topics import POINTS, STREAKS, WEBHOOKS_DLQ, partitioned

    counts = {t.name: t.partitions for t in partitioned(users=24, rankings=5, progress=3)}
    by_hand = {
        EVENTS.name: 24,
        STATE.name: 24,
        PROGRESS.name: 3,
        ACHIEVEMENTS.name: 24,
        STREAKS.name: 24,
        POINTS.name: 24,
        SCORES.name: 5,
        LEADERBOARDS.name: 5,
        RANKING_STATE.name: 5,
        EVENTS_DLQ.name: 1,  # the dead letters are read in order: one partition
        WEBHOOKS_DLQ.name: 1,
    }
    assert counts == by_hand
    only_users = {t.name: t.partitions for t in partitioned(users=3)}
    assert only_users[EVENTS.name] == 3 and only_users[SCORES.name] == 12
    assert only_users[PROGRESS.name] == 1  # its own count, not the users'
    assert partitioned() == CATALOGUE
    with pytest.raises(ValueError, match="at least 1 partition, not 0"):
        partitioned(rankings=0)
    with pytest.raises(ValueError, match="at least 1 partition, not 0"):
        partitioned(progress=0)


def test_the_settings_give_the_three_counts_podium_up_creates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from deploy.settings import Settings

    monkeypatch.setenv("PODIUM_TOPIC_PARTITIONS", "6")
    monkeypatch.setenv("PODIUM_TOPIC_PROGRESS_PARTITIONS", "2")
    counts = {t.name: t.partitions for t in Settings().topics}
    assert (counts[EVENTS.name], counts[STATE.name]) == (6, 6)
    assert (counts[PROGRESS.name], counts[SCORES.name]) == (2, 12)
    monkeypatch.delenv("PODIUM_TOPIC_PROGRESS_PARTITIONS")
    assert {t.name: t.partitions for t in Settings().topics}[PROGRESS.name] == 1
