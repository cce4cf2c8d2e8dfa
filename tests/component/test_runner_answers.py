"""The runtime pushes the answers of the records that name their gateway, at the fold and
before the commit (fake Kafka clients, no broker); a record naming none is not answered."""

from __future__ import annotations

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
