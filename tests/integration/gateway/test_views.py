"""The direct client, the projector's views and `podium views rebuild` / `podium tail`.

Events go straight to `podium.events` through `ingest.client.EventClient` with their own
times (a backfill): two authors in London and New York write on the days around the 2026
clock changes, so their local dates differ from the UTC ones. The expected streaks come from
the local dates computed here with zoneinfo."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import msgspec
import pytest
import redis
from redis.asyncio import Redis

from deploy.settings import REPO_DIR
from ingest.client import EventClient
from ingest.http.api import ApiError
from processors.core.fold import evolve
from processors.projector import Projector
from processors.runtime import kafka, kafka_async
from schemas.commands import MAX_TIME_MS, MetricTracked, User
from schemas.rules_parse import load_rules
from schemas.state import UserState, decode_state, encode_state
from schemas.topics import STATE, Names
from schemas.views import Keys, decode_view
from tests.integration.gateway.conftest import RULES, Podium, eventually
from tests.integration.runtime.kafka_io import wait_caught_up

pytestmark = pytest.mark.integration

LENA = {"id": "lena", "tz": "Europe/London"}
MO = {"id": "mo", "tz": "America/New_York"}
WRITES = [  # (author, UTC time, words)
    (LENA, "2026-03-28T12:00:00", 300),
    (LENA, "2026-03-29T22:30:00", 300),  # 23:30 in London (BST since 01:00 UTC that day)
    (LENA, "2026-03-30T08:00:00", 300),
    (MO, "2026-03-28T12:00:00", 300),
    (MO, "2026-03-29T02:00:00", 300),  # 22:00 on the 28th in New York (EDT)
    (MO, "2026-03-30T03:30:00", 300),  # 23:30 on the 29th in New York
]


class Rec(NamedTuple):
    """A changelog record as the projector's loops hand it over."""

    offset: int
    value: bytes | None


def _ms(utc: str) -> int:
    return int(datetime.fromisoformat(utc).replace(tzinfo=UTC).timestamp() * 1000)


def expected_history(user: dict[str, str]) -> list[tuple[str, int]]:
    """(local date, streak length at its end) for each day the author wrote."""
    days = sorted(
        {
            datetime.fromisoformat(t).replace(tzinfo=UTC).astimezone(ZoneInfo(user["tz"])).date()
            for u, t, _ in WRITES
            if u is user
        }
    )
    out: list[tuple[str, int]] = []
    prev: date | None = None
    for day in days:
        length = out[-1][1] + 1 if prev is not None and day - prev == timedelta(days=1) else 1
        out.append((day.isoformat(), length))
        prev = day
    return out


@pytest.fixture(scope="module")
def backfilled(podium: Podium) -> list[str]:
    async def send() -> list[str]:
        async with EventClient(podium.bootstrap, load_rules(RULES), podium.prefix) as client:
            return [
                await client.send("words-written", user, words, time_ms=_ms(at))
                for user, at, words in WRITES
            ]

    ids = asyncio.run(send())
    trophy = podium.trophy()

    def projected() -> None:
        assert trophy.users.single_metric(id="lena", key="words-written").current == 900
        assert trophy.users.single_metric(id="mo", key="words-written").current == 900

    eventually(projected, within=15)
    return ids


def test_direct_client_validates_like_the_gateway(podium: Podium) -> None:
    client = EventClient(podium.bootstrap, load_rules(RULES), podium.prefix)
    with pytest.raises(ApiError) as err:
        client.command("pages-read", {"id": "x"}, 1)
    assert err.value.status == 404 and "pages-read" in err.value.message
    with pytest.raises(ApiError) as err:
        client.command("words-written", {"id": "x", "tz": "Nowhere/Land"}, 1)
    assert "user.tz" in err.value.message
    for bad_time in (-1, MAX_TIME_MS + 1):
        with pytest.raises(ApiError, match="time: out of range"):
            client.command("words-written", {"id": "x"}, 1, time_ms=bad_time)
    cmd = client.command("words-written", {"id": "x"}, 2, idempotency_key="k")
    assert len(cmd.event_id) == 32 and cmd.time_ms > _ms("2026-01-01T00:00:00")


