"""Streak ticks: `podium tick` writes ClockTicked commands for users whose streak a tick
settles; the worker folds them into "freeze consumed" / "streak lost" facts, exactly as an
independent fold of the events log (ticks included) predicts."""

from __future__ import annotations

import asyncio
import os
import sys
from decimal import Decimal

import pytest

from deploy.cli import tick_config, worker_config
from deploy.settings import REPO_DIR, Settings
from processors.ticker import emit_ticks
from processors.worker import run_worker
from schemas.commands import MetricTracked, User, encode_command
from schemas.records import StreakChanged, decode_record
from schemas.rules import Rules
from schemas.topics import Names
from tests.integration.runtime.kafka_io import produce, read_topic, wait_caught_up
from tests.integration.runtime.oracle import DAY_MS, START_MS, fold_log, values

pytestmark = pytest.mark.integration
HOUR_MS = 3_600_000


def _words(uid: str, day: int, value: int) -> tuple[bytes, bytes]:
    cmd = MetricTracked(
        event_id=f"{uid}-d{day}",
        time_ms=START_MS + day * DAY_MS + 10 * HOUR_MS,
        user=User(id=uid),
        metric="words-written",
        value=Decimal(value),
    )
    return uid.encode(), encode_command(cmd)


async def _streak_ids(bootstrap: str, names: Names) -> set[str]:
    records = await read_topic(bootstrap, names.streaks)
    return {
        rec.id
        for recs in records.values()
        for raw in recs
        if isinstance(rec := decode_record(raw.value), StreakChanged)
    }


async def _tick_command(env: dict[str, str], at: int) -> tuple[int | None, str]:
    """`podium tick --at <at>` as a subprocess: its exit code and output."""
    tick = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deploy.cli",
        "tick",
        "--at",
        str(at),
        env={**os.environ, **env},
        cwd=REPO_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await asyncio.wait_for(tick.communicate(), 60))[0].decode()
    return tick.returncode, output


async def test_ticks_settle_missed_days_deterministically(
    kafka_bootstrap: str, names: Names, rules: Rules, settings: Settings, worker_env
) -> None:
    # 2026-01-01 (day 0) ... keeper writes on day 0; loser on days 0 and 1; idle too little.
    await produce(
        kafka_bootstrap,
        names.events,
        [
            _words("keeper", 0, 150),
            _words("loser", 0, 150),
            _words("loser", 1, 300),
            _words("idle", 0, 5),
        ],
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(worker_config(settings), rules, stop))
    try:
        await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=60)
        # Day 2, 00:30 UTC: keeper missed day 1 (its freeze covers it); loser is fine.
        at = START_MS + 2 * DAY_MS + HOUR_MS // 2
        code, output = await _tick_command(worker_env, at)
        assert code == 0 and "ticks written: 1" in output, output
        await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=60)
        # Day 4, 00:30: keeper loses (no freeze left); loser freezes day 2, loses day 3.
        at = START_MS + 4 * DAY_MS + HOUR_MS // 2
        assert await emit_ticks(tick_config(settings), rules, at) == 2
        await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=60)
        assert await emit_ticks(tick_config(settings), rules, at) == 0  # settled: none is due
    finally:
        stop.set()
        await worker

    ids = await _streak_ids(kafka_bootstrap, names)
    assert {
        "keeper:streak:freeze_consumed:2026-01-02",
        "keeper:streak:lost:2026-01-03",
        "loser:streak:freeze_consumed:2026-01-03",
        "loser:streak:lost:2026-01-04",
    } <= ids
    assert not any(i.startswith("idle:") for i in ids)
    expected = fold_log(await read_topic(kafka_bootstrap, names.events), rules)
    assert values(await read_topic(kafka_bootstrap, names.streaks)) == expected.streaks
    assert values(await read_topic(kafka_bootstrap, names.progress)) == expected.progress
