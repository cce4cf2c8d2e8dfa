"""Fixtures for the stream runtime's integration tests: the catalogue's topics under a fresh
prefix, worker settings for it, and `podium worker` subprocesses stopped at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deploy.settings import Settings
from deploy.stack import create_topics
from schemas.rules import Rules
from schemas.rules_parse import load_rules
from schemas.topics import Names
from tests.integration.runtime.kafka_io import WorkerProcess
from tests.rules import WRITING_PATH

RULES_PATH = WRITING_PATH


@pytest.fixture
def rules() -> Rules:
    return load_rules(RULES_PATH)


@pytest.fixture
async def names(kafka_bootstrap: str, topic_prefix: str) -> Names:
    await create_topics(kafka_bootstrap, topic_prefix)
    return Names(topic_prefix)


@pytest.fixture
def worker_env(kafka_bootstrap: str, names: Names) -> dict[str, str]:
    return {
        "PODIUM_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "PODIUM_TOPIC_PREFIX": names.prefix,
        "PODIUM_RULES_PATH": str(RULES_PATH),
        "PODIUM_WORKER_SESSION_TIMEOUT_MS": "6000",
        "PODIUM_TRANSACTION_TIMEOUT_MS": "8000",
        "PODIUM_FENCE_BACKOFF_S": "1.0",
        "PODIUM_LOG_LEVEL": "INFO",
    }


@pytest.fixture
def settings(worker_env: dict[str, str]) -> Settings:
    return Settings.model_validate(
        {k.removeprefix("PODIUM_").lower(): v for k, v in worker_env.items()}
    )


@pytest.fixture
def spawn(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def _spawn(*command: str, env: dict[str, str] | None = None) -> WorkerProcess:
        """A process of its own transactional id (`proc-<n>`, unless `env` names one: a
        restart under the same id fences its former incarnation at once)."""
        n = len(started)
        own = {"PODIUM_WORKER_ID": f"proc-{n}"}
        proc = WorkerProcess(
            {**worker_env, **own, **(env or {})}, tmp_path / f"proc-{n}.log", command or ("worker",)
        ).start()
        started.append(proc)
        return proc

    yield _spawn
    for proc in started:
        proc.stop()
    for proc in started:  # the logs tell what happened when a test fails
        print(f"--- {proc.log_path.name} ---\n{proc.log()[-4000:]}")
