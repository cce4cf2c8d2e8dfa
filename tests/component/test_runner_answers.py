"""The runtime pushes the answers of the records that name their gateway, at the fold and
before the commit (fake Kafka clients, no broker); a record naming none is not answered."""

from __future__ import annotations

import asyncio

import pytest

from processors.runtime.stages import WorkerStage
from schemas.rules import Rules
from tests.component.kafka_fakes import NAMES, harness, until
from tests.component.test_batch import T0, metric
from tests.component.test_runner_commits import HEADED, FakePusher, running


async def test_only_the_records_that_name_their_gateway_are_answered_before_the_commit(
    rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    pusher = FakePusher()
    h = harness(WorkerStage(NAMES, rules, 4), monkeypatch, pusher=pusher)
    h.consumer.rebalance("assign", [0])
    h.gate.clear()
    for n, headers in enumerate([HEADED, None, HEADED]):
        h.kafka.append(0, b"ann", metric(f"e-{n}", "ann", "2", T0 + n), headers)
    async with running(h):
        await until(lambda: pusher.pushed == ["e-0", "e-2"])
        assert h.kafka.commits == 0
        h.gate.set()
        await until(lambda: h.kafka.committed_offsets.get(0) == 3)


async def test_the_score_changes_of_a_headed_event_are_written_naming_its_gateway(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The answer header of an event whose gateway waits for ranks survives the outbox and
    the transaction: the ranking stage reads it from `podium.scores` to push the event's
    ranks to that gateway."""
    from schemas.leaderboards import ScoreChanged, decode_leaderboard_record
    from tests.rules import leaderboard_rules

    h = harness(WorkerStage(NAMES, leaderboard_rules(), 4), monkeypatch, pusher=FakePusher())
    h.consumer.rebalance("assign", [0])
    ranked = [*HEADED, ("podium-ranks", HEADED[0][1])]
    h.kafka.append(0, b"ann", metric("e-0", "ann", "2", T0, "words"), ranked)
    h.kafka.append(0, b"bob", metric("e-1", "bob", "3", T0 + 1, "words"), None)
    async with running(h):
        await until(lambda: h.kafka.committed_offsets.get(0) == 2)
    scores = [(k, v) for t, _, k, v in h.kafka.committed if t == NAMES.scores]
    changes = [decode_leaderboard_record(v) for _, v in scores]
    assert all(isinstance(c, ScoreChanged) for c in changes)
    by_event = {c.event_id for c in changes if isinstance(c, ScoreChanged)}
    assert by_event == {"e-0", "e-1"}
    headed = [(t, k, hs) for t, k, hs in h.producer.headed]
    expected = [
        (NAMES.scores, k, HEADED)
        for (k, _), c in zip(scores, changes, strict=True)
        if isinstance(c, ScoreChanged) and c.event_id == "e-0"
    ]
    assert expected and headed == expected


async def test_a_commit_someone_waits_on_comes_at_the_awaited_cadence_and_others_at_theirs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An event whose gateway waits for its ranks makes the outbox's commit due
    `awaited_commit_s` after it (the ranker reads its score changes once committed); events
    that nobody waits on past the fold keep the commit interval."""
    from tests.rules import leaderboard_rules

    pusher = FakePusher()
    stage = WorkerStage(NAMES, leaderboard_rules(), 4)
    h = harness(stage, monkeypatch, pusher=pusher, commit_interval_s=30, awaited_commit_s=0.05)
    h.consumer.rebalance("assign", [0])
    ranked = [*HEADED, ("podium-ranks", HEADED[0][1])]
    async with running(h):
        h.kafka.append(0, b"ann", metric("e-0", "ann", "2", T0, "words"), HEADED)
        await until(lambda: pusher.pushed == ["e-0"])
        await asyncio.sleep(0.5)  # ten awaited intervals: no commit, nobody waits on one
        assert h.kafka.commits == 0
        h.kafka.append(0, b"bob", metric("e-1", "bob", "3", T0 + 1, "words"), ranked)
        await until(lambda: h.kafka.committed_offsets.get(0) == 2, within=2.0)  # not in 30 s
        assert h.kafka.commits == 1
