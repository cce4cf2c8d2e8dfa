"""Benchmark of the pure fold: 1 M events over 100 k users with a realistic rules file
(10 metrics, 30 achievements, a daily streak with freezes).

    python -m tests.bench.bench_fold            # full: 1,000,000 events, 100,000 users
    python -m tests.bench.bench_fold --quick    # or PODIUM_BENCH_QUICK=1: 100 k / 10 k
    python -m tests.bench.bench_fold --profile  # cProfile of the fold, top functions
    python -m tests.bench.bench_fold --default-gc  # keep CPython's default GC thresholds

Commands are generated before the timed region; the timed loop is exactly what a stream
worker does per record: look the state up, `evolve`, store the state. The fold runs several
times from empty state and the best run counts (the machine may be shared). Decoding and
state encoding are timed separately on a sample.

By default the cyclic GC is tuned as a worker holding many states should tune it: the fold
creates no reference cycles (a unit test checks), so after loading, `gc.freeze()` and a high
gen-0 threshold avoid repeated full traversals of every live state; with CPython's default
thresholds those cost about a third of the time at 100 k users (`--default-gc` shows it).
"""

from __future__ import annotations

import cProfile
import gc
import os
import pstats
import random
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from processors.core.fold import FoldRecord, evolve
from schemas.commands import MetricTracked, User, decode_command, encode_command
from schemas.records import AchievementCompleted, Progress, StreakChanged, encode_record
from schemas.rules import Rules
from schemas.rules_parse import parse_rules
from schemas.state import UserState, decode_state, encode_state

T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z
DAYS = 7  # 100 k users, 1 M events: ~1.4 events per user per day, skewed
ZONES = [
    None,
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Sao_Paulo",
]
METRICS = [f"metric-{i}" for i in range(10)]
VALUES = [Decimal(v) for v in ("1", "2", "5", "10", "25", "100", "250", "0.5", "-1", "750")]


POINTS_TOML = """
[[points]]
key = "xp"
name = "XP"
[[points.triggers]]
key = "m0-per-25"
type = "metric"
metric = "metric-0"
threshold = 25
points = 10
[[points.triggers]]
key = "m1-each"
type = "metric"
metric = "metric-1"
threshold = 1
points = 2
[[points.triggers]]
key = "m2-mobile"
type = "metric"
metric = "metric-2"
threshold = 10
points = 5
event_attributes = { source = "mobile" }
[[points.triggers]]
key = "m0-done"
type = "achievement"
achievement = "m0"
points = 100
[[points.triggers]]
key = "c0-done"
type = "achievement"
achievement = "c0"
points = 250
[[points.triggers]]
key = "week"
type = "streak"
streak_length = 7
points = 50
[[points.triggers]]
key = "welcome"
type = "user_creation"
points = 20
[[points.levels]]
key = "l0"
name = "L0"
points = 0
[[points.levels]]
key = "l1"
name = "L1"
points = 100
[[points.levels]]
key = "l2"
name = "L2"
points = 1000
[[points.levels]]
key = "l3"
name = "L3"
points = 10000
[[points.boosts]]
key = "weekend"
name = "Weekend"
multiplier = 2
start = 2025-01-04T00:00:00Z
end = 2025-01-06T00:00:00Z
[[points.boosts]]
key = "pro"
name = "Pro"
multiplier = 1.25
rounding = "nearest"
start = 2025-01-01
user_attributes = { plan = "pro" }

[[points]]
key = "energy"
name = "Energy"
max_points = 5
[[points.triggers]]
key = "regen"
type = "time"
time_unit = "hour"
time_interval = 1
points = 1
[[points.triggers]]
key = "spend"
type = "metric"
metric = "metric-3"
threshold = 1
points = -1
"""


