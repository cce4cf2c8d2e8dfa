"""The local broker is a real Kafka fit for Podium: topic configs stick, idempotent producing
round-trips, transactions commit and abort, a new producer fences an old one; Redis answers."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import ConfigResource, NewTopic, ResourceType

from deploy.local import StartError
from deploy.stack import create_topics
from processors.runtime import kafka
from schemas.topics import CATALOGUE, EVENTS, STATE

pytestmark = pytest.mark.integration


def _topic_configs(bootstrap: str, name: str) -> dict[str, str]:
    admin = kafka.admin(bootstrap)
    [future] = admin.describe_configs([ConfigResource(ResourceType.TOPIC, name)]).values()
    return {key: entry.value for key, entry in future.result(timeout=30).items()}


def _new_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    admin = kafka.admin(bootstrap)
    [future] = admin.create_topics([NewTopic(name, partitions, 1)]).values()
    future.result(timeout=30)


def _read_all(bootstrap: str, topic: str, committed: bool) -> list[bytes]:
    """Every value of partition 0 up to its end (stable or high)."""
    batches = kafka.read_range(bootstrap, topic, [0], committed=committed)
    return [rec.value for batch in batches for rec in batch if rec.value]


def _transactional(bootstrap: str, txn_id: str) -> Producer:
    producer = kafka.producer(bootstrap, transactional_id=txn_id)
    producer.init_transactions(30)
    return producer


async def test_catalogue_topics_keep_their_configs(kafka_bootstrap: str, topic_prefix: str) -> None:
    created = await create_topics(kafka_bootstrap, topic_prefix)
    assert sorted(created) == sorted(t.named(topic_prefix) for t in CATALOGUE)

    state = _topic_configs(kafka_bootstrap, STATE.named(topic_prefix))
    assert state["cleanup.policy"] == "compact"
    events = _topic_configs(kafka_bootstrap, EVENTS.named(topic_prefix))
    assert events["cleanup.policy"] == "delete"
    assert events["retention.ms"] == "-1"
    assert events["retention.bytes"] == "-1"
    assert events["min.insync.replicas"] == "1"  # one broker: 1/1

    admin = kafka.admin(kafka_bootstrap)
    assert kafka.count_partitions(admin, EVENTS.named(topic_prefix)) == EVENTS.partitions
    # A second run creates nothing and changes nothing.
    assert await create_topics(kafka_bootstrap, topic_prefix) == []


async def test_a_replication_factor_larger_than_the_cluster_is_refused_and_says_so(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    with pytest.raises(
        StartError, match=r"^replication factor 3 is larger than the cluster \(1 broker\)"
    ):
        await create_topics(kafka_bootstrap, f"{topic_prefix}rf3.", factor=3)
    topics = kafka.admin(kafka_bootstrap).list_topics(timeout=30).topics
    assert not [t for t in topics if t.startswith(f"{topic_prefix}rf3.")]


def test_idempotent_producer_round_trips(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}roundtrip"
    _new_topic(kafka_bootstrap, topic)
    producer = kafka.producer(kafka_bootstrap)
    sent = [f"event-{i}".encode() for i in range(200)]
    for value in sent:
        producer.produce(topic, value, b"user-18")
    assert producer.flush(30) == 0
    assert _read_all(kafka_bootstrap, topic, committed=False) == sent


def test_transactions_commit_and_abort(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}txn"
    _new_topic(kafka_bootstrap, topic)
    producer = _transactional(kafka_bootstrap, f"{topic_prefix}txn-{uuid.uuid4().hex}")
    producer.begin_transaction()
    producer.produce(topic, b"committed-1")
    producer.produce(topic, b"committed-2")
    producer.commit_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, b"aborted")
    producer.flush(30)
    producer.abort_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, b"committed-3")
    producer.commit_transaction(30)

    committed = _read_all(kafka_bootstrap, topic, committed=True)
    assert committed == [b"committed-1", b"committed-2", b"committed-3"]
    everything = _read_all(kafka_bootstrap, topic, committed=False)
    assert b"aborted" in everything


def test_second_producer_with_same_transactional_id_fences_first(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}fence"
    _new_topic(kafka_bootstrap, topic)
    txn_id = f"{topic_prefix}fenced-{uuid.uuid4().hex}"
    old = _transactional(kafka_bootstrap, txn_id)
    old.begin_transaction()
    old.produce(topic, b"from-old-before-fence")
    old.flush(30)
    new = _transactional(kafka_bootstrap, txn_id)  # bumps the epoch, aborts old's transaction
    new.begin_transaction()
    new.produce(topic, b"from-new")
    new.commit_transaction(30)
    with pytest.raises(KafkaException) as fenced:
        old.produce(topic, b"from-old-after-fence")
        old.commit_transaction(30)
    assert fenced.value.args[0].code() in {KafkaError._FENCED, KafkaError.PRODUCER_FENCED}
    assert _read_all(kafka_bootstrap, topic, committed=True) == [b"from-new"]


async def test_redis_set_get(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        key = f"podium:test:{uuid.uuid4().hex}"
        assert await client.set(key, "750")
        assert await client.get(key) == b"750"
        assert await client.delete(key) == 1
    finally:
        await client.aclose()
