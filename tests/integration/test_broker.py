"""The local broker is a real Kafka fit for Podium: topic configs stick, idempotent producing
round-trips, transactions commit and abort, a new producer fences an old one; Redis answers."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, ProducerFenced

from deploy.local import StartError
from deploy.stack import create_topics
from schemas.topics import CATALOGUE, EVENTS, STATE

pytestmark = pytest.mark.integration


async def _topic_configs(bootstrap: str, name: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [resp] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        [(_, _, _, _, entries)] = resp.resources
        return {entry[0]: entry[1] for entry in entries}
    finally:
        await admin.close()


async def _new_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def _read_all(
    bootstrap: str, topic: str, isolation: str, expect_at_least: int = 0, within: float = 5.0
) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level=isolation,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        values: list[bytes] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            values += [rec.value for recs in batch.values() for rec in recs if rec.value]
            if not batch and len(values) >= expect_at_least:
                break
        return values
    finally:
        await consumer.stop()


async def test_catalogue_topics_keep_their_configs(kafka_bootstrap: str, topic_prefix: str) -> None:
    created = await create_topics(kafka_bootstrap, topic_prefix)
    assert sorted(created) == sorted(t.named(topic_prefix) for t in CATALOGUE)

    state = await _topic_configs(kafka_bootstrap, STATE.named(topic_prefix))
    assert state["cleanup.policy"] == "compact"
    events = await _topic_configs(kafka_bootstrap, EVENTS.named(topic_prefix))
    assert events["cleanup.policy"] == "delete"
    assert events["retention.ms"] == "-1"
    assert events["retention.bytes"] == "-1"
    assert events["min.insync.replicas"] == "1"  # one broker: 1/1

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        [meta] = await admin.describe_topics([EVENTS.named(topic_prefix)])
        assert len(meta["partitions"]) == EVENTS.partitions
    finally:
        await admin.close()
    # A second run creates nothing and changes nothing.
    assert await create_topics(kafka_bootstrap, topic_prefix) == []


async def test_a_replication_factor_larger_than_the_cluster_is_refused_and_says_so(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    with pytest.raises(
        StartError, match=r"^replication factor 3 is larger than the cluster \(1 broker\)"
    ):
        await create_topics(kafka_bootstrap, f"{topic_prefix}rf3.", factor=3)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        assert not [t for t in await admin.list_topics() if t.startswith(f"{topic_prefix}rf3.")]
    finally:
        await admin.close()


async def test_idempotent_producer_round_trips(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}roundtrip"
    await _new_topic(kafka_bootstrap, topic)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        sent = [f"event-{i}".encode() for i in range(200)]
        for value in sent:
            await producer.send(topic, value, key=b"user-18")
        await producer.flush()
    finally:
        await producer.stop()
    assert await _read_all(kafka_bootstrap, topic, "read_uncommitted", len(sent)) == sent


async def test_transactions_commit_and_abort(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}txn"
    await _new_topic(kafka_bootstrap, topic)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"{topic_prefix}txn-{uuid.uuid4().hex}"
    )
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed-1")
            await producer.send_and_wait(topic, b"committed-2")
        await producer.begin_transaction()
        await producer.send_and_wait(topic, b"aborted")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed-3")
    finally:
        await producer.stop()

    committed = await _read_all(kafka_bootstrap, topic, "read_committed", 3)
    assert committed == [b"committed-1", b"committed-2", b"committed-3"]
    everything = await _read_all(kafka_bootstrap, topic, "read_uncommitted", 4)
    assert b"aborted" in everything


async def test_second_producer_with_same_transactional_id_fences_first(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}fence"
    await _new_topic(kafka_bootstrap, topic)
    txn_id = f"{topic_prefix}fenced-{uuid.uuid4().hex}"
    old = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=txn_id)
    new = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=txn_id)
    await old.start()
    try:
        await old.begin_transaction()
        await old.send_and_wait(topic, b"from-old-before-fence")
        await new.start()  # init_transactions bumps the epoch and aborts old's open transaction
        try:
            async with new.transaction():
                await new.send_and_wait(topic, b"from-new")
            with pytest.raises(ProducerFenced):
                await old.send_and_wait(topic, b"from-old-after-fence")
                await old.commit_transaction()
        finally:
            await new.stop()
    finally:
        with contextlib.suppress(KafkaError):
            await old.stop()
    assert await _read_all(kafka_bootstrap, topic, "read_committed", 1) == [b"from-new"]


async def test_redis_set_get(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        key = f"podium:test:{uuid.uuid4().hex}"
        assert await client.set(key, "750")
        assert await client.get(key) == b"750"
        assert await client.delete(key) == 1
    finally:
        await client.aclose()
