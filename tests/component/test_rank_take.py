"""The ranking stage's take over fake producers and a fake consumer, no broker: an entry of
`podium.ranking.state` that does not decode makes its partitions wait (lost, paused, retaken
after the back-off), stops the producers the take started, and does not end the stage; once
the entry decodes, the retake owns the partitions with their rankings."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import pytest

from processors.runtime import rank_runner
from processors.runtime.partition import ProducerConfig
from processors.runtime.rank_runner import RankRunner
from schemas.leaderboards import ScoreChanged, encode_leaderboard_record
from schemas.rules import Rules
from tests.component.test_runner_take import (
    NAMES,
    PARTITIONS,
    FakeConsumer,
    Producers,
    assign_as_aiokafka_does,
    producers,  # noqa: F401  (the fixture)
)

ENTRY = encode_leaderboard_record(
    ScoreChanged(
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
)


@pytest.fixture
def entries(monkeypatch: pytest.MonkeyPatch) -> dict[int, dict[str, bytes]]:
    """What `read_latest` finds on podium.ranking.state, per partition."""
    found: dict[int, dict[str, bytes]] = {p: {} for p in PARTITIONS}

    async def read_latest(
        bootstrap: str, topic: str, partitions: Iterable[int]
    ) -> dict[int, dict[str, bytes]]:
        assert topic == NAMES.ranking_state
        return {p: found[p] for p in partitions}

    monkeypatch.setattr(rank_runner, "read_latest", read_latest)
    return found


async def test_an_undecodable_ranking_entry_makes_its_partitions_wait_not_the_stage_stop(
    producers: Producers,  # noqa: F811
    entries: dict[int, dict[str, bytes]],
    rules: Rules,
) -> None:
    entries[2] = {"b|all||u": b"\x00 not a score change"}
    taker = RankRunner(
        FakeConsumer(), NAMES, rules, ProducerConfig("unused:9092"), partitions=4, fence_backoff_s=0
    )
    taker.position_timeout_s = 0.05

    assert await assign_as_aiokafka_does(taker) is None
    assert taker.failed is None  # the stage goes on
    assert sorted(taker.lost) == PARTITIONS and taker.owned == {}
    assert producers.running() == []  # all or nothing: the started producers are stopped

    entries[2] = {"b|all||u": ENTRY}  # a release that reads it (or the entry repaired)
    await taker._recover_lost()
    assert sorted(taker.owned) == PARTITIONS and taker.lost == {}
    assert len(taker.rankings[2].rankings) == 1
    await taker._drop(PARTITIONS)
