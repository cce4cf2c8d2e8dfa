"""The real parts, run locally without Docker: a single-node Apache Kafka broker (KRaft combined
mode) assembled from Maven Central jars, and Debian's redis-server, both on loopback.

Everything lives in one run folder (git-ignored `.podium/` by default): the jar cache, each
service's data, logs and pid file. Starting waits until the service really answers; stopping
is SIGTERM plus a wait. Failures raise `StartError` with one line saying what is wrong and
what to do.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DEPLOY_DIR = Path(__file__).resolve().parent
POM = DEPLOY_DIR / "kafka" / "pom.xml"
KAFKA_VERSION = "4.1.2"
# Two JVM settings for the broker, both SerialGC and 512 MB (G1 held 371 MB RSS against 214).
# Measured with tests/bench/bench_broker_jvm.py (2026-12-02) and bench_answer_channel
# (2026-12-07, 500 events/s through the whole stack, 30 s windows, 2 shared cores):
# - SERVING (C2, the JVM's tiered default): starts in 12.7-14.9 s and burns 0.81 core in its
#   first 30 s of load while it compiles, then 0.33-0.35 core (0.67-0.71 CPU s per 1,000
#   events) with worker commits of 17 ms mean: what a broker that runs for long wants, `podium
#   up` and the benchmarks.
# - QUICK_START (C1 only): starts in 7.4 s, 0.51-0.54 core warm at the same load, commits of
#   28-32 ms mean: what the tests want, which start brokers many times and load them briefly.
SERVING_JVM_OPTS = ["-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-Djava.awt.headless=true"]
QUICK_START_JVM_OPTS = [*SERVING_JVM_OPTS, "-XX:TieredStopAtLevel=1"]
JVM_OPTS = {"serving": SERVING_JVM_OPTS, "quick-start": QUICK_START_JVM_OPTS}
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies"


class StartError(RuntimeError):
    """A service cannot start; the message is one line that says why and what to do."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _require_free(port: int, what: str) -> None:
    if port_open(port):
        raise StartError(
            f"port {port} for {what} is already taken on 127.0.0.1; stop whatever holds it "
            f"or choose another port (see `podium up --help`)"
        )


def _require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StartError(f"`{name}` is not installed: {hint}")
    return path


# --- Kafka jars ----------------------------------------------------------------------------