def test_streaks_follow_local_dates_in_two_time_zones(
    podium: Podium, backfilled: list[str]
) -> None:
    trophy = podium.trophy()
    for user in (LENA, MO):
        want = expected_history(user)
        got = trophy.users.streak(id=user["id"], history_periods=30)
        history = [
            (h.period_start, h.length) for h in got.streak_history if h.period_start <= "2026-03-30"
        ]
        assert history == want
    assert [x[1] for x in expected_history(LENA)] == [1, 2, 3]  # the model's own sanity
    assert [x[1] for x in expected_history(MO)] == [1, 2]
    lena_done = {a.id for a in trophy.users.achievements(id="lena")}
    mo_done = {a.id for a in trophy.users.achievements(id="mo")}
    assert "three-day-streak" in lena_done and "three-day-streak" not in mo_done


def _dump(client: redis.Redis, keys: Keys) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in client.scan_iter(match=keys.pattern):
        kind = client.type(key)
        if kind == b"hash":
            out[key.decode()] = client.hgetall(key)
        elif kind == b"set":
            out[key.decode()] = client.smembers(key)
        else:
            out[key.decode()] = (kind, client.dump(key))
    return out


def test_rebuild_after_flush_gives_the_same_views(podium: Podium, backfilled: list[str]) -> None:
    keys = Keys(podium.env["PODIUM_VIEWS_PREFIX"])
    client = redis.Redis.from_url(podium.redis_url)
    # every state record written so far is in Redis: the projector commits after its writes
    group = Names(podium.prefix).projector_group
    asyncio.run(wait_caught_up(podium.bootstrap, group, STATE.named(podium.prefix), within=30))
    before = _dump(client, keys)
    assert keys.user("lena") in before and keys.completed("three-day-streak") in before
    assert keys.streak_ranking("longest") in before  # the streak rankings are rebuilt too
    for key in client.scan_iter(match=keys.pattern):
        client.delete(key)
    # no emptiness check here: the projector sees its epoch gone and may start its own
    # rebuild (its lease, then views) at once; a CI run caught it holding the lease already
    assert "views rebuilt" in podium.rebuild_views()
    before.pop(keys.epoch, None)
    before.pop(keys.board_epoch, None)
    before.pop(keys.rank_history_epoch, None)

    def same() -> None:  # the projector may be rebuilding too (it saw the epoch go)
        after = _dump(client, keys)
        assert after.pop(keys.epoch, None) is not None  # when the views were built: differs
        after.pop(keys.board_epoch, None)  # likewise, for the board views
        after.pop(keys.rank_history_epoch, None)  # and for the rank histories
        assert after == before

    eventually(same, within=30, every=0.2)


async def _state_records(podium: Podium) -> list[bytes]:
    topic = STATE.named(podium.prefix)
    parts = range(await kafka.wait_for_topic(podium.bootstrap, topic))
    out: list[bytes] = []
    async for batch in kafka_async.read_range_async(podium.bootstrap, topic, parts):
        out.extend(r.value for r in batch if r.value is not None)
    return out


def _successive_states() -> list[bytes]:
    """Every intermediate state of WRITES, in log order, from the core's pure fold (the
    worker may publish only the latest state of a batch, so the topic need not hold them)."""
    rules = load_rules(RULES)
    states: dict[str, UserState] = {}
    out: list[bytes] = []
    for i, (user, at, words) in enumerate(WRITES):
        cmd = MetricTracked(
            event_id=f"e{i}",
            time_ms=_ms(at),
            user=User(id=user["id"], tz=user["tz"]),
            metric="words-written",
            value=Decimal(words),
        )
        states[user["id"]], _ = evolve(states.get(user["id"]), cmd, rules)
        out.append(encode_state(states[user["id"]]))
    return out


