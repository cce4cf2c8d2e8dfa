"""The runtime peers of bench_runtime, each a process of its own started the same way
(`python -m tests.bench.launch <module>`, one GC policy for all: see `launch`), reading the same
pre-loaded events topic in a consumer group of its own and writing the worker's outputs to
topics of its own:
- the Podium worker (`deploy.cli worker`) under the benchmark's prefix;
- the exactly-once v2 prototype (`eos_v2_peer`: confluent-kafka, KIP-447) under its own;
- Quix Streams (`quix_peer`) under its own, in a virtualenv of its own built under the run
  folder (`quix_python`), its state in its own changelog topic.

Each is timed from outside, identically: from the process's start to its group's committed
offsets reaching the end of the events topic (`wait_caught_up`, polled every 0.5 s); its CPU
and the broker's are taken at that moment. Then the records on each output topic are counted
(read_committed, from the beginning). The ceiling (`ceiling`) runs the same way, without
Kafka, and reports its own fold time.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from deploy.settings import REPO_DIR
from schemas.topics import Names
from tests.bench.ceiling import Report
from tests.bench.stages import cpu_seconds
from tests.integration.runtime.kafka_io import wait_caught_up

QUIX_PINS = ("quixstreams==3.28.1", "msgspec>=0.23,<0.24", "orjson>=3.10", "sortedcontainers>=2.4")
"""The Quix peer's virtualenv: Quix, and the pure dependencies of the code it runs
(`processors.runtime.batch` and below)."""


@dataclass(frozen=True)
class Peer:
    """A runtime peer: how to start it, its consumer group, the topics it writes."""

    name: str
    python: str
    module: str
    args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    group: str = ""
    outputs: Sequence[str] = ()  # output topic names (or name prefixes ending in '*')

    def start(self, log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            return subprocess.Popen(
                [self.python, "-m", "tests.bench.launch", self.module, *self.args],
                env={**os.environ, "PYTHONPATH": str(REPO_DIR), **self.env},
                cwd=REPO_DIR,
                stdout=out,
                stderr=subprocess.STDOUT,
            )


@dataclass(frozen=True)
class Timed:
    seconds: float
    cpu: float  # the peer process's CPU seconds at the end


def output_names(names: Names) -> list[str]:
    """The topics the worker publishes to under `names`' prefix."""
    return [
        names.state,
        names.progress,
        names.achievements,
        names.streaks,
        names.points,
        names.scores,
        names.dlq,
    ]


def worker_peer(bootstrap: str, names: Names, rules: Path) -> Peer:
    env = {
        "PODIUM_KAFKA_BOOTSTRAP": bootstrap,
        "PODIUM_TOPIC_PREFIX": names.prefix,
        "PODIUM_RULES_PATH": str(rules),
    }
    return Peer(
        "podium worker",
        sys.executable,
        "deploy.cli",
        ("worker",),
        env,
        names.worker_group,
        output_names(names),
    )


def eos_v2_peer(bootstrap: str, names: Names, rules: Path, input_topic: str) -> Peer:
    env = {
        "PODIUM_KAFKA_BOOTSTRAP": bootstrap,
        "PODIUM_TOPIC_PREFIX": names.prefix,
        "PODIUM_RULES_PATH": str(rules),
    }
    args = ("--input-topic", input_topic, "--instance", "bench")
    return Peer(
        "eos v2 prototype",
        sys.executable,
        "tests.bench.eos_v2_peer",
        args,
        env,
        names.worker_group,
        output_names(names),
    )


def quix_peer(
    python: str, bootstrap: str, names: Names, rules: Path, input_topic: str, state_dir: Path
) -> Peer:
    group = f"{names.prefix}quix"
    args = (
        "--bootstrap", bootstrap, "--input-topic", input_topic, "--group", group,
        "--prefix", names.prefix, "--rules", str(rules), "--state-dir", str(state_dir),
    )  # fmt: skip
    outputs = [*output_names(names)[1:], f"changelog__{group}*"]
    return Peer("quix streams", python, "tests.bench.quix_peer", args, {}, group, outputs)