def ensure_kafka_jars(cache_dir: Path) -> Path:
    """The broker's runtime jars, downloaded with Maven once into `cache_dir` and reused."""
    cache_dir = cache_dir.resolve()  # Maven reads a relative output folder from the pom's
    lib = cache_dir / f"kafka-{KAFKA_VERSION}" / "lib"
    if (lib / ".complete").exists():
        return lib
    mvn = _require_tool("mvn", "install Maven (apt-get install -y maven) to fetch the Kafka jars")
    _require_tool("java", "install a Java 17+ runtime (apt-get install -y openjdk-17-jre-headless)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="kafka-lib-", dir=cache_dir))
    cmd = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(POM),
        DEPENDENCY_PLUGIN,
        "-DincludeScope=runtime",
        f"-DoutputDirectory={staging}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        detail = next((ln for ln in result.stdout.splitlines() if "[ERROR]" in ln), "")
        raise StartError(
            "Maven could not fetch the Kafka jars from Maven Central "
            f"(is the network to Maven Central reachable?) {detail.strip()[:200]}"
        )
    (staging / ".complete").write_text(KAFKA_VERSION + "\n")
    shutil.rmtree(lib, ignore_errors=True)
    lib.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(lib)
    return lib


# --- processes -----------------------------------------------------------------------------


@dataclass
class Service:
    """A background process with a pid file and a log file in its home folder."""

    name: str
    home: Path
    port: int

    @property
    def pid_file(self) -> Path:
        return self.home / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.home / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def running(self) -> bool:
        return self.pid() is not None

    def _spawn(self, cmd: list[str]) -> subprocess.Popen[bytes]:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.home,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        return proc

    def _wait_ready(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise StartError(
                    f"{self.name} exited with code {proc.returncode} while starting; "
                    f"see {self.log_file}"
                )
            if port_open(self.port):
                return
            time.sleep(0.1)
        self.stop()
        raise StartError(
            f"{self.name} did not answer on port {self.port} within {timeout:.0f} s; "
            f"see {self.log_file}"
        )

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM, wait, then SIGKILL if it will not go. True when something was stopped."""
        return bool(stop_together([self], timeout))

    def _wait_gone(self, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)


def stop_together(services: Sequence[Service], timeout: float = 30.0) -> list[str]:
    """SIGTERM to all, then wait for each (SIGKILL after `timeout`): the nodes of a cluster
    stopped one by one would leave the last without a quorum, waiting to shut down cleanly.
    The names of those that were running."""
    running = []
    for svc in services:
        pid = svc.pid()
        if pid is None:
            svc.pid_file.unlink(missing_ok=True)
            continue
        os.kill(pid, signal.SIGTERM)
        running.append((svc, pid))
    for svc, pid in running:
        svc._wait_gone(pid, timeout)
    return [svc.name for svc, _ in running]


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie that is not our child still answers kill(0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


class KafkaBroker(Service):
    """One KRaft node (broker and controller). Alone it is node 1 of a quorum of one; in a
    `KafkaCluster` it is one of `cluster_size` voters sharing the cluster's id."""

    def __init__(
        self,
        home: Path,
        port: int,
        controller_port: int,
        jar_cache: Path,
        jvm_opts: Sequence[str] = QUICK_START_JVM_OPTS,
        *,
        node_id: int = 1,
        voters: str | None = None,
        cluster_size: int = 1,
        cluster_id: str | None = None,
    ) -> None:
        super().__init__("kafka" if voters is None else f"kafka-{node_id}", home, port)
        self.controller_port = controller_port
        self.jar_cache = jar_cache
        self.jvm_opts = list(jvm_opts)
        self.node_id = node_id
        self.voters = voters or f"{node_id}@127.0.0.1:{controller_port}"
        self.cluster_size = cluster_size
        self.cluster_id = cluster_id

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> None:
        if self.running():
            return
        self._wait_ready(self.launch(), timeout)

    def launch(self) -> subprocess.Popen[bytes]:
        """Format the data folder if new and start the process; not waiting for it to answer
        (a node of a cluster answers only once a majority of the voters runs)."""
        java = _require_tool(
            "java", "install a Java 17+ runtime (apt-get install -y openjdk-17-jre-headless)"
        )
        _require_free(self.port, f"the Kafka broker {self.name}")
        _require_free(self.controller_port, f"the Kafka controller {self.name}")
        classpath = f"{ensure_kafka_jars(self.jar_cache)}/*"
        props = self._write_config()
        if not (self.home / "data" / "meta.properties").exists():
            self._format(java, classpath, props)
        return self._spawn(
            [
                java,
                *self.jvm_opts,
                f"-Dlog4j2.configurationFile={self.home / 'log4j2.yaml'}",
                f"-Dkafka.logs.dir={self.home}",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(props),
            ]
        )

    def formatted_cluster_id(self) -> str | None:
        """The cluster id this node's data folder was formatted with (None: not formatted)."""
        try:
            lines = (self.home / "data" / "meta.properties").read_text().splitlines()
        except OSError:
            return None
        return next((ln.split("=", 1)[1] for ln in lines if ln.startswith("cluster.id=")), None)

    def _format(self, java: str, classpath: str, props: Path) -> None:
        cluster_id = self.cluster_id or uuid.uuid4().hex[:22]
        tool = [java, *self.jvm_opts, "-cp", classpath, "kafka.tools.StorageTool"]
        fmt = subprocess.run(
            [*tool, "format", "-t", cluster_id, "-c", str(props), "--ignore-formatted"],
            capture_output=True,
            text=True,
            check=False,
        )
        if fmt.returncode != 0:
            raise StartError(f"formatting Kafka storage failed: {fmt.stderr.strip()[:300]}")

    def _write_config(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "log4j2.yaml").write_text((DEPLOY_DIR / "kafka" / "log4j2.yaml").read_text())
        template = (DEPLOY_DIR / "kafka" / "server.properties").read_text()
        props = self.home / "server.properties"
        factor = min(self.cluster_size, 3)  # the internal topics: as the catalogue's default
        props.write_text(
            template.format(
                node_id=self.node_id,
                voters=self.voters,
                port=self.port,
                controller_port=self.controller_port,
                data=self.home / "data",
                internal_factor=factor,
                internal_min_insync=2 if factor >= 3 else 1,
            )
        )
        return props


class KafkaCluster:
    """`size` KRaft nodes on loopback, each broker and controller, one controller quorum of
    all of them: node i (from 1) serves clients on `port + i - 1` and the quorum on
    `controller_port + i - 1`, with its data and log in `home_of(i)`. One node is the plain
    single broker (`kafka`, in `home_of(1)`)."""

    def __init__(
        self,
        homes: Sequence[Path],
        port: int,
        controller_port: int,
        jar_cache: Path,
        jvm_opts: Sequence[str] = QUICK_START_JVM_OPTS,
    ) -> None:
        size = len(homes)
        clients = set(range(port, port + size))
        controllers = set(range(controller_port, controller_port + size))
        if clients & controllers:
            raise StartError(
                f"the Kafka controller ports {_span(controller_port, size)} overlap the broker "
                f"ports {_span(port, size)}; set PODIUM_KAFKA_CONTROLLER_PORT apart from them"
            )
        voters = ",".join(f"{i + 1}@127.0.0.1:{controller_port + i}" for i in range(size))
        self.brokers = tuple(
            KafkaBroker(
                home,
                port + i,
                controller_port + i,
                jar_cache,
                jvm_opts,
                node_id=i + 1,
                voters=voters if size > 1 else None,
                cluster_size=size,
            )
            for i, home in enumerate(homes)
        )

    @property
    def bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.brokers)

    def start(self, timeout: float = 120.0) -> None:
        """Start the nodes that are not running, all before waiting for any: a node answers
        clients only once a majority of the quorum is up. They share one cluster id: the one
        a node's data was formatted with, else a new one."""
        known = (b.formatted_cluster_id() for b in self.brokers)
        cluster_id = next((c for c in known if c), None) or uuid.uuid4().hex[:22]
        launched = []
        try:
            for broker in self.brokers:
                if not broker.running():
                    broker.cluster_id = cluster_id
                    launched.append((broker, broker.launch()))
            for broker, proc in launched:
                broker._wait_ready(proc, timeout)
        except StartError:
            for broker, _ in launched:
                broker.stop()
            raise

    def stop(self, timeout: float = 30.0) -> list[str]:
        """Stop every node (SIGKILL after `timeout`); the names of those that were running."""
        return stop_together(self.brokers, timeout)


def _span(first: int, count: int) -> str:
    return str(first) if count == 1 else f"{first}-{first + count - 1}"


class RedisServer(Service):
    """redis-server keeping the views in an append-only file in its home folder, so they
    outlive `podium down` and a kill -9 of the processes: with `appendfsync everysec` Redis
    writes each command to the file (the OS's cache) before it answers, and the file reaches
    the disk within a second. A crash of the machine may lose that last second
    (`podium views rebuild` restores it); a Redis that comes back empty is rebuilt by the
    projector by itself (`processors.projector`)."""

    def __init__(self, home: Path, port: int) -> None:
        super().__init__("redis", home, port)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15.0) -> None:
        if self.running():
            return
        binary = _require_tool(
            "redis-server",
            "install it with `apt-get install -y redis-server` "
            "(Debian) or your system's package manager",
        )
        _require_free(self.port, "Redis")
        proc = self._spawn(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.home),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
            ]
        )
        self._wait_ready(proc, timeout)
