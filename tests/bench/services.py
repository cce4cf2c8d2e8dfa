"""The real Kafka and Redis for a benchmark run: the ones named by PODIUM_KAFKA_BOOTSTRAP /
PODIUM_REDIS_URL, or fresh local ones in a temporary folder, stopped at the end. A broker
started here opens JMX on 127.0.0.1 (`usage.jmx_opts`) so a benchmark can read its request
rates; one named from outside has no known pid or JMX port."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from deploy.local import SERVING_JVM_OPTS, KafkaBroker, RedisServer, free_port
from deploy.settings import Settings
from tests.bench.usage import jmx_opts


class Services(NamedTuple):
    bootstrap: str
    redis_url: str
    broker_pid: int | None  # None: a broker named by PODIUM_KAFKA_BOOTSTRAP
    jmx_port: int | None


@contextmanager
def metered_services() -> Iterator[Services]:
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="podium-bench-") as tmp:
        home = Path(tmp)
        jmx_port = free_port()
        broker = KafkaBroker(
            home / "kafka",
            free_port(),
            free_port(),
            settings.run_dir / "jars",
            jvm_opts=[*SERVING_JVM_OPTS, *jmx_opts(jmx_port)],
        )
        redis = RedisServer(home / "redis", free_port())
        try:
            bootstrap = os.environ.get("PODIUM_KAFKA_BOOTSTRAP")
            ours = bootstrap is None
            if bootstrap is None:
                broker.start()
                bootstrap = broker.bootstrap
            redis_url = os.environ.get("PODIUM_REDIS_URL")
            if redis_url is None:
                redis.start()
                redis_url = redis.url
            pid = broker.pid() if ours else None
            yield Services(bootstrap, redis_url, pid, jmx_port if ours else None)
        finally:
            redis.stop()
            broker.stop()


@contextmanager
def bench_services() -> Iterator[tuple[str, str]]:
    with metered_services() as services:
        yield services.bootstrap, services.redis_url