def bench_rules(points: bool = False) -> Rules:
    """The benchmark's rules; `points`: with two points systems added (`POINTS_TOML`: seven
    triggers, levels and boosts on XP; hourly regeneration and a cost on energy)."""
    # 10 metrics at the default 400 kept days each would be over the state budget (512 KiB)
    parts = ['week_start = "monday"\n[limits]\nmetric_days = 50\n']
    parts += [f'[metrics.{m}]\nname = "{m}"\n' for m in METRICS]
    for i in range(20):  # metric achievements, two per metric, a few with filters
        extra = ""
        if i % 7 == 3:
            extra = 'user_attributes = { plan = "pro" }\n'
        elif i % 7 == 5:
            extra = 'event_attributes = { source = "mobile" }\n'
        parts.append(
            f'[[achievements]]\nkey = "m{i}"\nname = "M{i}"\ntrigger = "metric"\n'
            f'metric = "{METRICS[i % 10]}"\nvalue = {[100, 5000][i // 10]}\n{extra}'
        )
    for i, n in enumerate((3, 7, 14, 30, 60)):
        parts.append(
            f'[[achievements]]\nkey = "s{i}"\nname = "S{i}"\ntrigger = "streak"\n'
            f"streak_length = {n}\n"
        )
    parts += [
        f'[[achievements]]\nkey = "api{i}"\nname = "A{i}"\ntrigger = "api"\n' for i in range(2)
    ]
    for i, deps in enumerate((["m0", "m1"], ["s1", "m2", "api0"], ["c0", "c1"])):
        parts.append(
            f'[[achievements]]\nkey = "c{i}"\nname = "C{i}"\n'
            f'trigger = "achievement"\nachievements = {deps}\n'
        )
    parts.append("""
[streak]
frequency = "daily"
combine = "any"
[[streak.thresholds]]
metric = "metric-0"
value = 10
[[streak.thresholds]]
metric = "metric-1"
value = 1
[streak.freezes]
initial = 1
max = 3
auto_earn_amount = 1
auto_earn_interval_days = 7
""")
    if points:
        parts.append(POINTS_TOML)
    return parse_rules("".join(parts), source="bench-rules.toml")


SOURCES = ({"source": "web"}, {"source": "mobile"})


def commands(n: int, users: int, seed: int = 7) -> list[MetricTracked]:
    """`n` metric events in time order over `DAYS` days; users and metrics skewed."""
    rng = random.Random(seed)
    people = [
        User(
            id=f"user-{u}",
            tz=ZONES[u % len(ZONES)],
            attributes={"plan": "pro" if u % 3 == 0 else "free"},
        )
        for u in range(users)
    ]
    span = DAYS * 86_400_000
    out = []
    for i in range(n):
        user = people[(int(rng.paretovariate(1.2)) * 7 + rng.randrange(users)) % users]
        metric = METRICS[min(9, int(rng.expovariate(0.6)))]
        key = f"k{i}" if rng.random() < 0.1 else None
        out.append(
            MetricTracked(
                event_id=f"evt-{i}",
                time_ms=T0 + span * i // n,
                user=user,
                metric=metric,
                value=rng.choice(VALUES),
                attributes=rng.choice(SOURCES),
                idempotency_key=key,
            )
        )
    return out


def fold_all(
    batch: list[MetricTracked], rules: Rules
) -> tuple[float, float, int, dict[str, UserState]]:
    """Fold every command from empty state: (wall s, CPU s, records, states)."""
    states: dict[str, UserState] = {}
    get = states.get
    records = 0
    t, c = time.perf_counter(), time.process_time()
    for cmd in batch:
        uid = cmd.user.id
        state, out = evolve(get(uid), cmd, rules)
        states[uid] = state
        records += len(out)
    return time.perf_counter() - t, time.process_time() - c, records, states


