"""Bad records on `podium.events` go to `podium.events.dlq` with the reason, the original bytes
and their coordinates, in the same transaction as the good ones; the worker goes on, and a
counter counts them."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from deploy.cli import worker_config
from deploy.settings import Settings
from processors.runtime import telemetry
from processors.worker import run_worker
from schemas.records import DeadLetter, decode_record
from schemas.rules import Rules
from schemas.topics import Names
from tests.integration.runtime.kafka_io import produce, read_topic, wait_caught_up
from tests.integration.runtime.oracle import START_MS, fold_log, latest_by_key, metric_events

pytestmark = pytest.mark.integration


def _metric(**overrides: object) -> bytes:
    body: dict[str, object] = {
        "schema_version": 1,
        "type": "metric",
        "eventId": "bad",
        "time": START_MS,
        "user": {"id": "u-bad"},
        "metric": "words-written",
        "value": "10",
    }
    body.update(overrides)
    return orjson.dumps({k: v for k, v in body.items() if v is not None})


BAD = {
    "not JSON": (b"{this is not json", "not JSON"),
    "unknown schema version": (_metric(schema_version=2), "schema_version: unsupported 2"),
    "no user id": (_metric(user={"email": "a@b.c"}), "user.id: missing user id"),
    "NaN value": (_metric(value="NaN"), "value: not finite"),
    "infinite value": (_metric(value="-Infinity"), "value: not finite"),
    "unknown metric": (_metric(metric="lines-deleted"), "metric: unknown 'lines-deleted'"),
}


def _dead_total() -> float:
    return sum(
        sample.value
        for family in telemetry.DEAD_LETTERS.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    )


async def test_bad_records_go_to_the_dlq_and_the_worker_goes_on(
    kafka_bootstrap: str, names: Names, rules: Rules, settings: Settings
) -> None:
    good = metric_events(400, 20, seed=3)
    items: list[tuple[bytes | None, bytes]] = list(good[:200])
    items += [(f"bad-{i}".encode(), raw) for i, (raw, _) in enumerate(BAD.values())]
    items += good[200:]
    await produce(kafka_bootstrap, names.events, items)
    before = _dead_total()

    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(worker_config(settings), rules, stop))
    try:
        await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=60)
    finally:
        stop.set()
        await worker

    events = await read_topic(kafka_bootstrap, names.events)
    where = {rec.value: (rec.partition, rec.offset) for recs in events.values() for rec in recs}
    letters = [
        decode_record(rec.value)
        for recs in (await read_topic(kafka_bootstrap, names.dlq)).values()
        for rec in recs
    ]
    by_original = {d.original_bytes(): d for d in letters if isinstance(d, DeadLetter)}
    assert len(letters) == len(BAD)
    for case, (raw, reason) in BAD.items():
        letter = by_original.get(raw)
        assert letter is not None, f"{case}: no dead letter"
        assert letter.reason.startswith(reason), f"{case}: {letter.reason!r}"
        assert (letter.topic, (letter.partition, letter.offset)) == (names.events, where[raw])
        assert letter.id == f"{names.events}:{letter.partition}:{letter.offset}"
    assert _dead_total() - before == len(BAD)
    # The good events around them were all applied.
    expected = fold_log(events, rules)
    assert expected.invalid == len(BAD)
    assert latest_by_key(await read_topic(kafka_bootstrap, names.state)) == expected.states
