"""Session-wide real services for the tests.

Kafka and Redis come from, in order: `PODIUM_KAFKA_BOOTSTRAP` / `PODIUM_REDIS_URL` when set;
otherwise the local broker and redis-server from `deploy/`, started on free loopback ports in a
temporary folder and stopped at the end; otherwise, when a Docker engine answers,
testcontainers. If none of these works the integration tests fail — they are never skipped.
"""

from __future__ import annotations

import os
import random
import shutil
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from deploy.local import KafkaBroker, KafkaCluster, RedisServer, StartError, free_port, port_open
from deploy.settings import REPO_DIR

JAR_CACHE = Path(os.environ.get("PODIUM_RUN_DIR", REPO_DIR / ".podium")) / "jars"
METRICS_PORTS = ("GATEWAY", "WORKER", "RANKER", "PROJECTOR", "WEBHOOKS")
SESSION_STOP_S = 5.0  # a session broker's SIGTERM, then SIGKILL


@pytest.fixture(scope="session", autouse=True)
def free_metrics_ports() -> None:
    """Every process a test starts serves its metrics on a free port (several run at once,
    and other test runs may share the machine), unless the environment names one."""
    for process in METRICS_PORTS:
        os.environ.setdefault(f"PODIUM_{process}_METRICS_PORT", "0")


@pytest.fixture(scope="session", autouse=True)
def quick_start_brokers() -> None:
    """A broker a test starts through `podium up` (`make run`) runs C1 only: the tests start
    brokers many times and load them briefly (deploy/local.py), unless the environment says."""
    os.environ.setdefault("PODIUM_KAFKA_JVM", "quick-start")


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def services_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def kafka_bootstrap(services_dir: Path) -> Iterator[str]:
    if url := os.environ.get("PODIUM_KAFKA_BOOTSTRAP"):
        yield url
        return
    with ExitStack() as stack:
        if shutil.which("java"):
            broker = KafkaBroker(services_dir / "kafka", free_port(), free_port(), JAR_CACHE)
            # at the session's end its data goes with the temporary folder: a clean shutdown
            # of the thousands of partitions the tests made (up to 30 s) buys nothing
            stack.callback(broker.stop, SESSION_STOP_S)
            try:
                broker.start()
            except StartError as err:
                pytest.fail(f"local Kafka broker could not start: {err}")
            yield broker.bootstrap
        elif _docker_answers():
            from testcontainers.kafka import KafkaContainer

            container = stack.enter_context(KafkaContainer().with_kraft())
            yield container.get_bootstrap_server()
        else:
            pytest.fail("no Kafka: set PODIUM_KAFKA_BOOTSTRAP, install Java 17, or run Docker")


def free_port_run(count: int, avoid: range = range(0)) -> int:
    """The first of `count` consecutive free loopback ports (a local cluster's nodes), below
    the kernel's range for outgoing connections (32768 on), where a client's own port could
    take one between this check and the broker's bind."""
    for _ in range(200):
        first = random.randrange(20_000, 32_000)
        ports = range(first, first + count)
        if not set(ports) & set(avoid) and not any(port_open(p) for p in ports):
            return first
    raise StartError(f"no {count} consecutive free ports on 127.0.0.1")


@pytest.fixture(scope="session")
def kafka_cluster(services_dir: Path) -> Iterator[KafkaCluster]:
    """Three KRaft nodes (broker and controller each, one quorum), for the `cluster` tier:
    its tests stop and kill nodes, so nothing else shares it. Started only when asked for."""
    homes = [services_dir / f"cluster-{i}" for i in (1, 2, 3)]
    port = free_port_run(3)
    controller_port = free_port_run(3, avoid=range(port, port + 3))
    cluster = KafkaCluster(homes, port, controller_port, JAR_CACHE)
    try:
        cluster.start()
    except StartError as err:
        cluster.stop()
        pytest.fail(f"the local three-broker Kafka cluster could not start: {err}")
    try:
        yield cluster
    finally:
        cluster.stop(SESSION_STOP_S)


@pytest.fixture(scope="session")
def redis_url(services_dir: Path) -> Iterator[str]:
    if url := os.environ.get("PODIUM_REDIS_URL"):
        yield url
        return
    with ExitStack() as stack:
        if shutil.which("redis-server"):
            server = RedisServer(services_dir / "redis", free_port())
            stack.callback(server.stop)
            try:
                server.start()
            except StartError as err:
                pytest.fail(f"local redis-server could not start: {err}")
            yield server.url
        elif _docker_answers():
            from testcontainers.redis import RedisContainer

            container = stack.enter_context(RedisContainer())
            host, port = container.get_container_host_ip(), container.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
        else:
            pytest.fail("no Redis: set PODIUM_REDIS_URL, apt-get install redis-server, or Docker")


@pytest.fixture
def topic_prefix() -> str:
    """A fresh namespace for one test's topics and consumer groups."""
    return f"t{uuid.uuid4().hex[:10]}."
