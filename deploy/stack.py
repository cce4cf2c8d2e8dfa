"""The local stack: the Kafka broker and Redis from `deploy.local`, under the run folder named
by the settings, plus the topic catalogue created on the broker."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from deploy.local import KafkaBroker, RedisServer, Service
from deploy.settings import Settings
from schemas.topics import CATALOGUE, Topic


@dataclass
class Stack:
    kafka: KafkaBroker
    redis: RedisServer

    @classmethod
    def local(cls, settings: Settings) -> Stack:
        run = settings.run_dir
        return cls(
            kafka=KafkaBroker(
                run / "kafka",
                settings.kafka_port,
                settings.kafka_controller_port,
                jar_cache=run / "jars",
            ),
            redis=RedisServer(run / "redis", settings.redis_port),
        )

    @property
    def services(self) -> tuple[Service, ...]:
        return (self.kafka, self.redis)

    def down(self) -> list[str]:
        """Stop everything; the names of what was running."""
        return [svc.name for svc in reversed(self.services) if svc.stop()]


async def create_topics(
    bootstrap: str, prefix: str = "", topics: tuple[Topic, ...] = CATALOGUE
) -> list[str]:
    """Create the catalogue's topics with their configs; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                t.named(prefix),
                num_partitions=t.partitions,
                replication_factor=1,
                topic_configs=dict(t.config),
            )
            for t in topics
            if t.named(prefix) not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted)
        return [t.name for t in wanted]
    finally:
        await admin.close()


def ensure_topics(settings: Settings) -> list[str]:
    return asyncio.run(create_topics(settings.bootstrap, settings.topic_prefix))
