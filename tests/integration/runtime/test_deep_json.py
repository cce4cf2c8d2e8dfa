"""A record nested 5,000 deep on `podium.events` (msgspec raises `RecursionError` on it) is a
dead letter: the worker parks it and folds the next event of the same partition, and
`podium replay` skips it too (before, the worker died and restarted at it forever). Nor does
a state record keyed by bytes that are not UTF-8 stop a restore."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from deploy.cli import worker_config
from deploy.settings import Settings
from processors.worker import run_worker
from schemas.commands import MetricTracked, User, encode_command
from schemas.records import DeadLetter, decode_record
from schemas.rules import Rules
from schemas.state import decode_state
from schemas.topics import Names
from tests.integration.runtime.kafka_io import produce, read_topic, wait_caught_up
from tests.integration.runtime.oracle import START_MS
from tests.integration.runtime.test_replay import replay_output

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
DEEP = (
    b'{"type":"metric","schema_version":1,"eventId":"deep","time":0,"user":{"id":"u-deep"},'
    b'"metric":"words-written","value":"1","x":' + b"[" * 5000 + b"]" * 5000 + b"}"
)


def good(event_id: str, value: int) -> bytes:
    return encode_command(
        MetricTracked(
            event_id=event_id,
            time_ms=START_MS,
            user=User(id="u-deep"),
            metric="words-written",
            value=Decimal(value),
        )
    )


async def test_a_deeply_nested_record_is_dead_lettered_and_the_partition_goes_on(
    kafka_bootstrap: str, names: Names, rules: Rules, settings: Settings, worker_env
) -> None:
    await produce(
        kafka_bootstrap,
        names.events,
        [(b"u-deep", good("e1", 5)), (b"u-deep", DEEP), (b"u-deep", good("e2", 7))],
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(worker_config(settings), rules, stop))
    try:
        await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=60)
    finally:
        stop.set()
        await worker  # it did not die on the record (it would raise here)

    [(partition, events)] = [
        (p, recs) for p, recs in (await read_topic(kafka_bootstrap, names.events)).items() if recs
    ]
    offsets = {rec.value: rec.offset for rec in events}
    letters = [
        decode_record(rec.value)
        for recs in (await read_topic(kafka_bootstrap, names.dlq)).values()
        for rec in recs
    ]
    assert len(letters) == 1 and isinstance(letters[0], DeadLetter)
    letter = letters[0]
    assert letter.reason == "not decodable: nested too deeply"
    assert (letter.topic, letter.partition, letter.offset) == (
        names.events,
        partition,
        offsets[DEEP],
    )
    assert letter.original_bytes() == DEEP
    states = [
        rec.value
        for recs in (await read_topic(kafka_bootstrap, names.state)).values()
        for rec in recs
        if rec.key == b"u-deep"
    ]
    state = decode_state(states[-1])
    assert state.totals["words-written"] == Decimal(12)  # 5 before it, 7 after it
    assert state.offset == offsets[good("e2", 7)]

    output = await replay_output(worker_env)  # exits 0: the replay skipped it too
    assert "replayed 2 events" in output, output[-2000:]


async def test_a_state_keyed_by_bytes_that_are_not_utf8_does_not_stop_the_restore(
    kafka_bootstrap: str, names: Names, rules: Rules, settings: Settings, worker_env
) -> None:
    """A record on `podium.state` whose key is not UTF-8 (no worker writes one; a direct
    producer can) is read past by the worker's restore and the replay, never a crash."""
    await produce(kafka_bootstrap, names.state, [(b"\xff\xfe-bad", b"{}")])
    await produce(kafka_bootstrap, names.events, [(b"u-deep", good("e1", 5))])
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(worker_config(settings), rules, stop))
    try:
        await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=60)
    finally:
        stop.set()
        await worker
    states = [
        rec.value
        for recs in (await read_topic(kafka_bootstrap, names.state)).values()
        for rec in recs
        if rec.key == b"u-deep"
    ]
    assert decode_state(states[-1]).totals["words-written"] == Decimal(5)
    output = await replay_output(worker_env)
    assert "replayed 1 events" in output, output[-2000:]
