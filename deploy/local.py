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
# Measured beside C2 (tiered), G1 and a 256 MB heap with tests/bench/bench_broker_jvm.py on
# 2026-12-02 (2 shared cores, docs/fast-path.md): C1 only + SerialGC starts in 7.4 s (C2:
# 12.7-14.9 s), holds 214 MB RSS after the run (C2 + Serial 251-256, G1 371), commits the most
# small transactions (76/s warm, 7.2 ms broker CPU each; C2 41-52/s, 15-19 ms while it still
# compiles) and one large transaction fastest (255 k records/s; C2 161-208 k). Kept.
JVM_OPTS = [
    "-Xms64m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
]
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
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        return True


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
    def __init__(
        self,
        home: Path,
        port: int,
        controller_port: int,
        jar_cache: Path,
        jvm_opts: Sequence[str] = JVM_OPTS,
    ) -> None:
        super().__init__("kafka", home, port)
        self.controller_port = controller_port
        self.jar_cache = jar_cache
        self.jvm_opts = list(jvm_opts)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> None:
        if self.running():
            return
        java = _require_tool(
            "java", "install a Java 17+ runtime (apt-get install -y openjdk-17-jre-headless)"
        )
        _require_free(self.port, "the Kafka broker")
        _require_free(self.controller_port, "the Kafka controller")
        lib = ensure_kafka_jars(self.jar_cache)
        classpath = f"{lib}/*"
        props = self._write_config()
        data = self.home / "data"
        if not (data / "meta.properties").exists():
            cluster_id = uuid.uuid4().hex[:22]
            fmt = subprocess.run(
                [
                    java,
                    *self.jvm_opts,
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(props),
                    "--ignore-formatted",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if fmt.returncode != 0:
                raise StartError(f"formatting Kafka storage failed: {fmt.stderr.strip()[:300]}")
        proc = self._spawn(
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
        self._wait_ready(proc, timeout)

    def _write_config(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "log4j2.yaml").write_text((DEPLOY_DIR / "kafka" / "log4j2.yaml").read_text())
        template = (DEPLOY_DIR / "kafka" / "server.properties").read_text()
        props = self.home / "server.properties"
        props.write_text(
            template.format(
                port=self.port, controller_port=self.controller_port, data=self.home / "data"
            )
        )
        return props


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
