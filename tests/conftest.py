"""Session-wide real services for the tests.

Kafka and Redis come from, in order: `PODIUM_KAFKA_BOOTSTRAP` / `PODIUM_REDIS_URL` when set;
otherwise the local broker and redis-server from `deploy/`, started on free loopback ports in a
temporary folder and stopped at the end; otherwise, when a Docker engine answers,
testcontainers. If none of these works the integration tests fail — they are never skipped.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from deploy.local import KafkaBroker, RedisServer, StartError, free_port
from deploy.settings import REPO_DIR

JAR_CACHE = Path(os.environ.get("PODIUM_RUN_DIR", REPO_DIR / ".podium")) / "jars"
METRICS_PORTS = ("GATEWAY", "WORKER", "RANKER", "PROJECTOR", "WEBHOOKS")


@pytest.fixture(scope="session", autouse=True)
def free_metrics_ports() -> None:
    """Every process a test starts serves its metrics on a free port (several run at once,
    and other test runs may share the machine), unless the environment names one."""
    for process in METRICS_PORTS:
        os.environ.setdefault(f"PODIUM_{process}_METRICS_PORT", "0")


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
            stack.callback(broker.stop)
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
