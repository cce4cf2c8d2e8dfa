"""Benchmark of the exact leaderboard ordering at 1,000,000 participants on one board.

    python -m tests.bench.bench_ranking            # full: 1,000,000 participants
    python -m tests.bench.bench_ranking --quick    # or PODIUM_BENCH_QUICK=1: 100,000

Measures, on one ranking: the bulk build (what a restarting stage does with the compacted
scores), the same build from encoded `ScoreChanged` records (decode included), updates
through `Ranking.apply` (a participant's score rises by a typical event), the same through
`Rankings.apply` with records in and out (the stage's whole pure step), a rank query, a top
page, and the resident memory the ranking holds. Scores are skewed (many low ties) so the
tie rule is exercised. Times are CPU seconds (the machine may be shared); the best of
several runs counts.
"""

from __future__ import annotations

import gc
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from processors.core.ranking import Ranking, Rankings
from processors.runtime.rank_batch import keep_last
from schemas.leaderboards import (
    ScoreChanged,
    decode_leaderboard_record,
    encode_leaderboard_record,
    ranking_partition,
)
from schemas.rules import Leaderboard

T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z
BOARD = Leaderboard("top-writers", "Top writers", "metric", anchor=1, metric="words-written")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def participants(n: int, rng: random.Random) -> list[tuple[str, Decimal, int]]:
    """(user id, value, reached_ms): skewed whole values, one in ten with a decimal part."""
    out = []
    for i in range(n):
        value = Decimal(int(rng.paretovariate(1.2) * 100))
        if i % 10 == 0:
            value += Decimal("0.5")
        out.append((f"user-{i:07d}", value, T0 + rng.randrange(86_400_000 * 30)))
    return out