def run(n: int, users: int, repeat: int, profile: bool = False, tune_gc: bool = True) -> None:
    rules = bench_rules()
    batch = commands(n, users)
    if tune_gc:
        gc.collect()
        gc.freeze()
        gc.set_threshold(100_000, 50, 100)
    print(
        f"events {n:,}, users {users:,}, {DAYS} days, 10 metrics, "
        f"{len(rules.achievements)} achievements, daily streak with freezes; "
        f"best of {repeat}; GC {'tuned' if tune_gc else 'default'}"
    )
    walls, cpus = [], []
    for _ in range(repeat):
        gc.collect()
        wall, cpu, records, states = fold_all(batch, rules)
        walls.append(wall)
        cpus.append(cpu)
    print(f"users with state  {len(states):>12,}")
    print(f"records emitted   {records:>12,}  ({records / n:.2f} per event)")
    print(
        f"fold              {n / min(walls):>12,.0f} events/s  (best {min(walls):.2f} s wall, "
        f"one thread; runs: {', '.join(f'{w:.2f}' for w in walls)})"
    )
    print(
        f"fold per CPU-s    {n / min(cpus):>12,.0f} events/s  (best {min(cpus):.2f} s CPU, "
        f"{min(cpus) / n * 1e6:.2f} µs per event)"
    )
    codecs(batch[:100_000], rules, list(states.values())[:100_000], n / min(cpus))
    with_points(batch, repeat, min(cpus))
    if profile:
        profiler = cProfile.Profile()
        profiler.runcall(fold_all, batch, rules)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def with_points(batch: list[MetricTracked], repeat: int, cpu_without: float) -> None:
    """The same fold with the points systems added to the rules, beside the rate without."""
    rules = bench_rules(points=True)
    walls, cpus = [], []
    for _ in range(repeat):
        gc.collect()
        wall, cpu, records, states = fold_all(batch, rules)
        walls.append(wall)
        cpus.append(cpu)
    n = len(batch)
    print(
        f"fold with points  {n / min(cpus):>12,.0f} events/s per CPU-s ({min(cpus) / n * 1e6:.2f}"
        f" µs per event; without points {n / cpu_without:,.0f}; points cost"
        f" {(min(cpus) - cpu_without) / n * 1e6:.2f} µs per event, best of {repeat})"
    )
    size = sum(len(encode_state(s)) for s in list(states.values())[:100_000])
    print(
        f"  records         {records / n:>12.2f} per event; mean state "
        f"{size / min(len(states), 100_000):,.0f} bytes with points"
    )


def _drain(results: Iterable[object]) -> None:
    deque(results, maxlen=0)  # run without keeping the results


def _cpu_per_item(work: Callable[[], object], items: int) -> float:
    """Best of three CPU times of `work`, per item, in seconds."""
    best = float("inf")
    for _ in range(3):
        c = time.process_time()
        work()
        best = min(best, time.process_time() - c)
    return best / items


def codecs(batch: list[MetricTracked], rules: Rules, values: list[UserState], fold: float) -> None:
    """What a stream worker adds around the fold: decoding, records and states out."""
    raw_commands = [encode_command(c) for c in batch]
    decode = _cpu_per_item(lambda: _drain(map(decode_command, raw_commands)), len(batch))
    states: dict[str, UserState] = {}
    records: list[FoldRecord] = []
    for cmd in batch:  # the records of the sample, to encode
        state, out = evolve(states.get(cmd.user.id), cmd, rules)
        states[cmd.user.id] = state
        records += out
    progress = [r for r in records if isinstance(r, Progress)]
    facts = [r for r in records if isinstance(r, AchievementCompleted | StreakChanged)]
    raw_states = [encode_state(s) for s in values]
    encode = _cpu_per_item(lambda: _drain(map(encode_command, batch)), len(batch))
    rows = [
        ("decode_command", decode, "events"),
        ("encode_command", encode, "events"),
        (
            "encode_record",
            _cpu_per_item(lambda: _drain(map(encode_record, progress)), len(progress)),
            "Progress",
        ),
        (
            "encode_record",
            _cpu_per_item(lambda: _drain(map(encode_record, facts)), len(facts)),
            "other records",
        ),
        (
            "encode_state",
            _cpu_per_item(lambda: _drain(map(encode_state, values)), len(values)),
            "states",
        ),
        (
            "decode_state",
            _cpu_per_item(lambda: _drain(map(decode_state, raw_states)), len(raw_states)),
            "states",
        ),
    ]
    for name, per, what in rows:
        print(f"{name:<17} {1 / per:>12,.0f} {what}/s per CPU-s ({per * 1e6:.2f} µs)")
    size = sum(map(len, raw_states)) / len(raw_states)
    print(f"state size        {size:>12,.0f} bytes (mean)")
    print(f"decode + fold     {1 / (1 / fold + decode):>12,.0f} events/s per CPU-s")
    print(
        f"per event (µs)    decode {decode * 1e6:.2f}, encode {encode * 1e6:.2f}, "
        f"fold {1e6 / fold:.2f}"
    )


def main(argv: Sequence[str] = ()) -> None:
    """Flags: --quick, --profile, --default-gc (`make bench` passes none)."""
    quick = "--quick" in argv or os.environ.get("PODIUM_BENCH_QUICK") == "1"
    n, users = (100_000, 10_000) if quick else (1_000_000, 100_000)
    run(
        n,
        users,
        repeat=5 if quick else 3,
        profile="--profile" in argv,
        tune_gc="--default-gc" not in argv,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
