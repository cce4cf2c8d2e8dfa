"""What two gateway reads cost against the Redis views at a realistic size (issue 18):
`GET /v1/points/{key}/summary?userAttributes=plan:pro` (the filtered totals it counts:
`ViewReader.points_totals_where`, an attribute index kept by the projector; before issue 18 a
view document per user of the system) and the names of a 1,000-entry board page
(`LeaderboardRoutes.names`: one HMGET of the names hash; before, a document per entry).
A fresh redis-server, `--users` users projected by the real projector (each with a name,
two attributes, an XP total and a few days of history), then each read timed `--repeat`
times; prints the median, the bytes Redis sent and the commands it ran per read.

    python -m tests.bench.bench_view_reads --users 10000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

from redis.asyncio import Redis

from deploy.local import RedisServer, free_port
from deploy.settings import REPO_DIR
from ingest.routes_leaderboards import LeaderboardRoutes
from ingest.views import ViewReader
from processors.core.fold import evolve
from processors.projector import Projector
from schemas.commands import MetricTracked, User
from schemas.rules import Rules
from schemas.rules_parse import load_rules
from schemas.state import UserState, encode_state
from schemas.views import Keys

DAY_MS = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00Z


class Rec(NamedTuple):
    offset: int
    value: bytes | None


def user_state(i: int, rules: Rules) -> UserState:
    """User i: named, plan pro for every third user, one of five regions, 5 days of words."""
    user = User(
        id=f"user-{i:06d}",
        name=f"Writer {i}",
        attributes={"plan": "pro" if i % 3 == 0 else "free", "region": f"r{i % 5}"},
    )
    state = None
    for day in range(5):
        cmd = MetricTracked(
            event_id=f"e-{i}-{day}",
            time_ms=T0 + day * DAY_MS,
            user=user,
            metric="words-written",
            value=Decimal(100 + i % 400),
        )
        state, _ = evolve(state, cmd, rules)
    assert state is not None
    return state


async def populate(redis: Redis, keys: Keys, rules: Rules, users: int) -> None:
    proj = Projector(redis, keys, rules)
    batch: list[Rec] = []
    for i in range(users):
        batch.append(Rec(i, encode_state(user_state(i, rules))))
        if len(batch) == 1000:
            await proj.apply(batch)
            batch = []
    await proj.apply(batch)
    await redis.set(keys.epoch, 1)


async def measure(
    redis: Redis, read: Callable[[], Awaitable[Any]], repeat: int
) -> tuple[float, int, int, Any]:
    """Median ms, bytes Redis sent and commands it ran per read, and the last answer."""
    times, answer = [], None
    before = await redis.info("stats")
    for _ in range(repeat):
        start = time.perf_counter()
        answer = await read()
        times.append((time.perf_counter() - start) * 1000)
    after = await redis.info("stats")
    sent = (after["total_net_output_bytes"] - before["total_net_output_bytes"]) // repeat
    ran = after["total_commands_processed"] - before["total_commands_processed"] - 1  # INFO
    return statistics.median(times), sent, ran // repeat, answer


async def run(users: int, repeat: int) -> None:
    rules = load_rules(REPO_DIR / "deploy" / "rules.example.toml")
    with tempfile.TemporaryDirectory(prefix="podium-view-reads-") as tmp:
        server = RedisServer(Path(tmp) / "redis", free_port())
        server.start()
        redis = Redis.from_url(server.url)
        try:
            keys = Keys("bench:")
            start = time.perf_counter()
            await populate(redis, keys, rules, users)
            print(f"{users} users projected in {time.perf_counter() - start:.1f} s")
            gw: Any = SimpleNamespace(views=ViewReader(redis, keys), rules=rules)
            views, boards = gw.views, LeaderboardRoutes(gw)
            page = [f"user-{i:06d}" for i in range(0, min(users, 1000))]
            reads: dict[str, Callable[[], Awaitable[Any]]] = {
                "summary userAttributes=plan:pro": lambda: views.points_totals_where(
                    "xp", {"plan": "pro"}
                ),
                "summary userAttributes=plan:pro,region:r1": lambda: views.points_totals_where(
                    "xp", {"plan": "pro", "region": "r1"}
                ),
                "names of a 1,000-entry page": lambda: boards.names(page),
            }
            for label, read in reads.items():
                ms, sent, commands, answer = await measure(redis, read, repeat)
                print(
                    f"{label}: {ms:.1f} ms median, {sent:,} bytes and {commands} commands"
                    f" from Redis per read ({len(answer)} values)"
                )
        finally:
            await redis.aclose()
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(run(args.users, args.repeat))


if __name__ == "__main__":
    main()