def best(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def score(user: str, value: Decimal, t: int, i: int) -> ScoreChanged:
    return ScoreChanged(
        id=f"{user}:score:top-writers:all::e{i}",
        board="top-writers",
        run="all",
        group="",
        user_id=user,
        event_id=f"e{i}",
        time_ms=t,
        previous=None,
        value=value,
    )


@dataclass(frozen=True)
class _Raw:
    offset: int
    key: bytes | None
    value: bytes | None


def restore_figures(entries: list[tuple[str, Decimal, int]], repeat: int) -> None:
    """The ranking stage's restore on taking over a partition (`podium ranker`): every raw
    `podium.scores` record up to the committed offset through `keep_last` (decode, check,
    keep each participant's last change), then one sort per ranking. A tenth of the
    participants, each with a history of five changes, so the figure is per record."""
    history = 5
    some = entries[: len(entries) // 10]
    key = b"top-writers|all|"
    partition = ranking_partition(key.decode(), 12)
    raws = [
        _Raw(i, key, encode_leaderboard_record(score(u, v + step, t + step, i)))
        for step in range(history)
        for i, (u, v, t) in enumerate(some)
    ]

    def restore() -> Rankings:
        last: dict[tuple[str, str], ScoreChanged] = {}
        keep_last(raws, partition, 12, last)
        return Rankings.restore({"top-writers": BOARD}, last.values())

    seconds = best(repeat, restore)
    rate = len(raws) / seconds
    print(f"restore (ranker)  {rate:>12,.0f} records/s ({len(raws):,} changes of {len(some):,})")


def run(n: int, updates: int, repeat: int) -> None:
    rng = random.Random(7)
    entries = participants(n, rng)
    measure_build(entries, repeat)
    measure_rebuild(entries[: n // 10], n, repeat)
    restore_figures(entries, repeat)
    ranking = Ranking.build(entries)
    users = [u for u, _, _ in entries]
    current = {u: v for u, v, _ in entries}
    picks = [rng.choice(users) for _ in range(updates)]
    deltas = [Decimal(rng.choice((1, 5, 25, 100, 750))) for _ in range(updates)]
    measure_updates(ranking, current, picks, deltas)
    queries = [rng.choice(users) for _ in range(updates)]
    measure_queries(ranking, queries, n, repeat)
    assert len(ranking) == n


def measure_build(entries: list[tuple[str, Decimal, int]], repeat: int) -> None:
    """Build time and resident memory of one ranking of all entries."""
    n = len(entries)
    # memory first, before any other ranking's freed memory is there for the next to reuse
    gc.collect()
    before = rss_bytes()
    ranking = Ranking.build(entries)
    gc.collect()
    ids = sum(sys.getsizeof(u) for u, _, _ in entries)  # shared with the input, counted apart
    rss = rss_bytes() - before + ids
    del ranking
    build = best(repeat, lambda: Ranking.build(entries))
    print(f"participants      {n:>12,}")
    print(f"build             {build:>12.2f} s ({n / build:,.0f} entries/s)")
    print(f"memory (RSS)      {rss / 2**20:>12,.0f} MiB ({rss / n:.0f} bytes per participant)")


def measure_rebuild(sample: list[tuple[str, Decimal, int]], n: int, repeat: int) -> None:
    """Rebuilding a ranking from encoded leaderboard records, per record and scaled to n."""
    encoded = [encode_leaderboard_record(score(u, v, t, 0)) for u, v, t in sample]

    def rebuild_from_records() -> Ranking:
        recs = [decode_leaderboard_record(raw) for raw in encoded]
        return Ranking.build(
            (r.user_id, r.value, r.time_ms)
            for r in recs
            if isinstance(r, ScoreChanged) and r.value is not None
        )

    per_record = best(repeat, rebuild_from_records) / len(encoded)
    print(f"rebuild (decode)  {1 / per_record:>12,.0f} records/s ({per_record * n:.2f} s at n)")


def measure_updates(
    ranking: Ranking, current: dict[str, Decimal], picks: list[str], deltas: list[Decimal]
) -> None:
    """Score changes applied to the ranking directly, then through the leaderboard stage."""
    updates = len(picks)

    def apply_all() -> None:
        t = T0 + 86_400_000 * 31
        for i, (user, delta) in enumerate(zip(picks, deltas, strict=True)):
            value = current[user] = current[user] + delta
            ranking.apply(user, value, t + i)

    per = best(1, apply_all) / updates
    print(f"update            {1 / per:>12,.0f} changes/s ({per * 1e6:.1f} µs)")

    stage = Rankings({"top-writers": BOARD})
    stage.rankings["top-writers|all|"] = ranking
    changes = [
        score(u, current[u] + d, T0 + 86_400_000 * 32 + i, i)
        for i, (u, d) in enumerate(zip(picks, deltas, strict=True))
    ]

    def stage_all() -> None:
        for rec in changes:
            stage.apply(rec)

    per = best(1, stage_all) / updates
    print(f"stage step        {1 / per:>12,.0f} changes/s ({per * 1e6:.1f} µs, records in/out)")


def measure_queries(ranking: Ranking, queries: list[str], n: int, repeat: int) -> None:
    """Rank look-ups and pages at the top and at n/2."""
    per = best(repeat, lambda: [ranking.rank(u) for u in queries]) / len(queries)
    print(f"rank query        {per * 1e6:>12.2f} µs")
    per = best(repeat, lambda: [ranking.page(0, 100) for _ in range(1000)]) / 1000
    print(f"top-100 page      {per * 1e6:>12.1f} µs")
    mid = n // 2
    per = best(repeat, lambda: [ranking.page(mid, 100) for _ in range(1000)]) / 1000
    print(f"page at n/2       {per * 1e6:>12.1f} µs")


def main(argv: Sequence[str] = ()) -> None:
    """Flag: --quick (`make bench` passes none; PODIUM_BENCH_QUICK=1 does the same)."""
    quick = "--quick" in argv or os.environ.get("PODIUM_BENCH_QUICK") == "1"
    n, updates = (100_000, 20_000) if quick else (1_000_000, 100_000)
    run(n, updates, repeat=3)


if __name__ == "__main__":
    main(sys.argv[1:])
