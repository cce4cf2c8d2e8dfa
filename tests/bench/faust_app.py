"""Spike peer (a): the same fold as a faust-streaming agent writing a Faust table (memory
store). Run by bench_runtime as `python -m tests.bench.faust_app worker`; prints
`FAUST <events> <seconds since the first event>` every 1,000 events and at BENCH_COUNT."""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid

import faust

from processors.core.fold import evolve
from schemas.commands import command_user_id, decode_command
from schemas.rules_parse import load_rules
from schemas.state import decode_state, encode_state
from tests.bench.data import RULES

BOOTSTRAP = os.environ.get("BENCH_BOOTSTRAP", "127.0.0.1:9092")
TOPIC = os.environ.get("BENCH_TOPIC", "bench.faust")
COUNT = int(os.environ.get("BENCH_COUNT", "1000"))
rules = load_rules(RULES)

app = faust.App(
    f"bench-faust-{uuid.uuid4().hex[:8]}",
    broker=f"kafka://{BOOTSTRAP}",
    store="memory://",
    topic_partitions=12,
    topic_replication_factor=1,
    web_enabled=False,
    datadir=tempfile.mkdtemp(prefix="bench-faust-"),
    producer_linger_ms=20,
    key_serializer="raw",
    value_serializer="raw",
)
events = app.topic(TOPIC, key_type=bytes, value_type=bytes)
states = app.Table("states", default=None, partitions=12, key_type=bytes, value_type=bytes)
seen = {"count": 0, "first": 0.0}


@app.agent(events)
async def fold(stream):
    async for value in stream:
        cmd = decode_command(value)
        key = command_user_id(cmd).encode()
        raw = states.get(key)
        state, _ = evolve(None if raw is None else decode_state(raw), cmd, rules)
        states[key] = encode_state(state)
        seen["count"] += 1
        if seen["count"] == 1:
            seen["first"] = time.perf_counter()
        if seen["count"] % 1_000 == 0 or seen["count"] == COUNT:
            print(f"FAUST {seen['count']} {time.perf_counter() - seen['first']:.3f}", flush=True)
            sys.stdout.flush()


if __name__ == "__main__":
    app.main()
