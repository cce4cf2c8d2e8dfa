"""The key rule on the real broker: a command produced straight to `podium.events` under a key
that is not its user id (or under no key) is a dead letter with that reason, never a second
copy of the user's state on another partition; `podium replay` counts it as skipped, and
`podium replay --strict` refuses to hand over because of it."""

from __future__ import annotations

import asyncio
import os
import sys
from collections import defaultdict
from decimal import Decimal

import pytest

from deploy.settings import REPO_DIR
from schemas.commands import MetricTracked, User, decode_command, encode_command
from schemas.records import DeadLetter, decode_record
from schemas.rules import Rules
from schemas.state import decode_state
from schemas.topics import Names
from tests.integration.runtime.kafka_io import end_offsets, produce, read_topic, wait_caught_up
from tests.integration.runtime.oracle import START_MS, fold_log, latest_by_key, metric_events

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
USERS = 40


def misrouted() -> list[tuple[bytes | None, bytes]]:
    """Commands of u0..u9 under the next user's key, and of u10..u14 under no key."""
    out: list[tuple[bytes | None, bytes]] = []
    for i in range(15):
        cmd = MetricTracked(
            event_id=f"misrouted-{i}",
            time_ms=START_MS + i,
            user=User(id=f"u{i}"),
            metric="words-written",
            value=Decimal(10_000 + i),
        )
        out.append((f"u{i + 1}".encode() if i < 10 else None, encode_command(cmd)))
    return out


def expected_totals(good: list[tuple[bytes, bytes]]) -> dict[str, dict[str, Decimal]]:
    """Each user's totals from the correctly keyed commands alone (summed here, not folded)."""
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for _, value in good:
        cmd = decode_command(value)
        assert isinstance(cmd, MetricTracked)
        totals[cmd.user.id][cmd.metric] += cmd.value
    return {uid: dict(t) for uid, t in totals.items()}


async def replay(env: dict[str, str], *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deploy.cli",
        "replay",
        *args,
        env={**os.environ, **env},
        cwd=REPO_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await asyncio.wait_for(proc.communicate(), 150))[0].decode()
    assert proc.returncode is not None
    return proc.returncode, output


async def test_misrouted_commands_are_dead_letters_not_second_states(
    kafka_bootstrap: str, names: Names, rules: Rules, spawn, worker_env
) -> None:
    good = metric_events(1_500, USERS, seed=11)
    bad = misrouted()
    await produce(kafka_bootstrap, names.events, [*good[:700], *bad, *good[700:]])
    worker = spawn("worker")
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=90)

    letters = [
        decode_record(rec.value)
        for recs in (await read_topic(kafka_bootstrap, names.dlq)).values()
        for rec in recs
    ]
    assert all(isinstance(d, DeadLetter) for d in letters)
    by_original = {d.original_bytes(): d for d in letters if isinstance(d, DeadLetter)}
    assert set(by_original) == {value for _, value in bad}
    for key, value in bad:
        reason = by_original[value].reason
        assert reason.startswith("key: missing" if key is None else f"key: {key.decode()!r}")

    state_log = await read_topic(kafka_bootstrap, names.state)
    homes: dict[str, set[int]] = defaultdict(set)
    for partition, recs in state_log.items():
        for rec in recs:
            assert rec.key is not None
            homes[rec.key.decode()].add(partition)
    assert {uid: len(parts) for uid, parts in homes.items()} == {f"u{i}": 1 for i in range(USERS)}
    latest = latest_by_key(state_log)
    totals = {uid: dict(decode_state(raw).totals) for uid, raw in latest.items()}
    assert totals == expected_totals(good)
    assert latest == fold_log(await read_topic(kafka_bootstrap, names.events), rules).states

    before = await end_offsets(kafka_bootstrap, names.state)
    worker.stop()  # replay hands over only while the worker group is empty
    code, output = await replay(worker_env, "--strict")
    assert code == 1, output[-3000:]
    assert f"{len(bad)} records skipped ({len(bad)} key); nothing handed over" in output
    assert await end_offsets(kafka_bootstrap, names.state) == before

    code, output = await replay(worker_env)
    assert code == 0, output[-3000:]
    assert f"{len(bad)} records skipped ({len(bad)} key)" in output
    for letter in by_original.values():  # each skipped record logged with its reason
        assert f"skipped {letter.id}: {letter.reason}" in output
    assert latest_by_key(await read_topic(kafka_bootstrap, names.state)) == latest
