"""The real Kafka and Redis for a benchmark run: the ones named by PODIUM_KAFKA_BOOTSTRAP /
PODIUM_REDIS_URL, or fresh local ones in a temporary folder, stopped at the end."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy.local import KafkaBroker, RedisServer, free_port
from deploy.settings import Settings


@contextmanager
def bench_services() -> Iterator[tuple[str, str]]:
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="podium-bench-") as tmp:
        home = Path(tmp)
        broker = KafkaBroker(home / "kafka", free_port(), free_port(), settings.run_dir / "jars")
        redis = RedisServer(home / "redis", free_port())
        try:
            bootstrap = os.environ.get("PODIUM_KAFKA_BOOTSTRAP")
            if bootstrap is None:
                broker.start()
                bootstrap = broker.bootstrap
            redis_url = os.environ.get("PODIUM_REDIS_URL")
            if redis_url is None:
                redis.start()
                redis_url = redis.url
            yield bootstrap, redis_url
        finally:
            redis.stop()
            broker.stop()
