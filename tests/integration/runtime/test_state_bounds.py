"""One user sends many keyed events: the worker keeps running and the user's state stays
within the documented bound (`schemas.state_bound.state_bytes_bound`), the idempotency keys
within their window. Before the window, every key was kept (≈ 19 bytes each) until the
state was over the record limit and the worker crash-looped.

`PODIUM_TEST_KEYED_EVENTS` sets how many (default 50,000: fifty times the window of the
tests' rules; the 1,000,000 run is in docs/runtime.md)."""

from __future__ import annotations

import os
import time
from decimal import Decimal

import pytest

from schemas.commands import MetricTracked, User, encode_command
from schemas.rules import Rules
from schemas.state import decode_state
from schemas.state_bound import state_bytes_bound
from schemas.topics import Names
from tests.integration.runtime.kafka_io import produce, read_topic, wait_caught_up
from tests.integration.runtime.oracle import START_MS, latest_by_key

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
EVENTS = int(os.environ.get("PODIUM_TEST_KEYED_EVENTS", "50000"))
USER = "prolific"


def keys_in_order(n: int) -> list[str]:
    """n fresh keys, then repeats: 10 from inside the last window, 1 long evicted."""
    return [f"k{i}" for i in range(n)] + [f"k{n - 1 - j * 50}" for j in range(10)] + ["k0"]


def counted(keys: list[str], window: int) -> int:
    """How many events count: a key counts unless it is among the last `window` counted."""
    recent: list[str] = []
    total = 0
    for key in keys:
        if key in recent[-window:]:
            continue
        recent.append(key)
        total += 1
    return total


async def produce_keyed(bootstrap: str, topic: str, keys: list[str]) -> None:
    commands = (
        MetricTracked(
            event_id=f"e{i}",
            time_ms=START_MS + i,
            user=User(id=USER),
            metric="words-written",
            value=Decimal(1),
            idempotency_key=key,
        )
        for i, key in enumerate(keys)
    )
    items = [(USER.encode(), encode_command(cmd)) for cmd in commands]
    await produce(bootstrap, topic, items)


async def test_a_million_keyed_events_keep_the_state_bounded(
    kafka_bootstrap: str, names: Names, rules: Rules, spawn
) -> None:
    window = rules.limits.idempotency_keys_per_metric
    assert 10 * window <= EVENTS
    keys = keys_in_order(EVENTS)
    started = time.monotonic()
    await produce_keyed(kafka_bootstrap, names.events, keys)
    produced = time.monotonic()
    worker = spawn("worker")
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=600)
    print(
        f"{len(keys)} keyed events: produced in {produced - started:.1f} s,"
        f" folded {time.monotonic() - produced:.1f} s after"
    )

    raw = latest_by_key(await read_topic(kafka_bootstrap, names.state))[USER]
    state = decode_state(raw)
    assert len(raw) <= state_bytes_bound(rules) + len(USER)
    print(f"state: {len(raw)} bytes, bound {state_bytes_bound(rules) + len(USER)}")
    assert len(state.idempotency["words-written"]) == window
    want = counted(keys, window)
    assert want == EVENTS + 1  # the ten recent repeats change nothing, the evicted one counts
    assert state.totals["words-written"] == want and state.events == want
    assert worker.proc is not None and worker.proc.poll() is None