async def test_redelivery_and_old_records_change_nothing(
    podium: Podium, backfilled: list[str]
) -> None:
    published = await _state_records(podium)
    assert {decode_state(r).user_id for r in published} == {"lena", "mo"}
    # the changelog's offsets in log order (each user's states on one partition, in order)
    records = [Rec(offset, raw) for offset, raw in enumerate(_successive_states())]
    keys = Keys(f"{podium.prefix}redelivery:")
    client = Redis.from_url(podium.redis_url)
    sync = redis.Redis.from_url(podium.redis_url)
    try:
        proj = Projector(client, keys, load_rules(RULES))
        for raw in records:  # one at a time, in log order
            await proj.apply([raw])
        once = _dump(sync, keys)
        assert once[keys.user("lena")][b"at"] == b"2"  # WRITES' third record, lena's last
        for raw in records:  # everything delivered again
            await proj.apply([raw])
        assert _dump(sync, keys) == once
        for raw in reversed(records):  # old records after new ones, one by one
            await proj.apply([raw])
        assert _dump(sync, keys) == once
        await proj.apply(reversed(records))  # and within one batch
        assert _dump(sync, keys) == once
        assert sync.scard(keys.completed("first-words")) == 2  # lena and mo, not doubled
        assert sync.scard(keys.completed("three-day-streak")) == 1
        live = Keys(podium.env["PODIUM_VIEWS_PREFIX"])  # the worker's states give the same

        def doc(raw: Any) -> dict[str, Any]:
            view: dict[str, Any] = msgspec.to_builtins(decode_view(raw))
            del view["recent"]  # event ids
            for standing in view["points"].values():  # an award names its event
                standing["awards"] = [[a[0], *a[2:]] for a in standing["awards"]]
            return view

        def same_as_live() -> None:  # the test before rebuilt the live views: it may still be
            for uid in ("lena", "mo"):  # rewriting them (a CI run read a user's doc missing)
                raw = sync.hget(live.user(uid), "doc")
                assert raw is not None, f"{uid}'s live view is not there (being rebuilt)"
                assert doc(raw) == doc(once[keys.user(uid)][b"doc"])

        eventually(same_as_live, within=30, every=0.2)
    finally:
        await client.aclose()


def test_tail_prints_a_derived_topic(podium: Podium, backfilled: list[str]) -> None:
    # lena: first-words, three-day-streak; mo: first-words (see WRITES)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "deploy.cli",
            "tail",
            "achievements",
            "--from-beginning",
            "--limit",
            "3",
        ],
        cwd=REPO_DIR,
        env={**os.environ, **podium.env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()[1:]
    assert sorted(line.split("  ")[1:3] for line in lines) == [
        ["user lena", "completed 'first-words' (metric)"],
        ["user lena", "completed 'three-day-streak' (streak)"],
        ["user mo", "completed 'first-words' (metric)"],
    ]


def test_send_and_apikey_commands(podium: Podium, backfilled: list[str]) -> None:
    env = {**os.environ, **podium.env}
    sent = _cli(
        env,
        *("send", "words-written", "zed", "150", "--tz", "Asia/Tokyo"),
        *("--attr", "genre=poetry", "--idempotency-key", "z1"),
    )
    assert sent.returncode == 0, sent.stderr
    assert re.fullmatch(r"sent event [0-9a-f]{32}\n", sent.stdout)
    refused = _cli(env, "send", "pages-read", "zed", "1")
    assert refused.returncode == 2 and "pages-read" in refused.stderr
    trophy = podium.trophy()

    def arrived() -> None:
        got = trophy.users.single_metric(id="zed", key="words-written")
        assert got.current == 150
        assert trophy.users.get(id="zed").tz == "Asia/Tokyo"

    eventually(arrived)
    minted = _cli(env, "apikey", check=True)
    key = re.search(r"it is not stored\): (\S+)", minted.stdout)
    digest = re.search(r"PODIUM_API_KEY_HASHES=([0-9a-f]{64})", minted.stdout)
    assert key and digest
    assert hashlib.sha256(key.group(1).encode()).hexdigest() == digest.group(1)


def _cli(env: dict[str, str], *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """`podium <args>` against this test's stack, its output captured (30 s at most)."""
    return subprocess.run(
        [sys.executable, "-m", "deploy.cli", *args],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=check,
    )
