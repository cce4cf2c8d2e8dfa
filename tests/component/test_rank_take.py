"""The ranking stage's take on the runtime, over fake Kafka clients, no broker: an entry of
`podium.ranking.state` that does not decode makes its partition wait (paused, retried after
the back-off) and does not end the stage; once the entry decodes, the retake owns the
partition with its rankings."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import pytest

from processors.runtime import runner
from processors.runtime.stages import RankStage
from schemas.leaderboards import ScoreChanged, encode_leaderboard_record
from schemas.rules import Rules
from tests.component.kafka_fakes import NAMES, harness, until
from tests.component.test_runner_commits import running

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


async def test_an_undecodable_ranking_entry_makes_its_partition_wait_not_the_stage_stop(
    rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage = RankStage(NAMES, rules, 2)
    h = harness(stage, monkeypatch, fence_backoff_s=0.2)
    found = {0: {"b|all||u": ENTRY}, 1: {"b|all||u": b"\xff not an entry"}}

    async def read_latest(
        bootstrap: str, topic: str, partitions: Iterable[int]
    ) -> dict[int, dict[str, bytes]]:
        assert topic == NAMES.ranking_state
        return {p: dict(found[p]) for p in partitions}

    monkeypatch.setattr(runner, "read_latest", read_latest)
    h.consumer.rebalance("assign", [0, 1])
    async with running(h):
        await until(lambda: 1 in h.consumer.paused and 1 in h.runtime.waiting)
        assert h.runtime.owned == frozenset()  # the take of both failed: both wait
        found[1] = {}
        await until(lambda: h.runtime.owned == {0, 1})
        assert not h.consumer.paused
        assert set(stage.rankings) == {0, 1}
