"""`podium worker` on the real broker: every event folded once, its records published once."""

from __future__ import annotations

import pytest

from schemas.rules import Rules
from schemas.topics import Names
from tests.integration.runtime.kafka_io import produce, read_topic, wait_caught_up
from tests.integration.runtime.oracle import fold_log, latest_by_key, metric_events, values

pytestmark = pytest.mark.integration


async def test_worker_folds_events_into_state_and_records(
    kafka_bootstrap: str, names: Names, rules: Rules, spawn
) -> None:
    await produce(kafka_bootstrap, names.events, metric_events(3_000, 200))
    spawn("worker")
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=60)

    expected = fold_log(await read_topic(kafka_bootstrap, names.events), rules)
    assert latest_by_key(await read_topic(kafka_bootstrap, names.state)) == expected.states
    assert values(await read_topic(kafka_bootstrap, names.progress)) == expected.progress
    assert values(await read_topic(kafka_bootstrap, names.achievements)) == expected.achievements
    assert values(await read_topic(kafka_bootstrap, names.streaks)) == expected.streaks
    assert sum(expected.progress.values()) == 3_000
