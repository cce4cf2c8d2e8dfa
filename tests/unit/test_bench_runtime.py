"""The pure parts of the runtime comparison (tests/bench): the ceiling's output counting, the
CPU-per-1,000 and request-rate arithmetic, the broker metrics' parser, the output kinds."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from deploy.settings import REPO_DIR
from processors.runtime.batch import Effects
from schemas.records import DeadLetter
from schemas.rules_parse import load_rules
from schemas.topics import ACHIEVEMENTS, PROGRESS, STREAKS, Names
from tests.bench import runtime_peers
from tests.bench.bench_runtime import COUNT, Result, kind_of, per_event, side_by_side
from tests.bench.ceiling import Rec, Report, count_outputs, fold_all, partitioned
from tests.bench.data import RULES, TEMPLATE, scored_rules
from tests.bench.launch import policy
from tests.bench.peer_outputs import Out, outputs
from tests.bench.stages import cpu_seconds
from tests.bench.usage import BEAN, parse_counts, per_thousand, rates, thread_cpu, thread_group


def test_count_outputs_counts_each_topic_of_the_effects() -> None:
    kv = (b"k", b"v")
    effects = Effects(
        encoded_states=[kv, kv],
        derived={PROGRESS: [kv, kv, kv], ACHIEVEMENTS: [kv], STREAKS: [kv, kv]},
        scores={0: [(*kv, None)], 5: [(*kv, None), (*kv, None)]},
        dead=[DeadLetter.of("why", b"x", "t", 0, 1, None)],
    )
    counts: Counter[str] = Counter({"podium.progress": 10})
    count_outputs(effects, counts)
    assert counts == {
        "podium.state": 2,
        "podium.progress": 13,
        "podium.achievements": 1,
        "podium.streaks": 2,
        "podium.scores": 3,
        "podium.events.dlq": 1,
    }


def _event(i: int, user: str, metric: str = "m0") -> tuple[bytes, bytes]:
    value = TEMPLATE % (f"ev-{i}", 1_767_225_600_000 + i * 1000, user, metric, 1)
    return user.encode(), value.encode()


def test_ceiling_writes_one_progress_per_event_and_one_state_per_user_and_batch() -> None:
    # users a, b on one partition (a single partition here): batches of 2 records
    # [a a] [b a] [b] -> states written: {a}, {a, b}, {b} = 4; five events, five Progress.
    parts = [[Rec(i, *_event(i, u)) for i, u in enumerate("aabab")]]
    counts = fold_all(parts, load_rules(RULES), batch=2)
    assert counts["podium.progress"] == 5
    assert counts["podium.state"] == 4
    assert counts["podium.events.dlq"] == 0


def test_ceiling_dead_letters_an_unknown_metric() -> None:
    # The refused event is a dead letter, and its answer (EventRefused) takes its Progress's
    # place on podium.progress: still one record there per event.
    parts = [[Rec(0, *_event(0, "a")), Rec(1, *_event(1, "a", metric="nope"))]]
    counts = fold_all(parts, load_rules(RULES), batch=10)
    assert (counts["podium.progress"], counts["podium.events.dlq"]) == (2, 1)


def test_partitioned_numbers_each_partitions_records_from_zero() -> None:
    items = [_event(i, f"user-{i % 7}") for i in range(50)]
    parts = partitioned(items, 12)
    assert sum(len(p) for p in parts) == 50
    for records in parts:
        assert [r.offset for r in records] == list(range(len(records)))
    # one user's records all land on one partition
    where = {r.key: p for p, records in enumerate(parts) for r in records}
    assert len(where) == 7


def test_report_is_found_in_a_process_output() -> None:
    report = Report(10, 1.5, 1.25, {"podium.progress": 10})
    assert Report.find(f"noise\n{report.line()}\nmore") == report
    assert Report.find("nothing here") is None


def test_cpu_per_thousand_events() -> None:
    assert per_thousand(2.5, 10_000) == pytest.approx(0.25)
    assert per_thousand(3.0, 1_000_000) == pytest.approx(0.003)
    assert math.isnan(per_thousand(1.0, 0))


def test_request_rates_between_two_readings() -> None:
    before = {"Produce": 100.0, "EndTxn": 5.0}
    after = {"Produce": 400.0, "EndTxn": 25.0, "FetchConsumer": 30.0}
    assert rates(before, after, 10.0) == {"Produce": 30.0, "EndTxn": 2.0, "FetchConsumer": 3.0}
    assert all(math.isnan(v) for v in rates(before, after, 0.0).values())


def test_parse_counts_reads_each_request_and_zero_for_an_unregistered_one() -> None:
    text = (
        f"{BEAN.format('Produce')}\t1234\n"
        f"{BEAN.format('EndTxn')}\t56\n"
        "kafka.network:type=RequestMetrics,name=RequestsPerSec,request=Fetch\t999\n"
    )
    assert parse_counts(text, ("Produce", "EndTxn", "FetchConsumer")) == {
        "Produce": 1234.0,
        "EndTxn": 56.0,
        "FetchConsumer": 0.0,
    }


def test_output_kinds_of_every_peers_topics() -> None:
    assert kind_of("benchab12.podium.progress") == "progress"
    assert kind_of("podium.events.dlq") == "events.dlq"
    assert kind_of("changelog__benchab12quix.quix--benchab12.podium.events--default") == "state"
    counts = {"x.podium.state": 50, "changelog__g--t--default": 30, "x.podium.progress": 100}
    assert per_event(counts, 100)["state"] == pytest.approx(0.8)
    assert per_event(counts, 100)["progress"] == pytest.approx(1.0)
    assert per_event(counts, 100)["points"] == 0.0


def test_gc_policy_is_one_of_the_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PODIUM_BENCH_GC", raising=False)
    assert policy() == "tuned"
    monkeypatch.setenv("PODIUM_BENCH_GC", "default")
    assert policy() == "default"
    monkeypatch.setenv("PODIUM_BENCH_GC", "off")
    with pytest.raises(SystemExit):
        policy()


def test_scored_rules_make_the_fold_write_points_and_score_changes(tmp_path: Path) -> None:
    # A new user's first m0 event of value 1: "welcome" gives 20 XP (one PointsChanged; the
    # per-100 trigger is not reached); both boards move (m0 total 1, weekly XP 20): two
    # score changes.
    parts = [[Rec(0, *_event(0, "a"))]]
    counts = fold_all(parts, load_rules(scored_rules(tmp_path)), batch=10)
    assert counts["podium.points"] == 1
    assert counts["podium.scores"] == 2


def test_side_by_side_prints_the_workers_ratio_to_each(capsys: pytest.CaptureFixture[str]) -> None:
    # COUNT events each: the worker in 10 s on 5 CPU s, Quix in 25 s on 20 CPU s:
    # wall 2.5x, CPU 4x.
    outputs = {"progress": 1.0}
    side_by_side(
        [
            Result("podium worker", 10.0, 5.0, outputs),
            Result("quix streams", 25.0, 20.0, {"progress": 1.0, "state": 0.25}),
        ]
    )
    out = capsys.readouterr().out
    quix = next(line for line in out.splitlines() if line.strip().startswith("quix streams"))
    assert quix.split()[-4:] == [f"{COUNT / 25:,.0f}", "2.50", f"{COUNT / 20:,.0f}", "4.00"]
    state = next(line for line in out.splitlines() if line.strip().startswith("state"))
    assert state.split()[1:] == ["0.000", "0.250"]


@pytest.mark.parametrize(
    ("chosen", "thresholds", "frozen"),
    [("default", "(700, 10, 10)", False), ("tuned", "(100000, 50, 100)", True)],
)
def test_launch_applies_the_gc_policy_in_the_started_process(
    tmp_path: Path, chosen: str, thresholds: str, frozen: bool
) -> None:
    # a module in a package, as the launched ones are (runpy warns when one was imported)
    (tmp_path / "gcpkg").mkdir()
    (tmp_path / "gcpkg" / "__init__.py").write_text("")
    (tmp_path / "gcpkg" / "show_gc.py").write_text(
        "import gc, sys\n"
        "from processors.runtime.gc_tuning import tune_gc\n"
        "if __name__ == '__main__':\n"
        "    tune_gc()  # what the worker does to itself: switched off under 'default'\n"
        "    print(gc.get_threshold(), gc.get_freeze_count() > 0, sys.argv[1:])\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_DIR), str(tmp_path)]),
        "PODIUM_BENCH_GC": chosen,
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.launch", "gcpkg.show_gc", "a", "b"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == f"{thresholds} {frozen} ['a', 'b']"
    assert done.stderr == ""


def test_quix_peer_routes_every_output_but_the_state() -> None:
    names = Names("q.")
    effects = Effects(
        encoded_states=[(b"u", b"state")],
        derived={PROGRESS: [(b"u", b"p1"), (b"u", b"p2")], STREAKS: [(b"u", b"s")]},
        scores={3: [(b"board", b"sc", None)]},
        dead=[DeadLetter.of("why", b"x", "t", 0, 1, None)],
    )
    got = outputs(effects, names)
    assert got[:4] == [
        Out("q.podium.progress", b"u", b"p1"),
        Out("q.podium.progress", b"u", b"p2"),
        Out("q.podium.streaks", b"u", b"s"),
        Out("q.podium.scores", b"board", b"sc"),
    ]
    assert [(o.topic, o.key) for o in got[4:]] == [("q.podium.events.dlq", None)]


def test_waiting_for_a_peer_ends_when_its_process_has_exited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The EOS v2 prototype once died fenced mid-run and the bench waited on its group for an
    # hour; the wait now checks the process between polls.
    async def never_caught_up(*_: object, **__: object) -> None:
        raise TimeoutError("not caught up")

    monkeypatch.setattr(runtime_peers, "wait_caught_up", never_caught_up)
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait()
    with pytest.raises(runtime_peers.PeerExited, match="code 3"):
        runtime_peers.wait_committed("127.0.0.1:1", "g", "t", proc)


def test_the_broker_threads_are_grouped_by_their_work() -> None:
    assert thread_group("data-plane-kafk") == "requests"  # Linux cuts names to 15 characters
    assert thread_group("C2 CompilerThre") == "JIT" and thread_group("C1 CompilerThre") == "JIT"
    assert thread_group("VM Thread") == "other" and thread_group("TxnMarkerSender") == "other"


def test_thread_cpu_counts_what_the_process_uses() -> None:
    """Over this process's threads, the groups grow by what the process itself used."""
    threads0, process0 = thread_cpu(os.getpid()), cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # some CPU to count, on this (live) thread
        pass
    threads1, process1 = thread_cpu(os.getpid()), cpu_seconds(os.getpid())
    assert set(threads1) == {"requests", "JIT", "other"}
    assert threads1["requests"] == threads1["JIT"] == 0.0
    grew, used = threads1["other"] - threads0["other"], process1 - process0
    assert used >= 0.25 and abs(grew - used) <= 0.05
