"""The spike's peers, each running the same pure fold over the same pre-loaded events:
(b) a plain aiokafka consumer (getmany, orjson decode, dict state, no output): the Python
limit; (c) Quix Streams with its RocksDB state store; (a) faust-streaming with a table."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Literal

from aiokafka import AIOKafkaConsumer

from deploy.settings import REPO_DIR
from processors.core.fold import evolve
from schemas.commands import command_user_id, decode_command
from schemas.rules import Rules
from schemas.state import UserState, decode_state, encode_state


async def plain_fold(bootstrap: str, topic: str, count: int, rules: Rules) -> float:
    """(b): seconds from start to `count` events folded."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench.plain.{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    started = time.perf_counter()
    await consumer.start()
    states: dict[str, UserState] = {}
    seen = 0
    try:
        while seen < count:
            batch = await consumer.getmany(timeout_ms=500, max_records=20_000)
            for records in batch.values():
                for rec in records:
                    cmd = decode_command(rec.value)
                    uid = command_user_id(cmd)
                    states[uid], _ = evolve(states.get(uid), cmd, rules)
                seen += len(records)
    finally:
        await consumer.stop()
    return time.perf_counter() - started


def quix_fold(
    bootstrap: str,
    topic: str,
    count: int,
    rules: Rules,
    guarantee: Literal["at-least-once", "exactly-once"] = "exactly-once",
) -> float:
    """(c): seconds from start to `count` events folded, state in Quix's RocksDB store
    (with its changelog topic), `guarantee` as Quix names it."""
    from quixstreams import Application, State

    with tempfile.TemporaryDirectory(prefix="bench-quix-") as state_dir:
        app = Application(
            broker_address=bootstrap,
            consumer_group=f"bench-quix-{uuid.uuid4().hex[:6]}",
            auto_offset_reset="earliest",
            state_dir=state_dir,
            processing_guarantee=guarantee,
            loglevel="WARNING",
        )
        source = app.topic(topic, key_deserializer="bytes", value_deserializer="bytes")

        def fold(value: bytes, state: State) -> None:
            cmd = decode_command(value)
            raw = state.get("s")
            new, _ = evolve(None if raw is None else decode_state(raw.encode()), cmd, rules)
            state.set("s", encode_state(new).decode())

        sdf = app.dataframe(source)
        sdf.update(fold, stateful=True)
        started = time.perf_counter()
        app.run(count=count, collect=False)
        return time.perf_counter() - started


def faust_fold(bootstrap: str, topic: str, count: int, within: float = 300) -> tuple[int, float]:
    """(a): (events, seconds from the first event) in a faust agent with a table: `count`
    events, or as many as it folded within `within` seconds."""
    env = {
        **os.environ,
        "BENCH_BOOTSTRAP": bootstrap,
        "BENCH_TOPIC": topic,
        "BENCH_COUNT": str(count),
    }
    with tempfile.NamedTemporaryFile("w+", prefix="bench-faust-", suffix=".log") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.bench.faust_app",
                "worker",
                "-l",
                "warn",
                "--without-web",
            ],
            env=env,
            cwd=REPO_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + within
            done = (0, 0.0)
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(1.0)
                found = re.findall(r"FAUST (\d+) ([\d.]+)", Path(log.name).read_text())
                if found:
                    done = (int(found[-1][0]), float(found[-1][1]))
                if done[0] >= count:
                    break
            return done
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def run_async(coro: object) -> float:
    return asyncio.run(coro)  # type: ignore[arg-type]
