"""The topic catalogue binds each topic's key and value codecs; they round-trip, and a
derived topic's codec refuses another topic's records."""

from __future__ import annotations

from decimal import Decimal

import pytest

from schemas.commands import InvalidRecord, MetricTracked, User
from schemas.records import AchievementCompleted, DeadLetter, Progress
from schemas.state import UserState
from schemas.topics import (
    ACHIEVEMENTS,
    CATALOGUE,
    EVENT_ID_OF_PROGRESS,
    EVENTS,
    EVENTS_DLQ,
    PROGRESS,
    STATE,
)

DONE = AchievementCompleted(
    id="u:a", user_id="u", achievement="a", achieved_at_ms=5, trigger="api", event_id="e"
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
    with pytest.raises(InvalidRecord, match="expected a Progress record, got AchievementCompleted"):
        PROGRESS.value.decode(ACHIEVEMENTS.value.encode(DONE))


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
