"""What a measured run cost: CPU seconds per 1,000 events of each process (from
/proc/<pid>/stat) and the broker's request rates from the broker's own metrics (its JMX beans
`kafka.network:type=RequestMetrics,name=RequestsPerSec,request=R`, read by `JmxCounts.java`,
a single-file Java source run by the JDK: the jar cache holds the broker's runtime jars only,
not kafka-tools with its JmxTool), and the broker's CPU split by its threads' work (requests,
the JIT compiler, the rest; from /proc/<pid>/task), so a broker still compiling is told apart
from one serving.

A benchmark starts its broker with `jmx_opts(port)` added to the JVM options (JMX on
127.0.0.1 only, for benchmarks; `deploy/local.py`'s own broker has none), takes a `Usage`
before the measured part and calls `Usage.report(events)` after it. bench_runtime prints it
with every throughput figure; bench_gateway and bench_fastpath can do the same.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.bench.stages import TICKS, cpu_seconds

REQUESTS = ("Produce", "FetchConsumer", "EndTxn", "AddPartitionsToTxn", "TxnOffsetCommit")
BEAN = "kafka.network:type=RequestMetrics,name=RequestsPerSec,request={}"
JMX_COUNTS = Path(__file__).with_name("JmxCounts.java")


def jmx_opts(port: int) -> list[str]:
    """JVM options that open JMX on 127.0.0.1:`port` (no authentication: loopback only)."""
    return [
        "-Dcom.sun.management.jmxremote",
        f"-Dcom.sun.management.jmxremote.port={port}",
        f"-Dcom.sun.management.jmxremote.rmi.port={port}",
        "-Dcom.sun.management.jmxremote.host=127.0.0.1",
        "-Djava.rmi.server.hostname=127.0.0.1",
        "-Dcom.sun.management.jmxremote.authenticate=false",
        "-Dcom.sun.management.jmxremote.ssl=false",
        "-Dcom.sun.management.jmxremote.local.only=true",
    ]


def parse_counts(text: str, requests: Sequence[str] = REQUESTS) -> dict[str, float]:
    """{request: Count} from JmxCounts' lines (`<bean name>\t<count>`); a request whose bean
    is not listed is 0 (the broker registers a request's bean on its first such request)."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        name, sep, count = line.rpartition("\t")
        if sep:
            found[name] = float(count)
    return {request: found.get(BEAN.format(request), 0.0) for request in requests}


def read_request_counts(jmx_port: int, requests: Sequence[str] = REQUESTS) -> dict[str, float]:
    """The broker's request counts so far, by request type (one short JVM run of JmxCounts)."""
    java = shutil.which("java") or "java"
    beans = [BEAN.format(request) for request in requests]
    cmd = [java, "-Xmx64m", "-XX:TieredStopAtLevel=1", str(JMX_COUNTS), str(jmx_port), *beans]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise ValueError(f"JmxCounts failed: {done.stderr.strip()[:300]}")
    return parse_counts(done.stdout, requests)


def thread_group(name: str) -> str:
    """The part of the broker a JVM thread (its Linux name, cut to 15 characters) works for:
    `requests` (the network and request handler threads, `data-plane-kafka-…`), `JIT` (the
    C1/C2 compiler threads, busy in a fresh broker's first minutes) or `other`."""
    if name.startswith("data-plane"):
        return "requests"
    if "CompilerThre" in name:
        return "JIT"
    return "other"


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of a process's threads, summed by `thread_group`."""
    groups = dict.fromkeys(("requests", "JIT", "other"), 0.0)
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        groups[thread_group(name)] += (int(fields[11]) + int(fields[12])) / TICKS
    return groups


def per_thousand(cpu: float, events: int) -> float:
    """CPU seconds per 1,000 events (nan when no event was processed)."""
    return cpu * 1000 / events if events > 0 else float("nan")


def rates(
    before: Mapping[str, float], after: Mapping[str, float], seconds: float
) -> dict[str, float]:
    """Requests per second of each type between two readings of the counts."""
    if seconds <= 0:
        return {name: float("nan") for name in after}
    return {name: (after[name] - before.get(name, 0.0)) / seconds for name in after}


@dataclass
class Usage:
    """CPU of named processes and the broker's request counts from now until `report`."""

    pids: Mapping[str, int]
    jmx_port: int | None = None
    _cpu0: dict[str, float] = field(default_factory=dict)
    _requests0: dict[str, float] = field(default_factory=dict)
    _threads0: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._cpu0 = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._requests0 = self._requests()
        if "broker" in self.pids:
            self._threads0 = thread_cpu(self.pids["broker"])

    def _requests(self) -> dict[str, float]:
        if self.jmx_port is None:
            return {}
        try:
            return read_request_counts(self.jmx_port)
        except (ValueError, OSError, subprocess.TimeoutExpired) as err:
            print(f"    (broker metrics unavailable: {err})", flush=True)
            return {}

    def cpu(self, extra: Mapping[str, int] | None = None) -> dict[str, float]:
        """CPU seconds used since the start by each process (and `extra` ones from 0)."""
        used = {name: cpu_seconds(pid) - self._cpu0[name] for name, pid in self.pids.items()}
        used.update((name, cpu_seconds(pid)) for name, pid in (extra or {}).items())
        return used

    def report(self, events: int, cpu: Mapping[str, float], seconds: float) -> str:
        """`cpu` (from `cpu()`, taken when the measured part ended) per 1,000 events, and the
        broker's request rates over the measured `seconds` (counts read now, before the
        measured processes stop: the reading itself adds about a second of their idle polls)."""
        parts = [f"{name} {per_thousand(used, events):.3f}" for name, used in cpu.items()]
        line = "CPU s/1k events: " + ", ".join(parts)
        after = self._requests()
        if after and self._requests0:
            shown = rates(self._requests0, after, seconds)
            line += "; broker req/s: " + ", ".join(f"{k} {v:,.1f}" for k, v in shown.items())
        if self._threads0 and seconds > 0:
            threads = thread_cpu(self.pids["broker"])
            line += "; broker threads (core): " + ", ".join(
                f"{k} {(threads[k] - self._threads0[k]) / seconds:.3f}" for k in threads
            )
        return line
