"""`PODIUM_KAFKA_BROKERS=3 podium up` runs three KRaft brokers, creates the topics with three
copies, two in sync, and the partitions the settings ask for; `podium status` lists each
broker with its pid and node id; `podium down` stops them all, even when asked without
PODIUM_KAFKA_BROKERS."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka.admin import ConfigResource, ResourceType

from deploy.local import ensure_kafka_jars
from processors.runtime import kafka
from tests.conftest import JAR_CACHE, free_port_run
from tests.integration.test_local_stack import _running

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def _podium(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _layout(bootstrap: str, topics: list[str]) -> dict[str, tuple[int, set[int], str]]:
    """Per topic: its partition count, the replica counts of its partitions, and its
    min.insync.replicas."""
    admin = kafka.admin(bootstrap)
    described = admin.list_topics(timeout=10).topics
    asked = [ConfigResource(ResourceType.TOPIC, t) for t in topics]
    configs = {
        res.name: future.result(timeout=10)
        for res, future in admin.describe_configs(asked, request_timeout=10).items()
    }
    return {
        t: (
            len(described[t].partitions),
            {len(p.replicas) for p in described[t].partitions.values()},
            configs[t]["min.insync.replicas"].value,
        )
        for t in topics
    }


def test_three_brokers_up_listed_and_down(tmp_path: Path) -> None:
    ensure_kafka_jars(JAR_CACHE)
    (tmp_path / "jars").symlink_to(JAR_CACHE.resolve(), target_is_directory=True)
    port, controllers = free_port_run(3), free_port_run(3)
    while set(range(controllers, controllers + 3)) & set(range(port, port + 3)):
        controllers = free_port_run(3)
    env = {
        "PODIUM_RUN_DIR": str(tmp_path),
        "PODIUM_KAFKA_PORT": str(port),
        "PODIUM_KAFKA_CONTROLLER_PORT": str(controllers),
        "PODIUM_REDIS_PORT": str(free_port_run(1)),
        "PODIUM_TOPIC_PARTITIONS": "3",
        "PODIUM_TOPIC_SCORE_PARTITIONS": "2",
    }
    pids: list[int] = []
    up = _podium({**env, "PODIUM_KAFKA_BROKERS": "3"}, "up")
    try:
        assert up.returncode == 0, up.stderr
        status = _podium({**env, "PODIUM_KAFKA_BROKERS": "3"}, "status").stdout.splitlines()
        brokers = [line.split() for line in status if line.startswith("kafka")]
        pids += [int((tmp_path / f"kafka-{n}" / f"kafka-{n}.pid").read_text()) for n in (1, 2, 3)]
        assert [b[0] for b in brokers] == ["kafka-1", "kafka-2", "kafka-3"]
        for n, (line, pid) in enumerate(zip(brokers, pids, strict=True), start=1):
            assert " ".join(line[1:]) == f"running (pid {pid}, port {port + n - 1}, node {n})"
        bootstrap = f"127.0.0.1:{port + 2}"  # any broker answers for the cluster
        layout = _layout(bootstrap, ["podium.events", "podium.scores"])
        assert layout == {"podium.events": (3, {3}, "2"), "podium.scores": (2, {3}, "2")}
    finally:
        down = _podium(env, "down")  # without PODIUM_KAFKA_BROKERS: still all of them
    assert down.returncode == 0, down.stderr
    assert down.stdout.strip() == "stopped: redis, kafka-1, kafka-2, kafka-3"
    assert [pid for pid in pids if _running(pid)] == []
