"""The local stack: the Kafka broker and Redis from `deploy.local`, under the run folder named
by the settings, plus the topic catalogue created on the broker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import NewTopic

from deploy.local import (
    JVM_OPTS,
    KafkaCluster,
    RedisServer,
    Service,
    StartError,
    stop_together,
)
from deploy.settings import Settings
from processors.runtime import kafka
from schemas.topics import CATALOGUE, Topic


class PodiumProcess(Service):
    """A `podium <command>` process (worker, ranker, projector, gateway) with its own environment:
    the settings reach it as PODIUM_* variables. `port` 0 means it listens on none."""

    def __init__(self, name: str, home: Path, port: int, command: list[str]) -> None:
        super().__init__(name, home, port)
        self.command = command

    @property
    def url_file(self) -> Path:
        """Where the process writes its metrics URL once it listens (`podium status`)."""
        return self.home / "metrics.url"

    def metrics_url(self) -> str | None:
        try:
            return self.url_file.read_text().strip() or None
        except OSError:
            return None

    def wait_consuming(self, timeout: float = 120.0) -> None:
        """Until the process's /readyz answers 200: it owns its partitions, has restored
        their state and is near the end of its input (`processors.runtime.health`). After a
        kill -9 that takes the group's session timeout (the dead member's partitions) and a
        restore."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            url = self.metrics_url()  # its /metrics, written once it listens
            if url is not None and answers_200(url.removesuffix("/metrics") + "/readyz"):
                return
            time.sleep(0.2)
        raise StartError(
            f"{self.name} was not ready within {timeout:.0f} s (its /readyz says why); "
            f"see {self.log_file}"
        )

    def start(self, env: dict[str, str], timeout: float = 30.0) -> None:
        if self.running():
            return
        self.home.mkdir(parents=True, exist_ok=True)
        self.url_file.unlink(missing_ok=True)  # a killed process's: its port is gone
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "deploy.cli", *self.command],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=REPO,
                env={**os.environ, **env, "PODIUM_METRICS_URL_FILE": str(self.url_file)},
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        if self.port:
            self._wait_ready(proc, timeout)
            return
        time.sleep(1.0)  # no port to probe: it must at least survive its start
        if proc.poll() is not None:
            raise StartError(
                f"{self.name} exited with code {proc.returncode} while starting; "
                f"see {self.log_file}"
            )


REPO = Path(__file__).resolve().parent.parent


def answers_200(url: str) -> bool:
    """Whether a GET of `url` answers 200 now (a refused or failed request: False)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_ready(url: str, timeout: float = 30.0) -> None:
    """Poll the gateway's /ready until it answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers_200(url):
            return
        time.sleep(0.2)
    raise StartError(f"the gateway at {url} did not become ready within {timeout:.0f} s")


@dataclass
class Stack:
    kafka: KafkaCluster
    redis: RedisServer
    apps: tuple[PodiumProcess, ...] = field(default_factory=tuple)
    # started by `podium run` only when configured (the webhook dispatcher: an endpoint set)
    optional: tuple[PodiumProcess, ...] = field(default_factory=tuple)

    @classmethod
    def local(cls, settings: Settings) -> Stack:
        run = settings.run_dir
        count = settings.kafka_brokers
        homes = [run / "kafka"] if count == 1 else [run / f"kafka-{i}" for i in range(1, count + 1)]
        return cls(
            kafka=KafkaCluster(
                homes,
                settings.kafka_port,
                settings.controller_port,
                jar_cache=run / "jars",
                jvm_opts=JVM_OPTS[settings.kafka_jvm],
            ),
            redis=RedisServer(run / "redis", settings.redis_port),
            apps=(
                PodiumProcess("worker", run / "worker", 0, ["worker"]),
                PodiumProcess("ranker", run / "ranker", 0, ["ranker"]),
                PodiumProcess("projector", run / "projector", 0, ["projector"]),
                PodiumProcess("gateway", run / "gateway", settings.gateway_port, ["gateway"]),
            ),
            optional=(PodiumProcess("webhooks", run / "webhooks", 0, ["webhooks"]),),
        )

    @property
    def services(self) -> tuple[Service, ...]:
        return (*self.kafka.brokers, self.redis, *self.apps, *self.optional)

    def down(self) -> list[str]:
        """Stop everything; the names of what was running. Brokers of another cluster size
        left running in the run folder (started with another PODIUM_KAFKA_BROKERS) go too."""
        apps = (*reversed(self.optional), *reversed(self.apps), self.redis)
        stopped = [svc.name for svc in apps if svc.stop()]
        known = {b.name for b in self.kafka.brokers}
        left = [
            Service(pid_file.stem, pid_file.parent, 0)
            for pid_file in sorted(self.redis.home.parent.glob("kafka*/kafka*.pid"))
            if pid_file.stem not in known
        ]
        return stopped + stop_together([*self.kafka.brokers, *left])


@dataclass(frozen=True, slots=True)
class Replication:
    """How the topics are replicated: `factor` copies of each partition, of which
    `min_insync` must have a write before the producers' acks=all answers it."""

    factor: int
    min_insync: int


def replication(brokers: int, factor: int | None, min_insync: int | None) -> Replication:
    """The replication for a cluster of `brokers` (the settings' values, None = the default:
    1/1 on one broker, 2/1 on two, 3/2 on three or more). Raises `StartError` for a factor the
    cluster cannot hold or a minimum above the factor."""
    chosen = factor if factor is not None else min(brokers, 3)
    if chosen < 1 or chosen > brokers:
        raise StartError(
            f"replication factor {chosen} is larger than the cluster ({brokers} broker"
            f"{'s' if brokers != 1 else ''})"
            if chosen > brokers
            else f"replication factor {chosen}: it must be at least 1"
        )
    least = min_insync if min_insync is not None else (2 if chosen >= 3 else 1)
    if not 1 <= least <= chosen:
        raise StartError(
            f"min.insync.replicas {least} must be between 1 and the replication factor {chosen}"
        )
    return Replication(chosen, least)


async def create_topics(
    bootstrap: str,
    prefix: str = "",
    topics: tuple[Topic, ...] = CATALOGUE,
    factor: int | None = None,
    min_insync: int | None = None,
) -> list[str]:
    """Create the catalogue's topics with their configs, replicated as `replication` says for
    this cluster; existing ones are left as they are."""
    return await asyncio.to_thread(_create_topics, bootstrap, prefix, topics, factor, min_insync)


def _create_topics(
    bootstrap: str,
    prefix: str,
    topics: tuple[Topic, ...],
    factor: int | None,
    min_insync: int | None,
) -> list[str]:
    admin = kafka.admin(bootstrap)
    cluster = admin.describe_cluster(request_timeout=30).result(timeout=60)
    copies = replication(len(cluster.nodes), factor, min_insync)
    existing = set(admin.list_topics(timeout=30).topics)
    wanted = [
        NewTopic(
            t.named(prefix),
            num_partitions=t.partitions,
            replication_factor=copies.factor,
            config={**t.config, "min.insync.replicas": str(copies.min_insync)},
        )
        for t in topics
        if t.named(prefix) not in existing
    ]
    if not wanted:
        return []
    for future in admin.create_topics(wanted, request_timeout=30).values():
        try:
            future.result(timeout=60)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return [t.topic for t in wanted]


def ensure_topics(settings: Settings) -> list[str]:
    return asyncio.run(
        create_topics(
            settings.bootstrap,
            settings.topic_prefix,
            settings.topics,
            factor=settings.topic_replication_factor,
            min_insync=settings.topic_min_insync_replicas,
        )
    )