class PeerExited(RuntimeError):
    """A peer's process ended before its group had committed the whole input."""


def run_timed(
    peer: Peer, bootstrap: str, input_topic: str, log: Path, on_done: Callable[[Timed], None]
) -> Timed:
    """Start `peer`, wait until its group has committed the whole input, take its CPU, call
    `on_done` (the benchmark's own readings, while the peer still runs), stop it. Raises
    `PeerExited` when the process ends first."""
    started = time.perf_counter()
    proc = peer.start(log)
    try:
        wait_committed(bootstrap, peer.group, input_topic, proc)
        timed = Timed(time.perf_counter() - started, cpu_seconds(proc.pid))
        on_done(timed)
        return timed
    finally:
        stop(proc)


def wait_committed(
    bootstrap: str, group: str, topic: str, proc: subprocess.Popen[bytes], within: float = 3600
) -> None:
    """Until `group` has committed the end of `topic` (polled every 0.5 s), while `proc` runs."""
    deadline = time.monotonic() + within
    while True:
        try:
            asyncio.run(wait_caught_up(bootstrap, group, topic, within=5))
            return
        except TimeoutError as err:
            if proc.poll() is not None:
                ended = f"exited with code {proc.returncode} before {group} caught up"
                raise PeerExited(ended) from err
            if time.monotonic() > deadline:
                raise


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def resolve_topics(bootstrap: str, wanted: Sequence[str]) -> dict[str, int]:
    """{topic: partitions} of the existing topics named by `wanted` (a trailing '*' is a
    prefix)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = admin.list_topics(timeout=30).topics
    found: dict[str, int] = {}
    for want in wanted:
        for name, meta in topics.items():
            if name == want or (want.endswith("*") and name.startswith(want[:-1])):
                found[name] = len(meta.partitions)
    return found


def count_records(bootstrap: str, topics: Mapping[str, int]) -> dict[str, int]:
    """The committed records on each topic (read_committed, from the beginning to the end)."""
    counts = dict.fromkeys(topics, 0)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "bench.count",  # never joined: assign() only
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "fetch.max.bytes": 64 * 1024 * 1024,
        }
    )
    try:
        todo = {(t, p) for t, n in topics.items() for p in range(n)}
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in todo])
        while todo:
            for msg in consumer.consume(100_000, timeout=1.0):
                err = msg.error()
                if err is None:
                    counts[msg.topic() or ""] += 1
                elif err.code() == KafkaError._PARTITION_EOF:
                    todo.discard((msg.topic(), msg.partition()))
                else:
                    raise KafkaException(err)
        return counts
    finally:
        consumer.close()


def quix_python(run_dir: Path) -> str:
    """The Python of the Quix peer's virtualenv under `run_dir`, built from PyPI on first use
    (reused while its pins are the same)."""
    venv = run_dir / "bench-quix-venv"
    python = venv / "bin" / "python"
    marker = venv / "podium-pins.txt"
    wanted = "\n".join(QUIX_PINS) + "\n"
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return str(python)
    print(f"building the Quix peer's virtualenv in {venv} (pip, from PyPI)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *QUIX_PINS], check=True)
    marker.write_text(wanted)
    return str(python)


def ceiling(count: int, users: int, rules: Path, log: Path) -> tuple[Report, float]:
    """The ceiling's report (see `tests.bench.ceiling`), run as a process of its own, and the
    seconds from its process's start to its exit."""
    peer = Peer(
        "ceiling", sys.executable, "tests.bench.ceiling", (str(count), str(users), str(rules))
    )
    started = time.perf_counter()
    proc = peer.start(log)
    proc.wait()
    process_seconds = time.perf_counter() - started
    report = Report.find(log.read_text())
    if report is None:
        raise RuntimeError(f"the ceiling printed no report (exit {proc.returncode}); see {log}")
    return report, process_seconds
