"""A user's state on `podium.state` that the worker cannot decode (here: a state of a future
version, with no upcaster) is never overwritten: the worker keeps the bytes, the partition
waits at that user's first event (every other partition goes on), the log says why, and once
a decodable state is written (the fix) every waiting event folds onto it: nothing is lost."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import msgspec
import pytest

from schemas.rules import Rules
from schemas.state import STATE_VERSION, UserState, decode_state, encode_state
from schemas.topics import Names
from tests.integration.runtime.kafka_io import (
    committed_offsets,
    produce,
    read_topic,
    wait_caught_up,
)
from tests.integration.runtime.oracle import (
    DAY_MS,
    START_MS,
    fold_log,
    latest_by_key,
    metric_events,
    values,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
USER = "u0"
BEFORE = UserState(
    user_id=USER,
    created_ms=START_MS - 30 * DAY_MS,
    updated_ms=START_MS - DAY_MS,
    events=7,
    totals={"words-written": Decimal(2500)},
)


def future_version(state: UserState) -> bytes:
    """The state as a later release might write it: the next version, with a field added."""
    obj = msgspec.json.decode(encode_state(state))
    return msgspec.json.encode({**obj, "version": STATE_VERSION + 1, "wordsPerDay": "120"})


def upcast_to_current(raw: bytes) -> bytes:
    """The fix: the pure step from the next version back to this release's shape."""
    obj = msgspec.json.decode(raw)
    obj.pop("wordsPerDay")
    return encode_state(msgspec.convert({**obj, "version": STATE_VERSION}, UserState))


async def wait_blocked_at(bootstrap: str, names: Names, partition: int, offset: int) -> None:
    """Until every other partition is caught up and `partition` has committed up to `offset`."""
    deadline = time.monotonic() + 90
    ends = {p: len(recs) for p, recs in (await read_topic(bootstrap, names.events)).items()}
    while True:
        done = await committed_offsets(bootstrap, names.worker_group, names.events)
        others = all(done[p] >= ends[p] for p in ends if p != partition)
        if others and done[partition] == offset:
            return
        assert time.monotonic() < deadline, f"not blocked at {partition}:{offset}: {done}"
        await asyncio.sleep(0.5)


async def test_an_undecodable_state_is_kept_and_its_events_wait_for_the_fix(
    kafka_bootstrap: str, names: Names, rules: Rules, spawn
) -> None:
    bad = future_version(BEFORE)
    await produce(kafka_bootstrap, names.state, [(USER.encode(), bad)])
    await produce(kafka_bootstrap, names.events, metric_events(2_000, 40, seed=21))
    events = await read_topic(kafka_bootstrap, names.events)
    [(partition, first)] = [
        (p, recs[i].offset)
        for p, recs in events.items()
        for i in [next((i for i, r in enumerate(recs) if r.key == USER.encode()), -1)]
        if i >= 0
    ]
    assert first < len(events[partition]) - 1, "events of other users wait behind it"

    worker = spawn("worker", env={"PODIUM_WORKER_BLOCKED_RETRY_S": "1"})
    await wait_blocked_at(kafka_bootstrap, names, partition, first)
    await asyncio.sleep(3)  # a few retries: still waiting, still nothing written for the user
    assert (await committed_offsets(kafka_bootstrap, names.worker_group, names.events))[
        partition
    ] == first
    assert latest_by_key(await read_topic(kafka_bootstrap, names.state))[USER] == bad
    assert values(await read_topic(kafka_bootstrap, names.dlq)) == {}
    unsupported = f"state version: unsupported {STATE_VERSION + 1}"
    assert "does not decode" in worker.log() and unsupported in worker.log()

    fixed = upcast_to_current(bad)
    assert decode_state(fixed) == BEFORE
    await produce(kafka_bootstrap, names.state, [(USER.encode(), fixed)])
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=60)

    expected = fold_log(events, rules, start={USER: BEFORE})
    assert expected.invalid == 0
    assert latest_by_key(await read_topic(kafka_bootstrap, names.state)) == expected.states
    assert values(await read_topic(kafka_bootstrap, names.progress)) == expected.progress
    assert values(await read_topic(kafka_bootstrap, names.achievements)) == expected.achievements
    state = decode_state(expected.states[USER])
    mine = [r for r in events[partition] if r.key == USER.encode()]
    assert state.events == BEFORE.events + len(mine)  # the history carried on, not restarted
    assert "moves on" in worker.log()
