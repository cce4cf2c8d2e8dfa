"""The lag sampler's reads (`processors.runtime.lag.BrokerOffsets`) on the real broker: a
group's committed offsets (a partition never committed is absent), each partition's first
offset (above 0 once records are deleted) and its read_committed end, the last stable offset
(after a committed transaction's marker; at the first record of a transaction still open)."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import TopicPartition

from processors.runtime import kafka
from processors.runtime.lag import BrokerOffsets, Offsets, records_behind
from tests.integration.test_kafka_adapter import new_topic

pytestmark = pytest.mark.integration


async def test_committed_first_and_stable_end_offsets(kafka_bootstrap: str) -> None:
    topic, group = new_topic(kafka_bootstrap, 3, "lag"), f"lag-group-{uuid.uuid4().hex[:8]}"
    producer = kafka.producer(kafka_bootstrap, transactional_id=f"lag-{uuid.uuid4().hex[:8]}")
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(5):  # partition 0: offsets 0-4, the commit marker 5
        producer.produce(topic, b"%d" % i, b"k", 0)
    for i in range(2):  # partition 1: offsets 0-1, the commit marker 2
        producer.produce(topic, b"%d" % i, b"k", 1)
    producer.commit_transaction(30)
    producer.begin_transaction()
    for i in range(3):  # partition 1: offsets 3-5 in a transaction left open
        producer.produce(topic, b"open %d" % i, b"k", 1)
    producer.flush(30)
    admin = kafka.admin(kafka_bootstrap)
    [deleted] = admin.delete_records([TopicPartition(topic, 0, 1)]).values()
    deleted.result(timeout=30)  # partition 0 now starts at 1
    committer = kafka.consumer(kafka_bootstrap, group)
    committer.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)
    committer.close()

    offsets = await BrokerOffsets(kafka_bootstrap)(group, topic, [0, 1, 2])

    assert offsets == Offsets(committed={0: 2}, starts={0: 1, 1: 0, 2: 0}, ends={0: 6, 1: 3, 2: 0})
    # 0: 6 - 2; 1: never committed, from its first offset 0 to the open transaction at 3
    assert records_behind(offsets, [0, 1, 2]) == {0: 4, 1: 3, 2: 0}
    producer.abort_transaction(30)
