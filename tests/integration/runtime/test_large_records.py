"""Records the worker cannot carry or write do not stop a partition: a 1 MB record on
`podium.events` is dead-lettered by reference (its base64 would be over the broker's message
limit), and an event that would grow its user's state over the record limit is a dead letter
while the state stays as it was. The events behind both fold, and the worker keeps running."""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import Sequence
from decimal import Decimal

import pytest

from processors.runtime import kafka
from processors.runtime.batch import MAX_RECORD_BYTES
from schemas.commands import MetricTracked, User, encode_command
from schemas.records import PREFIX_BYTES, DeadLetter, decode_record
from schemas.rules import Rules
from schemas.state import decode_state
from schemas.topics import Names
from tests.integration.runtime.kafka_io import KeyValue, read_topic, send, wait_caught_up
from tests.integration.runtime.oracle import START_MS, fold_log, latest_by_key, metric_events

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


async def produce_large(bootstrap: str, topic: str, items: Sequence[KeyValue]) -> None:
    producer = kafka.producer(bootstrap, message_max_bytes=2 * 1024 * 1024)
    await asyncio.to_thread(send, producer, topic, items)


async def dead_letters(bootstrap: str, names: Names) -> list[DeadLetter]:
    recs = (await read_topic(bootstrap, names.dlq)).values()
    letters = [decode_record(r.value) for rs in recs for r in rs]
    return [d for d in letters if isinstance(d, DeadLetter)]


async def test_a_1mb_record_is_dead_lettered_by_reference_and_the_partition_moves_on(
    kafka_bootstrap: str, names: Names, rules: Rules, spawn
) -> None:
    garbage = random.Random(5).randbytes(1_000_000)
    good = metric_events(600, 10, seed=8)
    await produce_large(kafka_bootstrap, names.events, [*good[:300], (b"u1", garbage)])
    await produce_large(kafka_bootstrap, names.events, good[300:])
    worker = spawn("worker")
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=90)

    events = await read_topic(kafka_bootstrap, names.events)
    [(partition, offset)] = [
        (p, r.offset) for p, rs in events.items() for r in rs if r.value == garbage
    ]
    assert any(r.key == b"u1" and r.offset > offset for r in events[partition])
    [letter] = await dead_letters(kafka_bootstrap, names)
    assert letter.by_reference and letter.reason.startswith("not JSON")
    assert (letter.topic, letter.partition, letter.offset) == (names.events, partition, offset)
    assert (letter.value_size, letter.key_size) == (1_000_000, 2)
    assert letter.original == base64.b64encode(garbage[:PREFIX_BYTES]).decode()
    assert letter.key == base64.b64encode(b"u1").decode()
    expected = fold_log(events, rules)
    assert expected.invalid == 1
    assert latest_by_key(await read_topic(kafka_bootstrap, names.state)) == expected.states
    assert worker.proc is not None and worker.proc.poll() is None


def _with_profile(i: int, user: User) -> bytes:
    cmd = MetricTracked(
        event_id=f"fat-{i}",
        time_ms=START_MS + i * 1000,
        user=user,
        metric="words-written",
        value=Decimal(1),
    )
    return encode_command(cmd)


async def test_an_event_that_would_grow_a_state_over_the_limit_is_a_dead_letter(
    kafka_bootstrap: str, names: Names, rules: Rules, spawn
) -> None:
    # Four profile strings of 300,000 characters (a direct producer's: the gateway allows
    # 255, and attributes are bounded in the fold too): three fit in a record (≈ 900 kB),
    # four do not.
    long = [str(i) * 300_000 for i in range(4)]
    users = [
        User(id="fat", name=long[0]),
        User(id="fat", email=long[1]),
        User(id="fat", device_tokens=(long[2],)),
        User(id="fat", notifications={long[3]: ("email",)}),
    ]
    big = [_with_profile(i, user) for i, user in enumerate(users)]
    items = [(b"fat", raw) for raw in big] + [(b"fat", _with_profile(4, User(id="fat")))]
    assert 3 * 300_000 < MAX_RECORD_BYTES < 4 * 300_000
    await produce_large(kafka_bootstrap, names.events, items)
    worker = spawn("worker")
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=90)

    [letter] = await dead_letters(kafka_bootstrap, names)
    assert letter.reason.startswith("state: the user's state would be 1200")
    assert letter.offset == 3
    assert letter.by_reference and letter.value_size == len(big[3])  # over 256 KiB itself
    state = decode_state(latest_by_key(await read_topic(kafka_bootstrap, names.state))["fat"])
    assert (state.name, state.email, state.device_tokens) == (long[0], long[1], (long[2],))
    assert state.notifications == {}
    assert state.events == 4 and state.totals["words-written"] == 4
    assert state.offset == 4  # the event after the dead letter folded
    assert worker.proc is not None and worker.proc.poll() is None
